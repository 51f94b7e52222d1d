//! The local distribution on a real socket: HTTP/1.1 on 127.0.0.1, and with `--https` HTTPS
//! (HTTP/2 and HTTP/1.1) on the same port; a log line per request, and a clean stop.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

use crate::distribution::{Distribution, ViewerProtocol, ViewerRequest, ViewerResponse};

/// The largest request body the local distribution accepts (CloudFront takes far more, but no
/// function here needs it, and memory stays bounded).
pub const MAX_REQUEST_BODY_BYTES: usize = 8 * 1024 * 1024;

/// The distribution the server uses; `--watch` swaps in a new one without dropping connections.
pub type Shared = Arc<RwLock<Arc<Distribution>>>;

/// Serves until `shutdown` resolves, then lets requests in flight finish. With `tls`, each
/// connection is HTTPS (HTTP/2 or HTTP/1.1, by ALPN) or plain HTTP/1.1, told apart by its first
/// byte, so one port answers both as CloudFront's 443 and 80 do, and the viewer protocol
/// policies apply to the plain ones.
pub async fn serve(
    listener: TcpListener,
    distribution: Shared,
    log_requests: bool,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(err) => {
                        tracing::warn!("accept failed: {err}");
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let watcher = graceful.watcher();
                let distribution = distribution.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let served = match acceptor {
                        None => {
                            let protocol = ViewerProtocol::HttpOnlyServer;
                            let service = service(distribution, peer, log_requests, protocol);
                            watcher
                                .watch(http1_connection(stream, service))
                                .await
                                .map_err(ConnectionError::from)
                        }
                        Some(acceptor) => {
                            serve_either(stream, acceptor, watcher, distribution, peer, log_requests)
                                .await
                        }
                    };
                    if let Err(err) = served {
                        tracing::debug!("connection from {peer}: {err}");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(std::time::Duration::from_secs(5)) => {
            tracing::warn!("requests still running after 5 s; stopping anyway");
        }
    }
}

type ConnectionError = Box<dyn std::error::Error + Send + Sync>;

type Answer = Result<hyper::Response<Full<Bytes>>, Infallible>;

/// A connection to a server with HTTPS: a TLS handshake (its first byte is 22) or plain HTTP.
async fn serve_either(
    stream: tokio::net::TcpStream,
    acceptor: tokio_rustls::TlsAcceptor,
    watcher: hyper_util::server::graceful::Watcher,
    distribution: Shared,
    peer: SocketAddr,
    log_requests: bool,
) -> Result<(), ConnectionError> {
    const TLS_HANDSHAKE: u8 = 22;
    let mut first = [0u8; 1];
    let peeked = tokio::time::timeout(Duration::from_secs(10), stream.peek(&mut first)).await;
    if !matches!(peeked, Ok(Ok(1))) {
        return Ok(()); // closed, or silent: nothing to answer
    }
    if first[0] != TLS_HANDSHAKE {
        let service = service(distribution, peer, log_requests, ViewerProtocol::Http);
        return Ok(watcher.watch(http1_connection(stream, service)).await?);
    }
    let tls = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream))
        .await
        .map_err(|_| "TLS handshake timed out")??;
    let service = service(distribution, peer, log_requests, ViewerProtocol::Https);
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    watcher
        .watch(builder.serve_connection(TokioIo::new(tls), service))
        .await
}

/// One HTTP/1.1 connection from `peer`, on any byte stream (a socket; the fuzz target's
/// in-memory pipe), each request answered by the distribution current when it arrives.
pub fn connection<I>(
    io: I,
    distribution: Shared,
    peer: SocketAddr,
    log_requests: bool,
) -> hyper::server::conn::http1::Connection<
    TokioIo<I>,
    impl hyper::service::Service<
        hyper::Request<Incoming>,
        Response = hyper::Response<Full<Bytes>>,
        Error = Infallible,
        Future = impl Future<Output = Answer> + Send,
    > + Send,
