//! A cache miss: origin-request, the origin, origin-response, and the answer kept as
//! CloudFront's TTL rules say; shared by the requests that wait on it.

use super::*;

/// The body as Include Body exposes it: base64, truncated at the trigger's limit.
pub(super) fn event_body(body: &Bytes, trigger: EventType) -> Option<RequestBody> {
    if body.is_empty() {
        return None;
    }
    let limit = limits::request_body_bytes(trigger);
    let shown = &body[..body.len().min(limit)];
    Some(RequestBody {
        input_truncated: body.len() > limit,
        action: BodyAction::ReadOnly,
        encoding: BodyEncoding::Base64,
        data: base64::engine::general_purpose::STANDARD.encode(shown),
        extra: Default::default(),
    })
}

pub(super) fn raw_bytes(body: &RequestBody) -> Bytes {
    match body.encoding {
        BodyEncoding::Text => Bytes::from(body.data.clone()),
        BodyEncoding::Base64 => base64::engine::general_purpose::STANDARD
            .decode(&body.data)
            .map(Bytes::from)
            .unwrap_or_default(),
    }
}

/// Keeps the original body unless the function replaced it (`action: replace`).
pub(super) fn apply_body(mut edited: Request, before: &Request) -> Request {
    match &edited.body {
        Some(body) if body.action == BodyAction::Replace => {}
        _ => edited.body = before.body.clone(),
    }
    edited
}

pub(super) fn decode_body(body: &str, encoding: Option<BodyEncoding>) -> Bytes {
    match encoding.unwrap_or(BodyEncoding::Text) {
        BodyEncoding::Text => Bytes::from(body.to_owned()),
        BodyEncoding::Base64 => base64::engine::general_purpose::STANDARD
            .decode(body)
            .map(Bytes::from)
            .unwrap_or_default(),
    }
}

