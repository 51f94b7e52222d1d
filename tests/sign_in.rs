//! The sign-in block in the Lambda@Edge host (the viewer package's Python module), against the
//! local stand-in for Cognito's hosted UI and token endpoint (`scripts/cognito_stand_in.py`,
//! on moto's user pool: it is not Cognito, it follows Cognito's documented contract): a member
//! is sent to sign in, comes back through the callback (the module calls the token endpoint
//! with the Python runtime's own HTTP client, as a confidential client with its secret),
//! passes the check, is refreshed, and signs out.
//!
//! `scripts/test` names the module (`EDGEKIT_PYTHON_VIEWER_MODULE`) and the stand-in's command
//! (`EDGEKIT_COGNITO_STAND_IN`); without them the test says loudly that it was skipped.

mod stand_in;

use std::path::PathBuf;
use std::process::Command;

use stand_in::StandIn;

/// The app client's secret: `package` reads it from the environment variable the declaration
/// names; the module sends it to the token endpoint, which refuses a call without it.
const CLIENT_SECRET: &str = "members-client-secret";

/// `package`'s preparation, with the client secret in its environment.
struct WithClientSecret(cloudfront::calls::NetworkPreparation);

impl edge_functions::site::Prepare for WithClientSecret {
    fn fetch(&self, url: &str) -> Result<Option<String>, String> {
        self.0.fetch(url)
    }
    fn secret(&self) -> Result<String, String> {
        self.0.secret()
    }
    fn environment(&self, name: &str) -> Option<String> {
        (name == "MEMBERS_CLIENT_SECRET").then(|| CLIENT_SECRET.to_owned())
    }
}

/// Drives the module as CloudFront and a browser would, printing what it saw as JSON.
const FLOW: &str = r#"
import http.client, importlib.util, json, sys, urllib.parse
so, stand_in = sys.argv[1], sys.argv[2]
spec = importlib.util.spec_from_file_location("edgekit", so)
edgekit = importlib.util.module_from_spec(spec)
spec.loader.exec_module(edgekit)
HOST = "docs.example.com"
jar = {}

def event(uri, query=""):
    headers = {"host": [{"key": "Host", "value": HOST}]}
    sent = [f"{k}={v}" for k, (v, path) in jar.items() if uri.startswith(path)]
    if sent:
        headers["cookie"] = [{"key": "Cookie", "value": "; ".join(sent)}]
    return {"Records": [{"cf": {"config": {"eventType": "viewer-request", "distributionId": "E1",
            "distributionDomainName": "d1.cloudfront.net", "requestId": "r"},
            "request": {"clientIp": "203.0.113.9", "method": "GET", "uri": uri,
                        "querystring": query, "headers": headers}}}]}

def visit(uri, query=""):
    result = edgekit.viewer_request(event(uri, query), None)
    for entry in result.get("headers", {}).get("set-cookie", []):
        pair, *attributes = entry["value"].split("; ")
        name, _, value = pair.partition("=")
        path = next(a[5:] for a in attributes if a.startswith("Path="))
        if "Max-Age=0" in attributes:
            jar.pop(name, None)
        else:
            jar[name] = (value, path)
    return result

def location(result):
    return result["headers"]["location"][0]["value"]

seen = {}
first = visit("/members/notes")
seen["first"] = first.get("status")
authorize = location(first)
seen["authorize"] = authorize.split("?")[0]
params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(authorize).query))
# The visitor signs in on the stand-in's form.
host = urllib.parse.urlsplit(stand_in)
conn = http.client.HTTPConnection(host.hostname, host.port)
form = dict(params, username="reader@example.com", password="Members-Only-1")
conn.request("POST", "/login", urllib.parse.urlencode(form),
             {"Content-Type": "application/x-www-form-urlencoded"})
