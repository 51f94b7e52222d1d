//! Driving the `edgekit` binary as a process: a scratch folder, `serve` started on a free port,
//! and one HTTP/1.0 exchange with it.

#![allow(dead_code)] // each test crate uses its part

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A folder of the test's own under the temporary directory, empty.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("edgekit-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `serve --port 0 --quiet` with more arguments, run from the checkout.
pub struct Served {
    pub child: Child,
    /// `127.0.0.1:<port>`, as it printed.
    pub address: String,
}

impl Served {
    /// Starts it and waits for the line that says where the site `name` is served; fails the
    /// test with serve's stderr when it does not start.
    pub fn start(name: &str, args: &[&std::ffi::OsStr]) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_edgekit"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["serve", "--port", "0", "--quiet"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Its log is read all along (a full or closed pipe would stop serve), and shown if it
        // does not start.
        let mut stderr = child.stderr.take().unwrap();
        let log = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let served = format!("{name} is served at ");
        if !(line.starts_with(&format!("{served}http://127.0.0.1:"))
            || line.starts_with(&format!("{served}https://localhost:")))
        {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "serve did not start: {line}{}",
                log.join().unwrap_or_default()
            );
        }
        let address = line
            .trim()
            .rsplit("://")
            .next()
            .unwrap()
            .trim_end_matches('/')
            // `serve --https` names the certificate's name; it listens on 127.0.0.1.
            .replace("localhost:", "127.0.0.1:");
        Served { child, address }
    }

    /// One exchange: `method path` with these extra header lines.
    pub fn http(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
        http(&self.address, method, path, headers)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An answer: the status line, lowercase headers, the body.
pub struct Reply {
    pub status: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the status line says `code`.
    pub fn is(&self, code: u16) -> bool {
        self.status.contains(&format!(" {code} "))
    }
}

/// One HTTP/1.0 exchange with `address`.
pub fn http(address: &str, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
    exchange(
        TcpStream::connect(address).unwrap(),
        address,
        method,
        path,
        headers,
    )
}

/// One exchange from another loopback address (`127.0.0.7`): a different visitor, as the local
/// distribution tells visitors apart by their address.
pub fn http_from(
    source: &str,
    address: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Reply {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let stream = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
        socket.connect(address.parse().unwrap()).await.unwrap()
    });
    let stream = stream.into_std().unwrap();
    stream.set_nonblocking(false).unwrap();
    exchange(stream, address, method, path, headers)
}

fn exchange(
    mut stream: TcpStream,
    address: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Reply {
    let mut request = format!("{method} {path} HTTP/1.0\r\nHost: {address}\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if method == "POST" {
        request.push_str("Content-Length: 0\r\n");
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let mut lines = head.lines();
    let status = lines.next().unwrap_or("").to_owned();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_owned(),
    }
}
