//! The CloudFormation template, generated from the same distribution config `serve` runs: the
//! bucket behind Origin Access Control, the sites' tables with their global replicas, least-privilege
//! roles, the functions and their numbered versions, the cache and origin request policies, and
//! the distribution with its behaviors and function associations.

use std::collections::BTreeMap;

use edge_functions::data::TableSpec;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::config::{
    Behavior, CachePolicy, DistributionConfig, OriginKind, OriginRequestPolicy, QueryStrings,
    TableAccess,
};

/// The Python runtime the functions run on (Lambda@Edge runs only Node.js and Python).
pub const RUNTIME: &str = "python3.13";

/// The handler of a trigger's function in the extension module the package ships.
pub fn handler(trigger: edge_functions::EventType) -> String {
    format!("edgekit.{}", trigger.as_str().replace('-', "_"))
}

/// The file `package` writes beside the zips, naming what it built.
pub const PACKAGES_FILE: &str = "packages.json";

/// What `package` built for each function (by function name): the zip, named after its content
/// so that each build is a new S3 key, and the content's SHA-256.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Packages(pub BTreeMap<String, Package>);

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Package {
    /// The zip's file name, which is its S3 key.
    pub key: String,
    pub sha256: String,
    pub bytes: u64,
    /// How its extension module was built: the std (`lean`, without the backtrace symbolizer,
    /// or `shipped`) and the `rustc -V` that built it, or `given: <path>` for a module passed to
    /// `package`. Sizes are compared per build by `benches/guard`.
    #[serde(default)]
    pub module: String,
}

impl Packages {
    /// The logical id of a function's numbered version. It carries the code's hash: a stack
    /// update publishes a new version only when the `AWS::Lambda::Version` resource is new, so
    /// new code must mean a new logical id.
    pub fn version_id(&self, function: &str) -> String {
        match self.0.get(function) {
            Some(package) => format!(
                "{}Version{}",
                logical_id(function),
                &package.sha256[..12.min(package.sha256.len())]
            ),
            None => format!("{}Version", logical_id(function)),
        }
    }

    fn code_key(&self, function: &str) -> String {
        match self.0.get(function) {
            Some(package) => package.key.clone(),
            None => format!("{function}.zip"),
        }
    }
}