>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service(
        distribution,
        peer,
        log_requests,
        ViewerProtocol::HttpOnlyServer,
    );
    http1_connection(io, service)
}

fn http1_connection<I, S>(
    io: I,
    service: S,
) -> hyper::server::conn::http1::Connection<TokioIo<I>, S>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::Service<
            hyper::Request<Incoming>,
            Response = hyper::Response<Full<Bytes>>,
            Error = Infallible,
        >,
{
    http1::Builder::new()
        .max_buf_size(64 * 1024)
        .serve_connection(TokioIo::new(io), service)
}

/// Each request answered by the distribution current when it arrives.
fn service(
    distribution: Shared,
    peer: SocketAddr,
    log_requests: bool,
    protocol: ViewerProtocol,
) -> impl hyper::service::Service<
    hyper::Request<Incoming>,
    Response = hyper::Response<Full<Bytes>>,
    Error = Infallible,
    Future = impl Future<Output = Answer> + Send + 'static,
> + Send
+ Clone
+ 'static {
    service_fn(move |request| {
        let current = distribution
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        handle(current, peer, request, log_requests, protocol)
    })
}

async fn handle(
    distribution: Arc<Distribution>,
    peer: SocketAddr,
    request: hyper::Request<Incoming>,
    log_requests: bool,
    protocol: ViewerProtocol,
) -> Answer {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_REQUEST_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return Ok(plain(
                413,
                "The request body is too large for the local distribution.\n",
            ));
        }
    };
    // HTTP/2 carries the host in `:authority`, which becomes the URI's; CloudFront gives
    // functions a `host` header either way.
    let mut headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    if !headers.iter().any(|(n, _)| n == "host")
        && let Some(authority) = parts.uri.authority()
    {
        headers.push(("host".to_owned(), authority.to_string()));
    }
    let viewer = ViewerRequest {
        protocol,
        client_ip: peer.ip().to_string(),
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or("").to_owned(),
        headers,
        body,
    };
    let method = viewer.method.clone();
    let target = if viewer.query.is_empty() {
        viewer.path.clone()
    } else {
        format!("{}?{}", viewer.path, viewer.query)
    };
    let answer = distribution.handle(viewer).await;
    if log_requests {
        log_line(&method, &target, &answer, started);
    }
    Ok(to_hyper(answer))
}

fn log_line(method: &str, target: &str, answer: &ViewerResponse, started: Instant) {
    let log = &answer.log;
    let triggers = log
        .triggers
        .iter()
        .map(|(t, d)| format!(" {t}={:.2}ms", d.as_secs_f64() * 1000.0))
        .collect::<String>();
    let line = format!(
        "{method} {target} {} behavior={} cache={}{}{triggers} bytes={} total={:.2}ms",
        answer.status,
        if log.behavior.is_empty() {
            "-"
        } else {
            &log.behavior
        },
        if log.cache.is_empty() {
            "-"
        } else {
            &log.cache
        },
        match (&log.origin, &log.failed_over) {
            (origin, _) if origin.is_empty() => String::new(),
            (origin, None) => format!(" origin={origin}"),
            (origin, Some(why)) => format!(" origin={origin} failed-over=\"{why}\""),
        },
        answer.body.len(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    match &log.error {
        Some(error) => tracing::warn!("{line} error=\"{error}\""),
        None => tracing::info!("{line}"),
    }
}

fn to_hyper(answer: ViewerResponse) -> hyper::Response<Full<Bytes>> {
    let mut builder = hyper::Response::builder().status(answer.status);
    for (name, value) in &answer.headers {
        // Lengths are the server's to write, from the body it sends.
        if name == "content-length" && !answer.body.is_empty() {
            continue;
        }
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder
        .body(Full::new(answer.body))
        .unwrap_or_else(|err| plain(502, &format!("The response could not be sent: {err}\n")))
}

fn plain(status: u16, text: &str) -> hyper::Response<Full<Bytes>> {
    let mut response = hyper::Response::new(Full::new(Bytes::from(text.to_owned())));
    *response.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::BAD_GATEWAY);
    response
}
