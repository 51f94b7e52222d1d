//! The CloudFormation template: generated from the one distribution config, complete, least
//! privilege, and clean under cfn-lint (which `scripts/test` installs and names in `CFN_LINT`).

use std::path::Path;

use cloudfront::DistributionConfig;
use cloudfront::template::{Package, Packages, logical_id, template};
use serde_json::Value;

fn shipped() -> DistributionConfig {
    DistributionConfig::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("cloudfront/distribution.toml"),
    )
    .unwrap()
}

type Tables = std::collections::HashMap<String, Vec<edge_functions::data::TableSpec>>;

/// Each site's tables, as `template` reads them from the declarations (shipped config).
fn tables(config: &DistributionConfig) -> Tables {
    tables_at(
        config,
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("cloudfront/distribution.toml"),
    )
}

/// The tables of the sites of the config at `path`.
fn tables_at(config: &DistributionConfig, path: &Path) -> Tables {
    let loaded = cloudfront::distribution::load_sites(
        config,
        path,
        &edge_functions::site::Registry::builtin(),
        None,
    )
    .unwrap();
    loaded
        .tables
        .into_iter()
        .map(|(site, tables)| (site, tables.into_iter().map(|t| t.spec).collect()))
        .collect()
}

/// What `package` would report, with a made-up hash per function and `build`.
fn built(config: &DistributionConfig, build: &str) -> Packages {
    Packages(
        config
            .functions
            .iter()
            .map(|f| {
                let name = f.get_ref().name.clone();
                let sha256 = format!("{build}{:0>63}", name.len());
                let package = Package {
                    key: format!("{name}-{}.zip", &sha256[..12]),
                    sha256,
                    bytes: 1000,
                    module: "shipped std (rustc test)".to_owned(),
                };
                (name, package)
            })
            .collect(),
    )
}

/// A stack update publishes a new numbered version only for a new `AWS::Lambda::Version`
/// resource: new code must give a new logical id and a new S3 key, and the old version stays.
#[test]
fn new_code_is_a_new_key_and_a_new_retained_version() {
    let config = shipped();
    let (first, second) = (built(&config, "a"), built(&config, "b"));
    let (t1, t2) = (
        template(&config, &first, &tables(&config), &[]),
        template(&config, &second, &tables(&config), &[]),
    );
    for function in config.functions.iter().map(|f| f.get_ref()) {
        let id = logical_id(&function.name);
        let (v1, v2) = (
            first.version_id(&function.name),
            second.version_id(&function.name),
        );
        assert_ne!(v1, v2);
        assert_eq!(t1["Resources"][&v1]["Type"], "AWS::Lambda::Version");
        assert_eq!(t1["Resources"][&v1]["DeletionPolicy"], "Retain");
        assert_eq!(t1["Resources"][&v1]["UpdateReplacePolicy"], "Retain");
        assert!(t2["Resources"].get(&v1).is_none());
        assert_eq!(
            t2["Parameters"][format!("{id}CodeKey")]["Default"],
            second.0[&function.name].key
        );
    }
    let untouched = template(&config, &Packages::default(), &tables(&config), &[]);
    let function = config.functions[0].get_ref();
    assert_eq!(
        untouched["Parameters"][format!("{}CodeKey", logical_id(&function.name))]["Default"],
        format!("{}.zip", function.name)
    );
}

#[test]
fn every_behavior_and_trigger_of_the_config_is_in_the_template() {
    let config = shipped();
    let t = template(&config, &built(&config, "a"), &tables(&config), &[]);
    let distribution = &t["Resources"]["Distribution"]["Properties"]["DistributionConfig"];
    let behaviors = distribution["CacheBehaviors"].as_array().unwrap();
    assert_eq!(behaviors.len(), config.behaviors.len());
    for (configured, generated) in config.behaviors.iter().zip(behaviors) {
        let configured = configured.get_ref();
        assert_eq!(
            generated["PathPattern"],
            configured.path_pattern.as_ref().unwrap().get_ref().as_str()
        );
        check_associations(configured, generated, &built(&config, "a"));
    }
    check_associations(
        config.default_behavior.get_ref(),
        &distribution["DefaultCacheBehavior"],
        &built(&config, "a"),
    );
    for function in config.functions.iter().map(|f| f.get_ref()) {
        let resource = &t["Resources"][logical_id(&function.name)];
        assert_eq!(resource["Type"], "AWS::Lambda::Function");
        assert_eq!(resource["Properties"]["Runtime"], "python3.13");
        assert_eq!(
            resource["Properties"]["Architectures"],
            serde_json::json!(["x86_64"])
        );
        if function.trigger.is_viewer() {
            assert!(resource["Properties"]["MemorySize"].as_u64().unwrap() <= 128);
            assert!(resource["Properties"]["Timeout"].as_u64().unwrap() <= 5);
        }
    }
}

