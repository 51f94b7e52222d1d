//! Origins: an S3 bucket served from a directory, and custom HTTP origins.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use edge_functions::Headers;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::cache::HttpResponse;

/// The largest origin body the local distribution reads.
pub const MAX_ORIGIN_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Why an origin gave no answer: CloudFront answers 502 (or 504 on a timeout).
#[derive(Debug, thiserror::Error)]
pub enum OriginError {
    #[error("origin {0} is unreachable: {1}")]
    Unreachable(String, String),
    #[error("origin {0} did not answer within {1:?}")]
    Timeout(String, Duration),
    #[error("origin {0} sent a bad response: {1}")]
    BadResponse(String, String),
}

/// An S3 bucket, served from a local directory as S3 serves a bucket behind Origin Access
/// Control: objects by key, 403 AccessDenied for a missing key (no ListBucket permission).
#[derive(Debug, Clone)]
pub struct S3Directory {
    pub dir: PathBuf,
}

impl S3Directory {
    pub async fn fetch(&self, method: &str, uri: &str) -> HttpResponse {
        if !matches!(method, "GET" | "HEAD") {
            return s3_error(
                405,
                "MethodNotAllowed",
                "The specified method is not allowed against this resource.",
            );
        }
        let Some(path) = object_path(&self.dir, uri) else {
            return s3_error(403, "AccessDenied", "Access Denied");
        };
        let (bytes, modified) = match tokio::fs::metadata(&path).await {
            Ok(meta) if meta.is_file() => match tokio::fs::read(&path).await {
                Ok(bytes) => (bytes, meta.modified().ok()),
                Err(_) => return s3_error(403, "AccessDenied", "Access Denied"),
            },
            _ => return s3_error(403, "AccessDenied", "Access Denied"),
        };
        let mut headers = Headers::new();
        headers.set("Content-Type", content_type(&path));
        headers.set("ETag", format!("\"{:016x}\"", fnv1a(&bytes)));
        if let Some(modified) = modified {
            headers.set("Last-Modified", httpdate::fmt_http_date(modified));
        }
        headers.set("Accept-Ranges", "bytes");
        headers.set("Server", "AmazonS3");
        HttpResponse {
            status: 200,
            headers,
            body: Bytes::from(bytes),
        }
    }
}

/// The file for an object key, or `None` for a key that could leave the directory.
fn object_path(dir: &Path, uri: &str) -> Option<PathBuf> {
    let key = percent_decode(uri.strip_prefix('/')?)?;
    if key.is_empty()
        || key.split('/').any(|seg| seg == ".." || seg == ".")
        || key.contains('\0')
        || key.contains('\\')
    {
        return None;
    }
    Some(dir.join(key))
}

/// Decodes `%XX` escapes; `None` for a bad escape or bytes that are not UTF-8.
pub fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn s3_error(status: u16, code: &str, message: &str) -> HttpResponse {
    let mut headers = Headers::new();
    headers.set("Content-Type", "application/xml");
    headers.set("Server", "AmazonS3");
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    HttpResponse {
        status,
        headers,
        body: Bytes::from(body),
    }
}

/// The `Content-Type` S3 would have stored for a file uploaded with its type guessed from the name.
pub fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        "xml" => "application/xml",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Custom HTTP origins (plain HTTP: the local distribution talks to loopback servers), reached
/// with one origin's connection settings.
#[derive(Clone)]
pub struct HttpOrigins {
    client: Client<HttpConnector, Full<Bytes>>,
    /// Connection attempts before the origin counts as unreachable (CloudFront: 1–3).
    attempts: u32,
}

impl Default for HttpOrigins {
    /// CloudFront's defaults: 3 attempts of 10 s each.
    fn default() -> Self {
        HttpOrigins::new(Duration::from_secs(10), 3)
    }
}

/// One request to a custom origin.
pub struct OriginRequest<'a> {
    /// Where to connect: `host:port`.
    pub address: String,
    pub path: String,
    pub method: &'a str,
    pub headers: &'a Headers,
    pub body: Bytes,
    pub timeout: Duration,
}

