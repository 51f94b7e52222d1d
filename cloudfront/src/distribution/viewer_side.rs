//! The viewer's side of a request: limits, the behavior, viewer-request, CloudFront's own
//! headers, the cache lookup; then viewer-response and what every answer gets on its way out.

use super::*;

/// What every answer gets on its way out: CloudFront's own headers, conditional requests, ranges,
/// and no body for HEAD.
pub(super) fn finish_for_viewer(
    viewer: &ViewerRequest,
    response: &mut HttpResponse,
    request_id: &str,
) {
    set_header(
        &mut response.headers,
        "Via",
        format!("1.1 {POP}.cloudfront.net (CloudFront)"),
    );
    set_header(&mut response.headers, "X-Amz-Cf-Pop", POP);
    set_header(&mut response.headers, "X-Amz-Cf-Id", request_id);
    if !response.headers.contains("x-cache") {
        set_header(&mut response.headers, "X-Cache", "Miss from cloudfront");
    }
    if response.status == 200 && matches!(viewer.method.as_str(), "GET" | "HEAD") {
        if not_modified(viewer, &response.headers) {
            response.status = 304;
            response.body = Bytes::new();
            for name in ["content-length", "content-type"] {
                response.headers.remove(name);
            }
            return;
        }
        if let Some(range) = viewer.header("range") {
            apply_range(range, response);
        }
    }
    if viewer.method == "HEAD" {
        set_header(
            &mut response.headers,
            "Content-Length",
            response.body.len().to_string(),
        );
        response.body = Bytes::new();
    }
}

/// CloudFront's answer to plain HTTP under `redirect-to-https`: a 301 to the same host, path
/// and query over HTTPS.
fn redirect_to_https(viewer: &ViewerRequest) -> HttpResponse {
    let host = viewer.header("host").unwrap_or("localhost");
    let query = if viewer.query.is_empty() {
        String::new()
    } else {
        format!("?{}", viewer.query)
    };
    let mut headers = Headers::new();
    headers.set("Location", format!("https://{host}{}{query}", viewer.path));
    headers.set("Content-Type", "text/html");
    headers.set("Server", "CloudFront");
    headers.set("X-Cache", "Redirect from cloudfront");
    HttpResponse {
        status: 301,
        headers,
        body: Bytes::from_static(
            b"<html>\r\n<head><title>301 Moved Permanently</title></head>\r\n<body>\r\n<center><h1>301 Moved Permanently</h1></center>\r\n<hr><center>CloudFront</center>\r\n</body>\r\n</html>\r\n",
        ),
    }
}

pub(super) fn not_modified(viewer: &ViewerRequest, headers: &Headers) -> bool {
    if let Some(tags) = viewer.header("if-none-match") {
        let Some(etag) = headers.get("etag") else {
            return false;
        };
        return tags
            .split(',')
            .map(str::trim)
            .any(|t| t == "*" || t.trim_start_matches("W/") == etag.trim_start_matches("W/"));
    }
    if let (Some(since), Some(modified)) = (
        viewer.header("if-modified-since"),
        headers.get("last-modified"),
    ) && let (Ok(since), Ok(modified)) = (
        httpdate::parse_http_date(since),
        httpdate::parse_http_date(modified),
    ) {
        return modified <= since;
    }
    false
}

/// One `bytes=` range: 206 with `Content-Range`, or 416 when it cannot be satisfied.
/// Several ranges are answered with the whole object, as a CDN may.
pub(super) fn apply_range(range: &str, response: &mut HttpResponse) {
    let Some(spec) = range.strip_prefix("bytes=") else {
        return;
    };
    if spec.contains(',') {
        return;
    }
    let len = response.body.len() as u64;
    let Some((start, end)) = spec.split_once('-') else {
        return;
    };
    let (start, end) = match (start.trim(), end.trim()) {
        ("", "") => return,
        ("", suffix) => match suffix.parse::<u64>() {
            Ok(n) if n > 0 => (len.saturating_sub(n), len.saturating_sub(1)),
            _ => return,
        },
        (s, "") => match s.parse::<u64>() {
            Ok(s) => (s, len.saturating_sub(1)),
            Err(_) => return,
        },
        (s, e) => match (s.parse::<u64>(), e.parse::<u64>()) {
            (Ok(s), Ok(e)) if s <= e => (s, e.min(len.saturating_sub(1))),
            _ => return,
        },
    };
    if start >= len || len == 0 {
        response.status = 416;
        response.body = Bytes::new();
        set_header(
            &mut response.headers,
            "Content-Range",
            format!("bytes */{len}"),
        );
        return;
    }
    response.status = 206;
    response.body = response.body.slice(start as usize..=end as usize);
    set_header(
        &mut response.headers,
        "Content-Range",
        format!("bytes {start}-{end}/{len}"),
    );
}