fn check_associations(
    configured: &cloudfront::config::Behavior,
    generated: &Value,
    packages: &Packages,
) {
    let associations = generated["LambdaFunctionAssociations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(associations.len(), configured.functions.len());
    for (a, g) in configured
        .functions
        .iter()
        .map(|a| a.get_ref())
        .zip(&associations)
    {
        assert_eq!(g["EventType"], a.event.as_str());
        assert_eq!(
            g["LambdaFunctionARN"]["Ref"],
            packages.version_id(&a.function),
            "a numbered version"
        );
        assert_eq!(g["IncludeBody"].as_bool().unwrap_or(false), a.include_body);
    }
}

#[test]
fn roles_are_least_privilege_and_assumable_by_lambda_at_edge() {
    let config = shipped();
    let t = template(&config, &built(&config, "a"), &tables(&config), &[]);
    for function in config.functions.iter().map(|f| f.get_ref()) {
        let role = &t["Resources"][format!("{}Role", logical_id(&function.name))]["Properties"];
        let principals = &role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"];
        assert_eq!(
            principals,
            &serde_json::json!(["lambda.amazonaws.com", "edgelambda.amazonaws.com"])
        );
        let actions: Vec<String> = role["Policies"][0]["PolicyDocument"]["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["Action"].as_array().cloned().unwrap_or_default())
            .map(|a| a.as_str().unwrap().to_owned())
            .collect();
        let dynamodb: Vec<&String> = actions
            .iter()
            .filter(|a| a.starts_with("dynamodb:"))
            .collect();
        match function.trigger {
            edge_functions::EventType::OriginRequest => {
                assert_eq!(
                    dynamodb,
                    ["dynamodb:GetItem", "dynamodb:Scan", "dynamodb:UpdateItem"]
                )
            }
            _ => assert!(
                dynamodb.is_empty(),
                "{} needs no table access",
                function.name
            ),
        }
        assert!(
            !actions.iter().any(|a| a.contains('*')),
            "no wildcard actions: {actions:?}"
        );
    }
    let bucket_policy =
        &t["Resources"]["OriginBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0];
    assert_eq!(
        bucket_policy["Principal"]["Service"],
        "cloudfront.amazonaws.com"
    );
    assert!(bucket_policy["Condition"]["StringEquals"]["AWS:SourceArn"].is_object());
    // The table, its key and its name are the site's.
    let table = &t["Resources"]["AlienCardsTable"]["Properties"];
    assert_eq!(table["TableName"], "alien-cards");
    assert_eq!(table["KeySchema"][0]["AttributeName"], "CardId");
    let replicas = table["Replicas"].as_array().unwrap();
    assert_eq!(replicas.len(), config.data.replica_regions().len());
}

/// The docs site's members' area: the URLs its app client must list are the distribution's.
#[test]
fn the_sign_in_blocks_app_client_urls_are_outputs() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/docs-site/distribution.toml");
    let config = DistributionConfig::load(&path).unwrap();
    let registry = edge_functions::site::Registry::builtin();
    let sign_ins = cloudfront::distribution::app_client_urls(&config, &path, &registry).unwrap();
    assert_eq!(sign_ins.len(), 1);
    let t = template(
        &config,
        &Packages::default(),
        &tables_at(&config, &path),
        &sign_ins,
    );
    let outputs = &t["Outputs"];
    assert_eq!(
        outputs["MembersCallbackUrl"]["Value"]["Fn::Sub"],
        "https://${Distribution.DomainName}/auth/callback"
    );
    assert_eq!(
        outputs["MembersSignOutUrl"]["Value"]["Fn::Sub"],
        "https://${Distribution.DomainName}/"
    );
    let description = outputs["MembersCallbackUrl"]["Description"]
        .as_str()
        .unwrap();
    assert!(
        description.contains("northwinddocsmembers")
            && description.contains("us-east-1_NorthwindDocs"),
        "{description}"
    );
}

#[test]
fn cfn_lint_finds_no_error() {
    let Ok(cfn_lint) = std::env::var("CFN_LINT") else {
        eprintln!("SKIPPED: CFN_LINT is not set (scripts/test installs cfn-lint and sets it)");
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The example sites: Alien Cards, the docs site's own tables, behaviors and functions, the
    // Catalogue's custom origins with their headers and its custom error responses.
    for config_path in [
        root.join("cloudfront/distribution.toml"),
        root.join("examples/docs-site/distribution.toml"),
        root.join("examples/catalogue-site/distribution.toml"),
    ] {
        let config = DistributionConfig::load(&config_path).unwrap();
        let tables = tables_at(&config, &config_path);
        let registry = edge_functions::site::Registry::builtin();
        let sign_ins =
            cloudfront::distribution::app_client_urls(&config, &config_path, &registry).unwrap();
        let file = std::env::temp_dir().join(format!(
            "edgekit-template-{}-{}.json",
            config.distribution.comment.replace(' ', "-"),
            std::process::id()
        ));
        std::fs::write(
            &file,
            serde_json::to_string_pretty(&template(
                &config,
                &built(&config, "a"),
                &tables,
                &sign_ins,
            ))
            .unwrap(),
        )
        .unwrap();
        let output = std::process::Command::new(&cfn_lint)
            .arg(&file)
            .output()
            .unwrap();
        let _ = std::fs::remove_file(&file);
        assert!(
            output.status.success(),
            "cfn-lint on {}:\n{}{}",
            config_path.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