impl HttpOrigins {
    pub fn new(connect_timeout: Duration, attempts: u32) -> HttpOrigins {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(connect_timeout));
        HttpOrigins {
            client: Client::builder(TokioExecutor::new()).build(connector),
            attempts: attempts.max(1),
        }
    }

    pub async fn fetch(&self, request: OriginRequest<'_>) -> Result<HttpResponse, OriginError> {
        let origin = request.address;
        let uri = format!("http://{origin}{}", request.path);
        let mut builder = hyper::Request::builder().method(request.method).uri(&uri);
        for (name, entries) in request.headers.iter() {
            if name == "host" {
                continue;
            }
            for entry in entries {
                builder = builder.header(name.as_str(), entry.value.as_str());
            }
        }
        // The request's own Host (the origin's name), else the address connected to.
        let host = request.headers.get("host").unwrap_or(&origin).to_owned();
        let http_request = builder
            .header("host", host)
            .body(request.body)
            .map_err(|e| OriginError::BadResponse(origin.clone(), e.to_string()))?;
        let answer = tokio::time::timeout(request.timeout, async {
            let (parts, body) = http_request.into_parts();
            let mut attempt = 1;
            let response = loop {
                let again = hyper::Request::from_parts(parts.clone(), Full::new(body.clone()));
                match self.client.request(again).await {
                    Ok(response) => break response,
                    // Only a failed connection is tried again: a request that reached the origin
                    // may have done something there.
                    Err(e) if e.is_connect() && attempt < self.attempts => attempt += 1,
                    Err(e) => {
                        return Err(OriginError::Unreachable(origin.clone(), error_chain(&e)));
                    }
                }
            };
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_ORIGIN_BODY_BYTES)
                .collect()
                .await
                .map_err(|e| OriginError::BadResponse(origin.clone(), e.to_string()))?
                .to_bytes();
            Ok::<_, OriginError>((parts, body))
        })
        .await
        .map_err(|_| OriginError::Timeout(origin.clone(), request.timeout))??;
        let (parts, body) = answer;
        let mut headers = Headers::new();
        for (name, value) in &parts.headers {
            if crate::distribution::is_hop_by_hop(name.as_str()) {
                continue;
            }
            if let Ok(value) = value.to_str() {
                headers.append(&crate::distribution::title_case(name.as_str()), value);
            }
        }
        Ok(HttpResponse {
            status: parts.status.as_u16(),
            headers,
            body,
        })
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_never_leave_the_bucket_directory() {
        let dir = Path::new("/srv/site");
        assert_eq!(
            object_path(dir, "/css/site.css"),
            Some(dir.join("css/site.css"))
        );
        assert_eq!(object_path(dir, "/a%20b.txt"), Some(dir.join("a b.txt")));
        assert_eq!(object_path(dir, "/../etc/passwd"), None);
        assert_eq!(object_path(dir, "/css/%2e%2e/%2e%2e/etc"), None);
        assert_eq!(object_path(dir, "/bad%zz"), None);
        assert_eq!(object_path(dir, "/"), None);
    }

    #[tokio::test]
    async fn missing_objects_are_403_like_s3_without_list_permission() {
        let s3 = S3Directory {
            dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("../origin-site"),
        };
        let found = s3.fetch("GET", "/css/site.css").await;
        assert_eq!(found.status, 200);
        assert_eq!(
            found.headers.get("content-type"),
            Some("text/css; charset=utf-8")
        );
        assert!(
            found.headers.get("etag").is_some() && found.headers.get("last-modified").is_some()
        );
        assert_eq!(s3.fetch("GET", "/nope.css").await.status, 403);
        assert_eq!(
            s3.fetch("GET", "/css").await.status,
            403,
            "a directory is no object"
        );
        assert_eq!(s3.fetch("POST", "/css/site.css").await.status, 405);
    }
}