impl Distribution {
    pub(super) async fn serve(
        &self,
        viewer: &ViewerRequest,
        request_id: &str,
        log: &mut RequestLog,
    ) -> HttpResponse {
        if viewer.path.len() + viewer.query.len() + 1 > MAX_URL_BYTES {
            log.cache = "Error".into();
            return edge_error(414, "The request URL is too long.", "Error");
        }
        let header_bytes: usize = viewer
            .headers
            .iter()
            .map(|(n, v)| n.len() + v.len() + 4)
            .sum();
        if header_bytes > MAX_HEADER_BYTES {
            log.cache = "Error".into();
            return edge_error(494, "The request headers are too large.", "Error");
        }
        let Some(behavior) = self.behaviors.iter().find(|b| {
            b.pattern
                .as_deref()
                .is_none_or(|p| pattern::matches(p, &viewer.path))
        }) else {
            return edge_error(500, "No behavior matched.", "Error");
        };
        log.behavior = behavior.name().to_owned();
        // The viewer protocol policy comes first: viewer-request does not run on its answers.
        if viewer.protocol == ViewerProtocol::Http {
            match behavior.viewer_protocol_policy {
                ViewerProtocolPolicy::AllowAll => {}
                ViewerProtocolPolicy::RedirectToHttps => {
                    log.cache = "Redirect".into();
                    return redirect_to_https(viewer);
                }
                ViewerProtocolPolicy::HttpsOnly => {
                    log.cache = "Error".into();
                    return edge_error(
                        403,
                        "This distribution accepts requests over HTTPS only.",
                        "Error",
                    );
                }
            }
        }
        if !behavior.allowed_methods.contains(&viewer.method) {
            log.cache = "Error".into();
            return edge_error(
                403,
                "This distribution is not configured to allow the HTTP request method that was used for this request.",
                "Error",
            );
        }
        let mut request = self.event_request(viewer, behavior);

        // viewer-request: runs on every request, before the cache.
        if let Some(association) = behavior.functions.get(&EventType::ViewerRequest) {
            let cf = self.cf(EventType::ViewerRequest, request_id, request.clone(), None);
            match self.call(association, cf, log).await {
                Ok(FunctionResult::Request(edited)) => request = apply_body(edited, &request),
                Ok(FunctionResult::Response(generated)) => {
                    log.cache = "LambdaGeneratedResponse".into();
                    let mut response = generated_response(generated);
                    set_header(
                        &mut response.headers,
                        "X-Cache",
                        "LambdaGeneratedResponse from cloudfront",
                    );
                    return response;
                }
                Err(failure) => return self.function_failed(failure, log),
            }
        }

        // CloudFront adds its own headers after viewer-request, where a policy lists them.
        self.add_cloudfront_headers(viewer, behavior, &mut request);
        if request.uri == "/"
            && let Some(root) = &self.config.distribution.default_root_object
        {
            request.uri = format!("/{}", root.trim_start_matches('/'));
        }

        let cacheable = matches!(request.method.as_str(), "GET" | "HEAD");
        let key = cache::cache_key(&behavior.cache_policy, &request);
        if cacheable && let Some(hit) = self.cache.get(&key) {
            log.cache = "Hit".into();
            let mut response = (*hit.response).clone();
            set_header(&mut response.headers, "X-Cache", "Hit from cloudfront");
            set_header(&mut response.headers, "Age", hit.age.as_secs().to_string());
            return self
                .viewer_response(behavior, request, response, request_id, log)
                .await;
        }

        let miss = || {
            self.miss(
                behavior,
                request.clone(),
                request_id,
                &key,
                viewer.body.clone(),
            )
        };
        let (outcome, fetched_here) = if cacheable {
            self.cache.fetch_once(&key, miss).await
        } else {
            (miss().await, true)
        };
        if fetched_here {
            log.triggers.extend(outcome.log.triggers.iter().copied());
        } else {
            log.triggers
                .push((EventType::OriginRequest, Duration::ZERO));
            log.cache = "Miss (collapsed)".into();
        }
        let response = outcome.response.clone();
        if log.cache.is_empty() {
            log.cache = response
                .headers
                .get("x-cache")
                .map(|v| v.trim_end_matches(" from cloudfront").to_owned())
                .unwrap_or_else(|| "Miss".into());
        }
        log.error.clone_from(&outcome.log.error);
        log.origin.clone_from(&outcome.log.origin);
        log.failed_over.clone_from(&outcome.log.failed_over);
        if outcome.function_failed {
            return response;
        }
        self.viewer_response(behavior, request, response, request_id, log)
            .await
    }

