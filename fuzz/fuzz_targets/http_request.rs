//! The local distribution's request handling from raw HTTP bytes: the bytes arrive on a
//! connection as from a socket (HTTP/1.1 parsing, behaviors, cache, the triggers, CloudFront's
//! validation); whatever they are, the connection ends and nothing panics.
#![no_main]

use std::sync::OnceLock;

use edgekit_fuzz::distribution;
use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
    })
}

fuzz_target!(|data: &[u8]| {
    runtime().block_on(async {
        let (mut viewer, socket) = tokio::io::duplex(64 * 1024);
        let peer = "203.0.113.10:40000".parse().expect("an address");
        let connection = cloudfront::server::connection(socket, distribution(), peer, false);
        let served = tokio::spawn(connection);
        let data = data.to_vec();
        let (mut read, mut write) = tokio::io::split(&mut viewer);
        let sending = async move {
            let _ = write.write_all(&data).await;
            let _ = write.shutdown().await;
        };
        let mut answer = Vec::new();
        let receiving = read.read_to_end(&mut answer);
        let _ = tokio::join!(sending, receiving);
        drop(viewer);
        let _ = served.await;
    });
});
