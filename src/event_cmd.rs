//! `event`: writes a correct Lambda@Edge event, so nobody hand-writes the CloudFront shape.

use std::process::ExitCode;

use base64::Engine;
use clap::{Args, ValueEnum};
use edge_functions::event::{
    BodyAction, BodyEncoding, Config, Event, Origin, Request, RequestBody, Response, S3Origin,
};
use edge_functions::rules::{self, is_cloudfront_added_header, limits};
use edge_functions::{EventType, Headers};

/// Print a Lambda@Edge event for a trigger, as CloudFront would send it.
///
/// Refuses what CloudFront never sends: geo or device headers in a viewer-request event (they are
/// added after viewer-request), a body in a GET or HEAD, a body in a response event. A body larger
/// than the trigger's Include Body limit is truncated, with `inputTruncated`, as CloudFront does.
#[derive(Args)]
pub struct EventArgs {
    /// The trigger: viewer-request, origin-request, origin-response or viewer-response.
    trigger: EventType,
    /// The path asked for.
    #[arg(long, default_value = "/")]
    uri: String,
    #[arg(long, default_value = "GET")]
    method: String,
    /// The query string, without `?`.
    #[arg(long, default_value = "")]
    querystring: String,
    /// A request header, as `Name: value` (repeatable).
    #[arg(long = "header", value_name = "NAME:VALUE")]
    headers: Vec<String>,
    /// A cookie the viewer sends, as `name=value` (repeatable).
    #[arg(long = "cookie", value_name = "NAME=VALUE")]
    cookies: Vec<String>,
    /// The viewer's country (CloudFront-Viewer-Country), origin events only.
    #[arg(long, value_name = "CC")]
    country: Option<String>,
    /// The viewer's device (CloudFront-Is-*-Viewer headers), origin events only.
    #[arg(long, value_enum)]
    device: Option<Device>,
    /// The request body, as text (the event carries it base64-encoded, as Include Body does).
    #[arg(long)]
    body: Option<String>,
    /// The viewer's address.
    #[arg(long, default_value = "203.0.113.10")]
    client_ip: String,
    /// The origin's status, response events only.
    #[arg(long)]
    status: Option<u16>,
    /// A response header, as `Name: value` (repeatable), response events only.
    #[arg(long = "response-header", value_name = "NAME:VALUE")]
    response_headers: Vec<String>,
    /// The request id (`config.requestId`); by default one derived from the other arguments.
    #[arg(long)]
    request_id: Option<String>,
    /// The S3 origin's domain in origin events. Default: the origin of the config's behavior for
    /// --uri.
    #[arg(long, value_name = "DOMAIN")]
    origin_domain: Option<String>,
    /// The distribution config the default origin domain comes from.
    #[arg(long, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Device {
    Desktop,
    Mobile,
    Tablet,
    Smarttv,
}

const DISTRIBUTION_DOMAIN: &str = "d111111abcdef8.cloudfront.net";
const DISTRIBUTION_ID: &str = "EDFDVBD6EXAMPLE";
/// The origin domain when no config says one.
const FALLBACK_ORIGIN_DOMAIN: &str = "origin-bucket.s3.us-east-1.amazonaws.com";
const DESKTOP_USER_AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";
const PHONE_USER_AGENT: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1";

pub fn event(args: EventArgs) -> ExitCode {
    match build(&args) {
        Ok(event) => match serde_json::to_string_pretty(&event) {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(e) => refuse(format!("the event cannot be written as JSON: {e}")),
        },
        Err(message) => refuse(message),
    }
}

fn refuse(message: String) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

fn split_pair(text: &str, separator: char, what: &str) -> Result<(String, String), String> {
    match text.split_once(separator) {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_owned(), value.trim().to_owned()))
        }
        _ => Err(format!("`{text}` is not a {what}")),
    }
}