answer = conn.getresponse(); answer.read()
assert answer.status == 302, answer.status
back = urllib.parse.urlsplit(answer.getheader("Location"))
seen["back_to"] = f"{back.scheme}://{back.netloc}{back.path}"
# The callback: the module exchanges the code at the token endpoint itself.
callback = visit(back.path, back.query)
seen["callback"] = [callback.get("status"), location(callback)]
seen["cookies"] = sorted(jar)
seen["signed_in"] = "status" not in visit("/members/notes")
# A used code is not good twice; a signed-in visitor just goes on.
seen["callback_again"] = [visit(back.path, back.query).get("status")]
# Refresh (the refresh cookie is sent only to the refresh path).
refreshed = visit("/auth/refresh", "u=%2Fmembers%2Fnotes")
seen["refresh"] = [refreshed.get("status"), location(refreshed),
                   any(c["value"].startswith("edgekit-id=") for c in refreshed["headers"]["set-cookie"])]
out = visit("/auth/sign-out")
seen["sign_out"] = location(out).split("?")[0]
seen["after_sign_out"] = sorted(jar)
seen["members_after_sign_out"] = visit("/members/notes").get("status")
api = visit("/members/api/notes.json")
seen["api"] = [api.get("status"), json.loads(api["body"])["error"]]
print(json.dumps(seen))
"#;

/// A site whose members' area signs in with the stand-in at `url`, as a confidential client.
fn write_declaration(dir: &std::path::Path, url: &str) -> PathBuf {
    let declaration = dir.join("members.site.toml");
    std::fs::write(
        &declaration,
        format!(
            r#"name = "members"
[functions]
viewer-request = ["members"]
[blocks.members]
block = "sign-in"
user_pool_id = "us-east-1_NorthwindDocs"
client_id = "northwinddocsmembers"
domain = "{url}"
jwks_url = "{url}/.well-known/jwks.json"
protect = ["/members/"]
api = ["/members/api/"]
required_group = "members"
client_secret_env = "MEMBERS_CLIENT_SECRET"
"#
        ),
    )
    .unwrap();
    declaration
}

/// A member's ID token from the stand-in: its sign-in form, then the code exchange.
const TOKEN: &str = r#"
import base64, hashlib, http.client, json, sys, urllib.parse
url = urllib.parse.urlsplit(sys.argv[1])
verifier = "v" * 43
challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
redirect = "https://docs.example.com/auth/callback"
def post(path, form, headers={}):
    conn = http.client.HTTPConnection(url.hostname, url.port)
    conn.request("POST", path, urllib.parse.urlencode(form),
                 dict(headers, **{"Content-Type": "application/x-www-form-urlencoded"}))
    answer = conn.getresponse()
    return answer, answer.read()
answer, _ = post("/login", dict(response_type="code", client_id="northwinddocsmembers",
    redirect_uri=redirect, state="s", scope="openid", code_challenge=challenge,
    code_challenge_method="S256", username="reader@example.com", password="Members-Only-1"))
code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(answer.getheader("Location")).query))["code"]
basic = base64.b64encode(b"northwinddocsmembers:" + sys.argv[2].encode()).decode()
_, body = post("/oauth2/token", dict(grant_type="authorization_code", client_id="northwinddocsmembers",
    code=code, redirect_uri=redirect, code_verifier=verifier), {"Authorization": "Basic " + basic})
print(json.loads(body)["id_token"])
"#;