impl Distribution {
    /// The cache miss path, shared by concurrent misses for one key.
    pub(super) async fn miss(
        &self,
        behavior: &ResolvedBehavior,
        viewer_request: Request,
        request_id: &str,
        key: &str,
        viewer_body: Bytes,
    ) -> Arc<MissOutcome> {
        let mut log = RequestLog::default();
        let mut function_failed = false;
        // The primary, then (origin groups) the secondary when the primary fails for a method
        // CloudFront fails over.
        let mut origins = vec![behavior.origin.as_str()];
        if let Some(failover) = &behavior.failover
            && FAILOVER_METHODS.contains(&viewer_request.method.as_str())
        {
            origins.push(failover.secondary.as_str());
        }
        let mut request = viewer_request.clone();
        let response = 'fetch: {
            let mut answered = None;
            for (attempt, origin_id) in origins.iter().enumerate() {
                let last = attempt + 1 == origins.len();
                request =
                    self.origin_request(behavior, origin_id, viewer_request.clone(), &viewer_body);
                // Origin-request runs for each origin tried, with that origin in the event.
                if let Some(association) = behavior.functions.get(&EventType::OriginRequest) {
                    let cf = self.cf(EventType::OriginRequest, request_id, request.clone(), None);
                    match self.call(association, cf, &mut log).await {
                        Ok(FunctionResult::Request(edited)) => {
                            request = apply_body(edited, &request);
                        }
                        Ok(FunctionResult::Response(generated)) => {
                            // Cached like an origin answer; origin-response does not run.
                            let mut response = generated_response(generated);
                            set_header(
                                &mut response.headers,
                                "X-Cache",
                                "LambdaGeneratedResponse from cloudfront",
                            );
                            break 'fetch response;
                        }
                        Err(failure) => {
                            function_failed = true;
                            break 'fetch self.function_failed(failure, &mut log);
                        }
                    }
                }
                let body = match &request.body {
                    Some(b) if b.action == BodyAction::Replace => raw_bytes(b),
                    _ => viewer_body.clone(),
                };
                log.origin = self.origin_name(request.origin.as_ref());
                let failover_statuses = behavior.failover.as_ref().map(|f| &f.statuses);
                match self.fetch_origin(origin_id, &request, body).await {
                    Ok(origin)
                        if !last
                            && failover_statuses.is_some_and(|s| s.contains(&origin.status)) =>
                    {
                        log.failed_over =
                            Some(format!("{} answered {}", log.origin, origin.status));
                    }
                    Ok(origin) => {
                        answered = Some(origin);
                        break;
                    }
                    Err(err) if !last => {
                        tracing::warn!("{err}; failing over");
                        log.failed_over = Some(format!("{}: {err}", log.origin));
                    }
                    Err(err) => {
                        tracing::warn!("{err}");
                        log.error = Some(err.to_string());
                        break 'fetch match err {
                            crate::origin::OriginError::Timeout(..) => edge_error(
                                504,
                                "CloudFront attempted to establish a connection with the origin, \
                                 but either the attempt failed or the origin closed the connection.",
                                "Error",
                            ),
                            _ => edge_error(
                                502,
                                "CloudFront wasn't able to connect to the origin.",
                                "Error",
                            ),
                        };
                    }
                }
            }
            let Some(mut response) = answered else {
                unreachable!("the last origin tried answers or breaks out")
            };
            if let Some(association) = behavior.functions.get(&EventType::OriginResponse) {
                let event_response = response.event_response();
                let cf = self.cf(
                    EventType::OriginResponse,
                    request_id,
                    request.clone(),
                    Some(event_response),
                );
                match self.call(association, cf, &mut log).await {
                    Ok(FunctionResult::Response(updated)) => {
                        let body = updated.body.clone();
                        let encoding = updated.body_encoding;
                        response.status = updated.status_code().unwrap_or(response.status);
                        response.headers = updated.headers;
                        if let Some(body) = body {
                            response.body = decode_body(&body, encoding);
                        }
                    }
                    Ok(FunctionResult::Request(_)) => {
                        unreachable!("the validator refuses a request here")
                    }
                    Err(failure) => {
                        function_failed = true;
                        break 'fetch self.function_failed(failure, &mut log);
                    }
                }
            }
            set_header(&mut response.headers, "X-Cache", "Miss from cloudfront");
            response
        };
        if matches!(request.method.as_str(), "GET" | "HEAD") && !function_failed {
            let ttl = cache::ttl(
                &behavior.cache_policy,
                &response,
                self.config.distribution.error_caching_min_ttl,
            );
            self.cache.put(key, Arc::new(response.clone()), ttl);
        }
        Arc::new(MissOutcome {
            response,
            function_failed,
            log,
        })
    }

    /// The request as it goes to the origin (and to origin-request): only what the policies
    /// forward, with the origin's host, `via` and `x-forwarded-for`.
    pub(super) fn origin_request(
        &self,
        behavior: &ResolvedBehavior,
        origin_id: &str,
        mut request: Request,
        viewer_body: &Bytes,
    ) -> Request {
        let cache = &behavior.cache_policy;
        let origin_policy = behavior.origin_request_policy.clone().unwrap_or_default();
        let forwarded_headers: Vec<String> = cache
            .headers
            .iter()
            .chain(origin_policy.headers.iter())
            .map(|h| h.to_ascii_lowercase())
            .collect();
        let forwarded_cookies: Vec<&String> = cache
            .cookies
            .iter()
            .chain(origin_policy.cookies.iter())
            .collect();
        let mut headers = Headers::new();
        for (name, entries) in request.headers.iter() {
            if forwarded_headers.contains(name)
                || name == "user-agent"
                || name == "content-type"
                || name == "content-length"
            {
                headers.0.insert(name.clone(), entries.clone());
            }
        }
        let cookies: Vec<String> = request
            .headers
            .get_all("cookie")
            .flat_map(|h| h.split(';'))
            .map(str::trim)
            .filter(|pair| {
                let name = pair.split('=').next().unwrap_or("");
                forwarded_cookies.iter().any(|c| c.as_str() == name)
            })
            .map(str::to_owned)
            .collect();
        if !cookies.is_empty() {
            headers.set("Cookie", cookies.join("; "));
        }
        let query_policy = match (&cache.query_strings, &origin_policy.query_strings) {
            (QueryStrings::All, _) | (_, QueryStrings::All) => QueryStrings::All,
            (QueryStrings::Only(a), QueryStrings::Only(b)) => {
                QueryStrings::Only(a.iter().chain(b).cloned().collect())
            }
            (QueryStrings::Only(a), QueryStrings::None)
            | (QueryStrings::None, QueryStrings::Only(a)) => QueryStrings::Only(a.clone()),
            (QueryStrings::None, QueryStrings::None) => QueryStrings::None,
        };
        request.querystring = cache::select_query(&query_policy, &request.querystring);
        let origin = self.config.origin(origin_id).expect("resolved at start");
        headers.set("Host", origin.domain_name.as_str());
        let mut custom_headers = Headers::new();
        for (name, value) in &origin.custom_headers {
            custom_headers.set(name, value.as_str());
        }
        headers.set("Via", format!("2.0 {POP}.cloudfront.net (CloudFront)"));
        headers.set("X-Forwarded-For", request.client_ip.as_str());
        request.headers = headers;
        request.origin = Some(match origin.kind {
            OriginKind::S3 => Origin::S3(S3Origin {
                auth_method: "none".into(),
                domain_name: origin.domain_name.clone(),
                path: origin.origin_path.clone(),
                region: Some("us-east-1".into()),
                custom_headers,
                ..Default::default()
            }),
            OriginKind::Custom => Origin::Custom(CustomOrigin {
                domain_name: origin.domain_name.clone(),
                port: origin.port.unwrap_or(80),
                protocol: origin.protocol.clone().unwrap_or_else(|| "http".into()),
                path: origin.origin_path.clone(),
                read_timeout: Some(origin.read_timeout_secs as u32),
                keepalive_timeout: Some(5),
                ssl_protocols: Some(vec!["TLSv1.2".into()]),
                custom_headers,
                ..Default::default()
            }),
        });
        // The body reaches origin-request only with Include Body (and a replacement made in
        // viewer-request stands in for the viewer's).
        let include = behavior
            .functions
            .get(&EventType::OriginRequest)
            .is_some_and(|a| a.include_body);
        let replaced = request
            .body
            .take()
            .filter(|b| b.action == BodyAction::Replace)
            .map(|b| raw_bytes(&b));
        let body = replaced.as_ref().unwrap_or(viewer_body);
        request.body = if include {
            event_body(body, EventType::OriginRequest)
        } else {
            None
        };
        request
    }

    /// The config's origin of this kind and domain name (a function may send a request to any
    /// origin; those the config declares are reached, and logged, as it says).
    fn declared_origin(
        &self,
        kind: OriginKind,
        domain: &str,
    ) -> Option<&crate::config::OriginConfig> {
        self.config
            .origins
            .iter()
            .map(|o| o.get_ref())
            .find(|o| o.kind == kind && o.domain_name == domain)
    }

    /// The name the request log gives the request's origin: its id in the config, else its
    /// domain.
    pub(super) fn origin_name(&self, origin: Option<&Origin>) -> String {
        let (domain, kind) = match origin {
            Some(Origin::S3(s3)) => (&s3.domain_name, OriginKind::S3),
            Some(Origin::Custom(custom)) => (&custom.domain_name, OriginKind::Custom),
            None => return String::new(),
        };
        self.declared_origin(kind, domain)
            .map_or_else(|| domain.clone(), |o| o.id.clone())
    }

    pub(super) async fn fetch_origin(
        &self,
        origin_id: &str,
        request: &Request,
        body: Bytes,
    ) -> Result<HttpResponse, crate::origin::OriginError> {
        let timeout = Duration::from_secs(
            self.config
                .origin(origin_id)
                .map(|o| o.read_timeout_secs)
                .unwrap_or(30),
        );
        match &request.origin {
            Some(Origin::S3(s3)) => match self.s3.get(&s3.domain_name) {
                Some(bucket) => Ok(bucket
                    .fetch(&request.method, &format!("{}{}", s3.path, request.uri))
                    .await),
                None => Err(crate::origin::OriginError::Unreachable(
                    s3.domain_name.clone(),
                    "no bucket of that name is served locally".into(),
                )),
            },
            Some(Origin::Custom(custom)) => {
                let query = if request.querystring.is_empty() {
                    String::new()
                } else {
                    format!("?{}", request.querystring)
                };
                let local = self.declared_origin(OriginKind::Custom, &custom.domain_name);
                let address = match local.and_then(|o| o.local_address.clone()) {
                    Some(address) => address,
                    None if custom.protocol == "https" => {
                        return Err(crate::origin::OriginError::Unreachable(
                            custom.domain_name.clone(),
                            "the local distribution reaches custom origins over plain HTTP: \
                             give this origin a `local_address` in the distribution config"
                                .into(),
                        ));
                    }
                    None => format!("{}:{}", custom.domain_name, custom.port),
                };
                // The origin's custom headers go with the request, over a viewer's copy.
                let mut headers = request.headers.clone();
                for (name, entries) in custom.custom_headers.iter() {
                    headers.0.insert(name.clone(), entries.clone());
                }
                local
                    .and_then(|o| self.http.get(&o.id))
                    .unwrap_or(&self.http_default)
                    .fetch(OriginRequest {
                        address,
                        path: format!("{}{}{query}", custom.path, request.uri),
                        method: &request.method,
                        headers: &headers,
                        body,
                        timeout: custom
                            .read_timeout
                            .map(|s| Duration::from_secs(u64::from(s)))
                            .unwrap_or(timeout),
                    })
                    .await
            }
            None => Err(crate::origin::OriginError::Unreachable(
                "(none)".into(),
                "the request has no origin".into(),
            )),
        }
    }
}
