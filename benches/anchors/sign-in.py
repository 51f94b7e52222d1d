"""Per-event cost of the sign-in block's check in the Python host (the budget: 50 us for a valid
token), on the viewer-request zip `edgekit package` made for Northwind Docs.

The ID tokens are real ones from the local stand-in for Cognito (scripts/cognito_stand_in.py,
which the package's JWKS was fetched from): one sign-in through its form and code exchange, then
refreshes for more tokens. Each case times `edgekit.viewer_request(event, None)` one call at a
time on a fresh copy of the event, with the copy and the timer measured by an empty handler and
taken off; the figure is the median.

- public page: a path the block does not protect (what every other request pays for the block);
- member, token seen before: the instance remembers tokens it has verified;
- member, new token: each call with a token the instance has not seen (the RS256 verification).

    python3 benches/anchors/sign-in.py /tmp/pkg-docs   (the stand-in running on port 8793)
"""
import base64
import copy
import hashlib
import http.client
import importlib.util
import json
import os
import pathlib
import statistics
import sys
import tempfile
import time
import urllib.parse
import zipfile

STAND_IN = os.environ.get("STAND_IN", "http://127.0.0.1:8793")
CLIENT = "northwinddocsmembers"
# A callback URL the stand-in allows by default.
REDIRECT = "https://localhost:8443/auth/callback"


def post(path, form):
    url = urllib.parse.urlsplit(STAND_IN)
    conn = http.client.HTTPConnection(url.hostname, url.port)
    conn.request("POST", path, urllib.parse.urlencode(form),
                 {"Content-Type": "application/x-www-form-urlencoded"})
    answer = conn.getresponse()
    return answer, answer.read()


def tokens(count):
    """`count` distinct valid ID tokens for a member: a sign-in, then refreshes."""
    verifier = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    params = dict(response_type="code", client_id=CLIENT, redirect_uri=REDIRECT, state="s",
                  scope="openid email", code_challenge=challenge, code_challenge_method="S256",
                  username="reader@example.com", password="Members-Only-1")
    answer, _ = post("/login", params)
    code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(answer.getheader("Location")).query))["code"]
    _, body = post("/oauth2/token", dict(grant_type="authorization_code", client_id=CLIENT, code=code,
                                         redirect_uri=REDIRECT, code_verifier=verifier))
    first = json.loads(body)
    found = [first["id_token"]]
    while len(found) < count:
        _, body = post("/oauth2/token", dict(grant_type="refresh_token", client_id=CLIENT,
                                             refresh_token=first["refresh_token"]))
        token = json.loads(body)["id_token"]
        if token not in found:
            found.append(token)
    return found


def load(package):
    package = pathlib.Path(package)
    zips = sorted(package.glob("northwind-docs-viewer-request-*.zip"))
    if not zips:
        sys.exit(f"no northwind-docs-viewer-request zip in {package}: run edgekit package first")
    work = pathlib.Path(tempfile.mkdtemp(prefix="edgekit-sign-in-"))
    zipfile.ZipFile(zips[-1]).extractall(work)
    os.environ["EDGEKIT_CONFIG"] = str(work / "edgekit.json")
    spec = importlib.util.spec_from_file_location("edgekit", work / "edgekit.abi3.so")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, zips[-1]


def event(uri, token=None):
    headers = {"host": [{"key": "Host", "value": "docs.example.com"}],
               "accept": [{"key": "Accept", "value": "text/html"}]}
    if token:
        headers["cookie"] = [{"key": "Cookie", "value": f"theme=dark; edgekit-id={token}"}]
    return {"Records": [{"cf": {
        "config": {"eventType": "viewer-request", "distributionId": "E1",
                   "distributionDomainName": "d1.cloudfront.net", "requestId": "r"},
        "request": {"clientIp": "203.0.113.9", "method": "GET", "uri": uri,
                    "querystring": "", "headers": headers}}}]}


def timed(handler, events):
    """Median ns of `handler` over fresh copies of `events` (one call each), copy included."""
    times = []
    for e in events:
        e = copy.deepcopy(e)
        start = time.perf_counter_ns()
        handler(e, None)
        times.append(time.perf_counter_ns() - start)
    return statistics.median(times)


def empty(event, context):
    return event


def main():
    module, zip_path = load(sys.argv[1] if len(sys.argv) > 1 else "target/package")
    new_tokens = tokens(201)
    member = event("/members/", new_tokens[0])
    result = module.viewer_request(copy.deepcopy(member), None)
    assert "status" not in result, f"the member was not let through: {result.get('status')}"
    public = event("/docs/webhooks.html")
    rounds = 2000
    overhead = timed(empty, [member] * rounds)
    cases = {
        "public page": timed(module.viewer_request, [public] * rounds) - overhead,
        "member, token seen before": timed(module.viewer_request, [member] * rounds) - overhead,
        "member, new token": timed(module.viewer_request,
                                   [event("/members/", t) for t in new_tokens[1:]]) - overhead,
    }
    print(f"{zip_path.name} ({zip_path.stat().st_size} bytes), Python {sys.version.split()[0]}")
    for name, ns in cases.items():
        print(f"  {name:28} {ns / 1000:6.2f} us")


if __name__ == "__main__":
    main()