/// `invoke --prepare` lets a fixture with a member's real ID token through, as the deployed
/// function would; without it (offline, as the golden fixtures run) no token is believed.
#[test]
fn invoke_with_prepare_lets_a_real_token_through() {
    let Ok(stand_in_command) = std::env::var("EDGEKIT_COGNITO_STAND_IN") else {
        eprintln!("SKIPPED: EDGEKIT_COGNITO_STAND_IN is not set (scripts/test sets it)");
        return;
    };
    let stand_in = StandIn::start(
        &stand_in_command,
        &[
            "--port",
            "0",
            "--callback-url",
            "https://docs.example.com/auth/callback",
            "--client-secret",
            CLIENT_SECRET,
        ],
    );
    let dir = std::env::temp_dir().join(format!("edgekit-invoke-sign-in-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let declaration = write_declaration(&dir, &stand_in.url);
    let token = Command::new("python3")
        .args(["-c", TOKEN, &stand_in.url, CLIENT_SECRET])
        .output()
        .unwrap();
    assert!(
        token.status.success(),
        "{}",
        String::from_utf8_lossy(&token.stderr)
    );
    let token = String::from_utf8(token.stdout).unwrap().trim().to_owned();
    let event = serde_json::json!({"Records": [{"cf": {
        "config": {"eventType": "viewer-request", "distributionId": "E1",
                   "distributionDomainName": "d1.cloudfront.net", "requestId": "r"},
        "request": {"clientIp": "203.0.113.9", "method": "GET", "uri": "/members/notes",
            "querystring": "", "headers": {
                "host": [{"key": "Host", "value": "docs.example.com"}],
                "cookie": [{"key": "Cookie", "value": format!("edgekit-id={token}")}]}}}}]});
    let event_file = dir.join("member.json");
    std::fs::write(&event_file, event.to_string()).unwrap();
    let invoke = |prepare: bool| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_edgekit"));
        command
            .args(["invoke", "viewer-request", "--site"])
            .arg(&declaration)
            .arg("--event")
            .arg(&event_file)
            .env("MEMBERS_CLIENT_SECRET", CLIENT_SECRET);
        if prepare {
            command.arg("--prepare");
        }
        let output = command.output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(
            !stderr.contains(CLIENT_SECRET) && !stdout_has_secret(&output.stdout),
            "{stderr}"
        );
        result
    };
    let prepared = invoke(true);
    assert_eq!(prepared["uri"], "/members/notes", "{prepared}");
    let offline = invoke(false);
    assert_eq!(offline["status"], "302", "{offline}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn stdout_has_secret(stdout: &[u8]) -> bool {
    String::from_utf8_lossy(stdout).contains(CLIENT_SECRET)
}

#[test]
fn the_lambda_edge_host_signs_in_refreshes_and_signs_out_through_the_stand_in() {
    let (Ok(module), Ok(stand_in_command)) = (
        std::env::var("EDGEKIT_PYTHON_VIEWER_MODULE"),
        std::env::var("EDGEKIT_COGNITO_STAND_IN"),
    ) else {
        eprintln!(
            "SKIPPED: EDGEKIT_PYTHON_VIEWER_MODULE or EDGEKIT_COGNITO_STAND_IN is not set (scripts/test sets both)"
        );
        return;
    };
    let stand_in = StandIn::start(
        &stand_in_command,
        &[
            "--port",
            "0",
            "--id-token-seconds",
            "600",
            "--callback-url",
            "https://docs.example.com/auth/callback",
            "--sign-out-url",
            "https://docs.example.com/",
            "--client-secret",
            CLIENT_SECRET,
        ],
    );
    let dir = std::env::temp_dir().join(format!("edgekit-sign-in-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let declaration = write_declaration(&dir, &stand_in.url);
    // As `package` writes it: the pool's keys fetched, a signing secret generated.
    let packaged = edge_functions::site::read_prepared(
        &declaration,
        &edge_functions::site::Registry::builtin(),
        &WithClientSecret(cloudfront::calls::NetworkPreparation::default()),
    )
    .unwrap();
    let json = packaged.to_json();
    assert!(json.contains("\"jwks\"") && json.contains("\"nonce_secret\""));
    assert!(json.contains(CLIENT_SECRET));
    std::fs::write(dir.join("site.json"), json).unwrap();
    std::fs::write(dir.join("edgekit.json"), r#"{"site": "site.json"}"#).unwrap();
    let so: PathBuf = dir.join("edgekit.abi3.so");
    std::os::unix::fs::symlink(std::fs::canonicalize(&module).unwrap(), &so).unwrap();

    let output = Command::new("python3")
        .args(["-c", FLOW])
        .arg(&so)
        .arg(&stand_in.url)
        .env("EDGEKIT_CONFIG", dir.join("edgekit.json"))
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        output.status.success(),
        "python: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let expected = serde_json::json!({
        "first": "302",
        "authorize": format!("{}/oauth2/authorize", stand_in.url),
        "back_to": "https://docs.example.com/auth/callback",
        "callback": ["302", "/members/notes"],
        "cookies": ["edgekit-id", "edgekit-refresh"],
        "signed_in": true,
        "callback_again": ["302"],
        "refresh": ["302", "/members/notes", true],
        "sign_out": format!("{}/logout", stand_in.url),
        "after_sign_out": [],
        "members_after_sign_out": "302",
        "api": ["401", "unauthorized"],
    });
    assert_eq!(seen, expected);
}