/// `alien-cards-viewer-request` → `AlienCardsViewerRequest`.
pub fn logical_id(name: &str) -> String {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn headers_config(headers: &[String]) -> Value {
    if headers.is_empty() {
        json!({"HeaderBehavior": "none"})
    } else {
        json!({"HeaderBehavior": "whitelist", "Headers": headers})
    }
}

fn cookies_config(cookies: &[String]) -> Value {
    if cookies.is_empty() {
        json!({"CookieBehavior": "none"})
    } else {
        json!({"CookieBehavior": "whitelist", "Cookies": cookies})
    }
}

fn query_config(query: &QueryStrings) -> Value {
    match query {
        QueryStrings::None => json!({"QueryStringBehavior": "none"}),
        QueryStrings::All => json!({"QueryStringBehavior": "all"}),
        QueryStrings::Only(names) => {
            json!({"QueryStringBehavior": "whitelist", "QueryStrings": names})
        }
    }
}

fn cache_policy(name: &str, policy: &CachePolicy) -> Value {
    // With caching off, CloudFront refuses anything in the cache key.
    let caching = policy.max_ttl > 0;
    let key = if caching {
        json!({
            "EnableAcceptEncodingGzip": true,
            "EnableAcceptEncodingBrotli": true,
            "HeadersConfig": headers_config(&policy.headers),
            "CookiesConfig": cookies_config(&policy.cookies),
            "QueryStringsConfig": query_config(&policy.query_strings),
        })
    } else {
        json!({
            "EnableAcceptEncodingGzip": false,
            "EnableAcceptEncodingBrotli": false,
            "HeadersConfig": {"HeaderBehavior": "none"},
            "CookiesConfig": {"CookieBehavior": "none"},
            "QueryStringsConfig": {"QueryStringBehavior": "none"},
        })
    };
    json!({
        "Type": "AWS::CloudFront::CachePolicy",
        "Properties": {"CachePolicyConfig": {
            "Name": {"Fn::Sub": format!("${{AWS::StackName}}-{name}")},
            "MinTTL": policy.min_ttl,
            "DefaultTTL": policy.default_ttl,
            "MaxTTL": policy.max_ttl,
            "ParametersInCacheKeyAndForwardedToOrigin": key,
        }}
    })
}

fn origin_request_policy(
    name: &str,
    policy: &OriginRequestPolicy,
    cache: Option<&CachePolicy>,
) -> Value {
    // What the cache key does not forward when caching is off must be forwarded here.
    let mut headers = policy.headers.clone();
    let mut cookies = policy.cookies.clone();
    if let Some(cache) = cache.filter(|c| c.max_ttl == 0) {
        headers.extend(cache.headers.iter().cloned());
        cookies.extend(cache.cookies.iter().cloned());
    }
    let cookies = if cookies.is_empty() {
        json!({"CookieBehavior": "none"})
    } else {
        json!({"CookieBehavior": "whitelist", "Cookies": cookies})
    };
    json!({
        "Type": "AWS::CloudFront::OriginRequestPolicy",
        "Properties": {"OriginRequestPolicyConfig": {
            "Name": {"Fn::Sub": format!("${{AWS::StackName}}-{name}")},
            "HeadersConfig": if headers.is_empty() { json!({"HeaderBehavior": "none"}) } else { json!({"HeaderBehavior": "whitelist", "Headers": headers}) },
            "CookiesConfig": cookies,
            "QueryStringsConfig": query_config(&policy.query_strings),
        }}
    })
}

/// One origin as CloudFront's `Origins` list has it.
fn origin(o: &crate::config::OriginConfig) -> Value {
    let http = o.protocol.as_deref() == Some("http");
    match o.kind {
        OriginKind::S3 => json!({
            "Id": o.id,
            "DomainName": {"Fn::GetAtt": ["OriginBucket", "RegionalDomainName"]},
            "S3OriginConfig": {"OriginAccessIdentity": ""},
            "OriginAccessControlId": {"Fn::GetAtt": ["OriginAccessControl", "Id"]}
        }),
        OriginKind::Custom => json!({
            "Id": o.id,
            "DomainName": o.domain_name,
            "OriginPath": o.origin_path,
            "CustomOriginConfig": {
                "OriginProtocolPolicy": if http { "http-only" } else { "https-only" },
                "HTTPPort": if http { o.port.unwrap_or(80) } else { 80 },
                "HTTPSPort": if http { 443 } else { o.port.unwrap_or(443) },
                "OriginReadTimeout": o.read_timeout_secs.clamp(1, 120)
            }
        }),
    }
}

fn behavior(behavior: &Behavior, packages: &Packages) -> Value {
    let mut b = Map::new();
    if let Some(pattern) = &behavior.path_pattern {
        b.insert("PathPattern".into(), json!(pattern.get_ref()));
    }
    b.insert("TargetOriginId".into(), json!(behavior.origin.get_ref()));
    b.insert(
        "ViewerProtocolPolicy".into(),
        json!(behavior.viewer_protocol_policy.as_str()),
    );
    b.insert("Compress".into(), json!(true));
    b.insert("AllowedMethods".into(), json!(behavior.methods()));
    b.insert("CachedMethods".into(), json!(["GET", "HEAD"]));
    b.insert(
        "CachePolicyId".into(),
        json!({"Ref": format!("CachePolicy{}", logical_id(behavior.cache_policy.get_ref()))}),
    );
    if let Some(policy) = &behavior.origin_request_policy {
        b.insert(
            "OriginRequestPolicyId".into(),
            json!({"Ref": format!("OriginRequestPolicy{}", logical_id(policy.get_ref()))}),
        );
    }
    let associations: Vec<Value> = behavior
        .functions
        .iter()
        .map(|a| {
            let a = a.get_ref();
            let mut association = json!({
                "EventType": a.event.as_str(),
                "LambdaFunctionARN": {"Ref": packages.version_id(&a.function)},
            });
            if a.include_body {
                association["IncludeBody"] = json!(true);
            }
            association
        })
        .collect();
    if !associations.is_empty() {
        b.insert("LambdaFunctionAssociations".into(), json!(associations));
    }
    Value::Object(b)
}

/// The whole template.
/// The stack for `config`, with the code of the functions as `package` built it (`packages`; an
/// empty one gives `<function>.zip` keys and versions that do not follow the code).
/// `tables` are each function's site's tables, by the config's `site`.
/// `sign_ins` are the sites' sign-in blocks: the URLs their app clients must list are outputs.
pub fn template(
    config: &DistributionConfig,
    packages: &Packages,
    tables: &std::collections::HashMap<String, Vec<TableSpec>>,
    sign_ins: &[edge_functions::blocks::sign_in::AppClientUrls],
) -> Value {
    let mut resources = Map::new();
    let replicas = config.data.replica_regions();
    let replicas = if replicas.is_empty() {
        vec!["us-east-1".to_owned()]
    } else {
        replicas
    };

    resources.insert(
        "OriginBucket".into(),
        json!({
            "Type": "AWS::S3::Bucket",
            "Properties": {
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": true, "BlockPublicPolicy": true,
                    "IgnorePublicAcls": true, "RestrictPublicBuckets": true
                },
                "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                ]},
                "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
            }
        }),
    );
    resources.insert(
        "OriginAccessControl".into(),
        json!({
            "Type": "AWS::CloudFront::OriginAccessControl",
            "Properties": {"OriginAccessControlConfig": {
                "Name": {"Fn::Sub": "${AWS::StackName}-s3"},
                "OriginAccessControlOriginType": "s3",
                "SigningBehavior": "always",
                "SigningProtocol": "sigv4"
            }}
        }),
    );
    resources.insert(
        "OriginBucketPolicy".into(),
        json!({
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {
                "Bucket": {"Ref": "OriginBucket"},
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Sid": "OnlyThisDistributionReads",
                        "Effect": "Allow",
                        "Principal": {"Service": "cloudfront.amazonaws.com"},
                        "Action": "s3:GetObject",
                        "Resource": {"Fn::Sub": "${OriginBucket.Arn}/*"},
                        "Condition": {"StringEquals": {
                            "AWS:SourceArn": {"Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${Distribution}"}
                        }}
                    }]
                }
            }
        }),
    );
    // Each table once, however many sites use it.
    let mut all_tables: std::collections::BTreeMap<&str, &TableSpec> = Default::default();
    tables.values().flatten().for_each(|t| {
        all_tables.entry(t.table_name.as_str()).or_insert(t);
    });
    for table in all_tables.values() {
        resources.insert(
            format!("{}Table", logical_id(&table.table_name)),
            json!({
                "Type": "AWS::DynamoDB::GlobalTable",
                "Properties": {
                    "TableName": table.table_name,
                    "BillingMode": "PAY_PER_REQUEST",
                    "AttributeDefinitions": [{"AttributeName": table.key, "AttributeType": "S"}],
                    "KeySchema": [{"AttributeName": table.key, "KeyType": "HASH"}],
                    "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
                    "Replicas": replicas.iter().map(|r| json!({"Region": r})).collect::<Vec<_>>()
                }
            }),
        );
    }

    let mut parameters = Map::new();
    parameters.insert(
        "CodeBucket".into(),
        json!({"Type": "String", "Description": "The S3 bucket (in us-east-1) holding the function packages"}),
    );
    for function in config.functions.iter().map(|f| f.get_ref()) {
        let id = logical_id(&function.name);
        parameters.insert(
            format!("{id}CodeKey"),
            json!({"Type": "String", "Default": packages.code_key(&function.name),
                   "Description": format!("The package of {} in CodeBucket", function.name)}),
        );
        let mut statements = vec![json!({
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            // Lambda@Edge writes its logs in the Region where each replica ran.
            "Resource": {"Fn::Sub": format!("arn:${{AWS::Partition}}:logs:*:${{AWS::AccountId}}:log-group:/aws/lambda/us-east-1.{}:*", function.name)}
        })];
        let actions: &[&str] = match function.table_access {
            TableAccess::None => &[],
            TableAccess::Read => &["dynamodb:GetItem", "dynamodb:Scan"],
            TableAccess::ReadWrite => &["dynamodb:GetItem", "dynamodb:Scan", "dynamodb:UpdateItem"],
        };
        let site_tables = tables.get(&function.site).map(Vec::as_slice).unwrap_or(&[]);
        if !actions.is_empty() && !site_tables.is_empty() {
            statements.push(json!({
                "Effect": "Allow",
                "Action": actions,
                // Every replica: the function runs, and reads, in the Region nearest the viewer.
                "Resource": site_tables.iter().map(|t| json!({"Fn::Sub": format!("arn:${{AWS::Partition}}:dynamodb:*:${{AWS::AccountId}}:table/{}", t.table_name)})).collect::<Vec<_>>()
            }));
        }
        resources.insert(
            format!("{id}Role"),
            json!({
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [{
                            "Effect": "Allow",
                            "Principal": {"Service": ["lambda.amazonaws.com", "edgelambda.amazonaws.com"]},
                            "Action": "sts:AssumeRole"
                        }]
                    },
                    "Policies": [{
                        "PolicyName": "least-privilege",
                        "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}
                    }]
                }
            }),
        );
        resources.insert(
            id.clone(),
            json!({
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "FunctionName": function.name,
                    "Description": format!("{} for site {}", function.trigger, function.site),
                    "Runtime": RUNTIME,
                    "Architectures": ["x86_64"],
                    "Handler": handler(function.trigger),
                    "MemorySize": function.memory_mb,
                    "Timeout": function.timeout_secs,
                    "Role": {"Fn::GetAtt": [format!("{id}Role"), "Arn"]},
                    "Code": {"S3Bucket": {"Ref": "CodeBucket"}, "S3Key": {"Ref": format!("{id}CodeKey")}}
                }
            }),
        );
        // Kept when replaced: CloudFront may still run the old version at the edge while the
        // distribution update spreads, and a replicated version cannot be deleted for hours.
        resources.insert(
            packages.version_id(&function.name),
            json!({
                "Type": "AWS::Lambda::Version",
                "DeletionPolicy": "Retain",
                "UpdateReplacePolicy": "Retain",
                "Properties": {"FunctionName": {"Ref": id}}
            }),
        );
    }

    for (name, policy) in &config.cache_policies {
        resources.insert(
            format!("CachePolicy{}", logical_id(name)),
            cache_policy(name, policy),
        );
    }
    for (name, policy) in &config.origin_request_policies {
        // The cache policy used beside it, so that a disabled cache still forwards its keys.
        let cache = config
            .behaviors_in_order()
            .find(|b| {
                b.origin_request_policy
                    .as_ref()
                    .is_some_and(|p| p.get_ref() == name)
            })
            .and_then(|b| config.cache_policies.get(b.cache_policy.get_ref()));
        resources.insert(
            format!("OriginRequestPolicy{}", logical_id(name)),
            origin_request_policy(name, policy, cache),
        );
    }

    let origins: Vec<Value> = config
        .origins
        .iter()
        .map(|o| o.get_ref())
        .map(|o| {
            let mut origin = origin(o);
            origin["ConnectionAttempts"] = json!(o.connection_attempts);
            origin["ConnectionTimeout"] = json!(o.connection_timeout_secs);
            if !o.custom_headers.is_empty() {
                origin["OriginCustomHeaders"] = o
                    .custom_headers
                    .iter()
                    .map(|(name, value)| json!({"HeaderName": name, "HeaderValue": value}))
                    .collect();
            }
            origin
        })
        .collect();
    let behaviors: Vec<Value> = config
        .behaviors
        .iter()
        .map(|b| behavior(b.get_ref(), packages))
        .collect();
    let mut distribution = json!({
        "Enabled": true,
        "Comment": config.distribution.comment,
        "HttpVersion": "http2and3",
        "IPV6Enabled": true,
        "PriceClass": "PriceClass_100",
        "Origins": origins,
        "DefaultCacheBehavior": behavior(config.default_behavior.get_ref(), packages),
        "CacheBehaviors": behaviors,
    });
    if let Some(root) = &config.distribution.default_root_object {
        distribution["DefaultRootObject"] = json!(root);
    }
    if !config.origin_groups.is_empty() {
        let groups: Vec<Value> = config
            .origin_groups
            .iter()
            .map(|g| g.get_ref())
            .map(|g| {
                json!({
                    "Id": g.id,
                    "FailoverCriteria": {"StatusCodes": {
                        "Quantity": g.failover_statuses.len(),
                        "Items": g.failover_statuses,
                    }},
                    "Members": {
                        "Quantity": 2,
                        "Items": [{"OriginId": g.primary}, {"OriginId": g.secondary}],
                    },
                })
            })
            .collect();
        distribution["OriginGroups"] = json!({"Quantity": groups.len(), "Items": groups});
    }
    // CloudFront keeps errors 10 s unless a custom error response for the code says otherwise.
    if config.distribution.error_caching_min_ttl != 10 {
        distribution["CustomErrorResponses"] = crate::cache::CACHEABLE_ERRORS
            .iter()
            .map(|code| {
                json!({"ErrorCode": code, "ErrorCachingMinTTL": config.distribution.error_caching_min_ttl})
            })
            .collect();
    }
    resources.insert(
        "Distribution".into(),
        json!({"Type": "AWS::CloudFront::Distribution", "Properties": {"DistributionConfig": distribution}}),
    );

    let mut outputs = Map::new();
    outputs.insert(
        "DistributionDomainName".into(),
        json!({"Value": {"Fn::GetAtt": ["Distribution", "DomainName"]}}),
    );
    outputs.insert(
        "DistributionId".into(),
        json!({"Value": {"Ref": "Distribution"}}),
    );
    outputs.insert(
        "OriginBucketName".into(),
        json!({"Value": {"Ref": "OriginBucket"}}),
    );
    for table in all_tables.values() {
        let id = format!("{}Table", logical_id(&table.table_name));
        outputs.insert(format!("{id}Name"), json!({"Value": {"Ref": id}}));
    }
    // Cognito accepts a redirect only to a URL its app client lists: these are the
    // distribution's, to add to the client's callback and sign-out URLs.
    for client in sign_ins {
        let id = logical_id(&client.block);
        let register = |what: &str| {
            format!(
                "Add to the {what} URLs of app client {} in user pool {}",
                client.client_id, client.user_pool_id
            )
        };
        outputs.insert(
            format!("{id}CallbackUrl"),
            json!({
                "Description": register("callback"),
                "Value": {"Fn::Sub": format!("https://${{Distribution.DomainName}}{}", client.callback_path)}
            }),
        );
        outputs.insert(
            format!("{id}SignOutUrl"),
            json!({
                "Description": register("sign-out"),
                "Value": {"Fn::Sub": format!("https://${{Distribution.DomainName}}{}", client.signed_out_path)}
            }),
        );
    }
    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": format!("{}: CloudFront, S3 origin, Lambda@Edge functions and the sites' tables (generated by edgekit template)", config.distribution.comment),
        "Parameters": parameters,
        "Rules": {
            "LambdaEdgeRegion": {
                "Assertions": [{
                    "Assert": {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]},
                    "AssertDescription": "Lambda@Edge functions must be created in us-east-1"
                }]
            }
        },
        "Resources": resources,
        "Outputs": outputs
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logical_ids_are_alphanumeric() {
        assert_eq!(
            logical_id("alien-cards-viewer-request"),
            "AlienCardsViewerRequest"
        );
        assert_eq!(logical_id("device-assets"), "DeviceAssets");
    }
}