    /// The request as a viewer-request function sees it.
    pub(super) fn event_request(
        &self,
        viewer: &ViewerRequest,
        behavior: &ResolvedBehavior,
    ) -> Request {
        let country_header = self
            .config
            .viewer
            .country_header
            .as_ref()
            .map(|h| h.to_ascii_lowercase());
        let mut headers = Headers::new();
        for (name, value) in &viewer.headers {
            if is_hop_by_hop(name)
                || Some(name) == country_header.as_ref()
                || name.starts_with("cloudfront-")
            {
                continue;
            }
            headers.append(&title_case(name), value.as_str());
        }
        let body = behavior
            .functions
            .get(&EventType::ViewerRequest)
            .filter(|a| a.include_body)
            .and_then(|_| event_body(&viewer.body, EventType::ViewerRequest));
        Request {
            client_ip: viewer.client_ip.clone(),
            method: viewer.method.clone(),
            uri: viewer.path.clone(),
            querystring: viewer.query.clone(),
            headers,
            origin: None,
            body,
            extra: Default::default(),
        }
    }

    /// Adds the `CloudFront-*` headers the behavior's policies list, from the User-Agent and the
    /// viewer's address (or the testing override).
    pub(super) fn add_cloudfront_headers(
        &self,
        viewer: &ViewerRequest,
        behavior: &ResolvedBehavior,
        request: &mut Request,
    ) {
        let wanted: Vec<String> = behavior
            .cache_policy
            .headers
            .iter()
            .chain(
                behavior
                    .origin_request_policy
                    .iter()
                    .flat_map(|p| p.headers.iter()),
            )
            .map(|h| h.to_ascii_lowercase())
            .filter(|h| h.starts_with("cloudfront-"))
            .collect();
        if wanted.is_empty() {
            return;
        }
        let ua = viewer.header("user-agent").unwrap_or("");
        for (name, value) in viewer::device_headers(ua) {
            if wanted.iter().any(|w| w.eq_ignore_ascii_case(name)) {
                request.headers.set(name, value);
            }
        }
        if wanted.iter().any(|w| w == "cloudfront-forwarded-proto") {
            request
                .headers
                .set("CloudFront-Forwarded-Proto", viewer.protocol.scheme());
        }
        if wanted.iter().any(|w| w == "cloudfront-viewer-country") {
            let override_value = self
                .config
                .viewer
                .country_header
                .as_ref()
                .and_then(|h| viewer.header(&h.to_ascii_lowercase()));
            let country = viewer::country(&self.config.viewer, &viewer.client_ip, override_value);
            request.headers.set("CloudFront-Viewer-Country", country);
        }
    }

    pub(super) async fn viewer_response(
        &self,
        behavior: &ResolvedBehavior,
        request: Request,
        mut response: HttpResponse,
        request_id: &str,
        log: &mut RequestLog,
    ) -> HttpResponse {
        // viewer-response does not run for origin errors.
        let Some(association) = behavior.functions.get(&EventType::ViewerResponse) else {
            return response;
        };
        if response.status >= 400 {
            return response;
        }
        let event_response = response.event_response();
        let cf = self.cf(
            EventType::ViewerResponse,
            request_id,
            request,
            Some(event_response),
        );
        match self.call(association, cf, log).await {
            Ok(FunctionResult::Response(updated)) => {
                response.headers = updated.headers;
                response
            }
            Ok(FunctionResult::Request(_)) => unreachable!("the validator refuses a request here"),
            Err(failure) => self.function_failed(failure, log),
        }
    }
}