/// The domain of the origin the config's behavior for `uri` sends to.
fn origin_domain(args: &EventArgs) -> String {
    if let Some(domain) = &args.origin_domain {
        return domain.clone();
    }
    let path = args
        .config
        .clone()
        .unwrap_or_else(crate::serve_cmd::default_config);
    let Ok(config) = cloudfront::DistributionConfig::load(&path) else {
        return FALLBACK_ORIGIN_DOMAIN.into();
    };
    let behavior = config.behaviors_in_order().find(|b| {
        b.path_pattern
            .as_ref()
            .is_none_or(|p| cloudfront::pattern::matches(p.get_ref(), &args.uri))
    });
    behavior
        .and_then(|b| {
            config
                .origins
                .iter()
                .map(|o| o.get_ref())
                .find(|o| o.id == *b.origin.get_ref())
        })
        .map(|o| o.domain_name.clone())
        .unwrap_or_else(|| FALLBACK_ORIGIN_DOMAIN.into())
}

fn build(args: &EventArgs) -> Result<Event, String> {
    let trigger = args.trigger;
    let origin_domain = origin_domain(args);
    let origin_event = !trigger.is_viewer();
    if !args.uri.starts_with('/') {
        return Err(format!("the uri must start with `/`, got `{}`", args.uri));
    }
    if trigger == EventType::ViewerRequest && (args.country.is_some() || args.device.is_some()) {
        return Err(
            "a viewer-request event never has CloudFront-Viewer-Country or CloudFront-Is-*-Viewer headers: \
CloudFront adds them after viewer-request, so only origin events (and viewer-response) see them"
                .into(),
        );
    }
    if trigger.is_request() && (args.status.is_some() || !args.response_headers.is_empty()) {
        return Err(format!(
            "a {trigger} event has no response yet; --status and --response-header are for response events"
        ));
    }
    let method = args.method.to_ascii_uppercase();
    let mut headers = Headers::new();
    let ua = match args.device {
        Some(Device::Mobile) => PHONE_USER_AGENT,
        _ => DESKTOP_USER_AGENT,
    };
    headers.set(
        "Host",
        if origin_event {
            origin_domain.as_str()
        } else {
            DISTRIBUTION_DOMAIN
        },
    );
    headers.set("User-Agent", ua);
    headers.set(
        "Accept",
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    );
    headers.set("Accept-Language", "en-US,en;q=0.9");
    if origin_event {
        headers.set(
            "Via",
            "2.0 2b5c5e6f8d1c9a0e7f3b4c5d6e7f8a9b.cloudfront.net (CloudFront)",
        );
        headers.set("X-Forwarded-For", args.client_ip.as_str());
    }
    for header in &args.headers {
        let (name, value) = split_pair(header, ':', "header as `Name: value`")?;
        if trigger == EventType::ViewerRequest
            && is_cloudfront_added_header(&name.to_ascii_lowercase())
        {
            return Err(format!(
                "a viewer-request event never has `{name}`: CloudFront adds its geo and device headers after viewer-request"
            ));
        }
        headers.set(&name, value);
    }
    if !args.cookies.is_empty() {
        let mut pairs = Vec::new();
        for cookie in &args.cookies {
            let (name, value) = split_pair(cookie, '=', "cookie as `name=value`")?;
            pairs.push(format!("{name}={value}"));
        }
        headers.set("Cookie", pairs.join("; "));
    }
    if let Some(country) = &args.country {
        if country.len() != 2 || !country.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(format!("`{country}` is not a two-letter country code"));
        }
        headers.set("CloudFront-Viewer-Country", country.to_ascii_uppercase());
    }
    if let Some(device) = args.device {
        for (name, is) in [
            (
                "CloudFront-Is-Desktop-Viewer",
                matches!(device, Device::Desktop),
            ),
            (
                "CloudFront-Is-Mobile-Viewer",
                matches!(device, Device::Mobile),
            ),
            (
                "CloudFront-Is-Tablet-Viewer",
                matches!(device, Device::Tablet),
            ),
            (
                "CloudFront-Is-SmartTV-Viewer",
                matches!(device, Device::Smarttv),
            ),
        ] {
            headers.set(name, if is { "true" } else { "false" });
        }
    }
    let body = match &args.body {
        None => None,
        Some(_) if matches!(method.as_str(), "GET" | "HEAD") => {
            return Err(format!(
                "a {method} request has no body; use --method POST (or PUT, PATCH, DELETE)"
            ));
        }
        Some(_) if !trigger.is_request() => {
            return Err(format!(
                "CloudFront gives the request body only to viewer-request and origin-request, not {trigger}"
            ));
        }
        Some(text) => {
            let limit = limits::request_body_bytes(trigger);
            let truncated = text.len() > limit;
            if truncated {
                eprintln!(
                    "note: the body is {} bytes; CloudFront gives {trigger} the first {limit} and sets inputTruncated",
                    text.len()
                );
            }
            let bytes = &text.as_bytes()[..text.len().min(limit)];
            headers.set("Content-Length", text.len().to_string());
            headers.set_if_absent("Content-Type", "application/x-www-form-urlencoded");
            Some(RequestBody {
                input_truncated: truncated,
                action: BodyAction::ReadOnly,
                encoding: BodyEncoding::Base64,
                data: base64::engine::general_purpose::STANDARD.encode(bytes),
                extra: Default::default(),
            })
        }
    };
    let request = Request {
        client_ip: args.client_ip.clone(),
        method,
        uri: args.uri.clone(),
        querystring: args.querystring.clone(),
        headers,
        origin: origin_event.then(|| {
            Origin::S3(S3Origin {
                auth_method: "none".into(),
                domain_name: origin_domain.clone(),
                region: Some("us-east-1".into()),
                ..Default::default()
            })
        }),
        body,
        extra: Default::default(),
    };
    let response = if trigger.is_request() {
        None
    } else {
        Some(origin_response(args)?)
    };
    let config = Config {
        distribution_domain_name: DISTRIBUTION_DOMAIN.into(),
        distribution_id: DISTRIBUTION_ID.into(),
        event_type: trigger,
        request_id: args.request_id.clone().unwrap_or_else(|| request_id(args)),
        extra: Default::default(),
    };
    let event = Event::new(config, request, response);
    // The same checks `invoke` applies: what this command writes, `invoke` accepts.
    rules::check_event(trigger, &event.records[0].cf).map_err(|e| e.to_string())?;
    Ok(event)
}

