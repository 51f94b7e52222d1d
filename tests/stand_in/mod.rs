//! The local stand-in for Cognito's hosted UI and token endpoint (`scripts/cognito_stand_in.py`,
//! on moto's user pool: not Cognito), started by a test and stopped when dropped.

#![allow(dead_code)] // each test crate uses its part

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub struct StandIn {
    child: Child,
    pub url: String,
}

impl StandIn {
    /// Starts `command` (scripts/test's wrapper, `EDGEKIT_COGNITO_STAND_IN`) with `args` and
    /// waits for it to say where it listens.
    pub fn start(command: &str, args: &[&str]) -> StandIn {
        let mut child = Command::new(command)
            .args(args)
            .arg("--quiet")
            .stdout(Stdio::piped())
            .spawn()
            .expect("the stand-in starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("its output"))
            .read_line(&mut line)
            .expect("it says where it listens");
        let url = line
            .trim()
            .strip_prefix("Cognito stand-in at ")
            .unwrap_or_else(|| panic!("the stand-in said {line:?}"))
            .to_owned();
        StandIn { child, url }
    }

    /// The stand-in where Northwind Docs' declaration names it (port 8793), for a test that
    /// packages that site (`package` fetches the pool's keys from it). `None` when something
    /// else already answers there with the keys (a stand-in a developer runs): that one serves.
    pub fn on_the_docs_port(command: &str) -> Option<StandIn> {
        let running = std::net::TcpStream::connect("127.0.0.1:8793").is_ok();
        if running {
            return None;
        }
        Some(StandIn::start(command, &["--port", "8793"]))
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