fn origin_response(args: &EventArgs) -> Result<Response, String> {
    let status = args.status.unwrap_or(200);
    if !(100..=599).contains(&status) {
        return Err(format!("{status} is not an HTTP status"));
    }
    let mut response = Response::new(status);
    let headers = &mut response.headers;
    headers.set("Server", "AmazonS3");
    headers.set("Date", "Wed, 25 Nov 2026 12:00:00 GMT");
    if (200..300).contains(&status) {
        headers.set("Content-Type", content_type(&args.uri));
        headers.set("ETag", "\"5d41402abc4b2a76b9719d911017c592\"");
        headers.set("Last-Modified", "Tue, 24 Nov 2026 09:30:00 GMT");
    } else {
        headers.set("Content-Type", "application/xml");
    }
    if args.trigger == EventType::ViewerResponse {
        headers.set(
            "Via",
            "1.1 2b5c5e6f8d1c9a0e7f3b4c5d6e7f8a9b.cloudfront.net (CloudFront)",
        );
    }
    for header in &args.response_headers {
        let (name, value) = split_pair(header, ':', "header as `Name: value`")?;
        headers.set(&name, value);
    }
    Ok(response)
}

fn content_type(uri: &str) -> &'static str {
    match uri.rsplit_once('.').map(|(_, ext)| ext) {
        Some("css") => "text/css",
        Some("js") => "text/javascript",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        Some("txt") => "text/plain",
        _ => "text/html",
    }
}

/// A request id that is the same for the same arguments, so fixtures stay stable.
fn request_id(args: &EventArgs) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |s: &str| {
        for b in s.bytes().chain([0]) {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    feed(args.trigger.as_str());
    feed(&args.uri);
    feed(&args.method);
    feed(&args.querystring);
    args.headers
        .iter()
        .chain(&args.cookies)
        .for_each(|s| feed(s));
    let bytes: Vec<u8> = (0..5)
        .flat_map(|i| (hash.rotate_left(i * 13)).to_le_bytes())
        .collect();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
