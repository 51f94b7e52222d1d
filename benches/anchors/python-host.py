"""Per-event cost of the functions in the Python host, beside plain-Python handlers.

The Lambda Python runtime calls `handler(event, context)` with a dict it has just made with
`json.loads` and sends the returned dict back; this times exactly that call, one call at a time
on a freshly loaded event (as in Lambda: the dict is new and hot in cache), with the timer's own
cost measured by an empty handler and taken off. For each case three handlers:

- `rewrite only`: the one URL rewrite or header set a team might write by hand;
- `equivalent`: a plain-Python port of the whole Alien Cards function (normalize, redirects,
  pretty URLs, the experiment cookie; or cache rules and security headers), checked to return
  exactly what the module returns on the fixture;
- the Rust extension module.

The handlers take turns within each round, and the figure is the median over rounds of each
round's difference, so that a machine that slows down for a while slows all of them alike.

Run it on what ships (after `edgekit package`: the viewer-request zip's module for the
viewer-request case, the origin-response zip's for the origin-response case):
    python3 benches/anchors/python-host.py target/package
or on one built module for both (after `cargo build --release -p edge-python --features pages`):
    python3 benches/anchors/python-host.py target/release/libedge_python.so
"""
import importlib.util
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import zipfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"

CARDS = {"music": "bcbd2481", "tree": "da8398f4", "food": "e51c848c",
         "computer": "fe2f80a7", "cat": "k9b430fc", "beer": "vc7efa69"}
PRETTY = {f"/{name}": f"/card/{card}" for name, card in CARDS.items()}
REDIRECTS = {name: f"/card/{card}" for name, card in CARDS.items()}
SECURITY = [
    ("Strict-Transport-Security", "max-age=63072000; includeSubDomains; preload"),
    ("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"),
]
DROP_EXACT = {"fbclid", "gclid", "msclkid", "mc_cid", "mc_eid", "_ga"}
VARIANTS = [("a", 50), ("b", 50)]
CACHE_RULES = [((".css", ".js"), "public, max-age=86400"),
               ((".svg", ".png", ".jpg", ".webp", ".ico"), "public, max-age=604800"),
               ((".json",), "public, max-age=60")]


def rewrite_only_viewer_request(event, context):
    request = event["Records"][0]["cf"]["request"]
    target = PRETTY.get(request["uri"])
    if target:
        request["uri"] = target
    return request


def _cookie(headers, name):
    for header in headers.get("cookie", ()):
        for pair in header["value"].split(";"):
            n, eq, v = pair.strip().partition("=")
            if eq and n == name:
                return v.strip('"')
    return None


def _fnv1a(data, h=0xcbf29ce484222325):
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def equivalent_viewer_request(event, context):
    """The Alien Cards viewer-request function, written in plain Python."""
    request = event["Records"][0]["cf"]["request"]
    headers = request.setdefault("headers", {})
    uri = request["uri"]
    if uri.endswith("/index.html"):
        uri = uri[: -len("index.html")]
    elif len(uri) > 1 and uri.endswith("/"):
        uri = uri.rstrip("/") or "/"
    request["uri"] = uri
    query = request.get("querystring", "")
    if query:
        pairs = []
        for pair in query.split("&"):
            if pair:
                name = urllib.parse.unquote_plus(pair.split("=", 1)[0])
                if name not in DROP_EXACT and not name.startswith("utm_"):
                    pairs.append((name, pair))
        pairs.sort(key=lambda p: p[0])
        request["querystring"] = "&".join(p for _, p in pairs)
    if uri.startswith("/r/") and uri[3:] in REDIRECTS:
        response_headers = {"location": [{"key": "Location", "value": REDIRECTS[uri[3:]]}],
                            "cache-control": [{"key": "Cache-Control", "value": "no-cache"}]}
        for key, value in SECURITY:
            response_headers[key.lower()] = [{"key": key, "value": value}]
        return {"status": "302", "statusDescription": "Found", "headers": response_headers}
    request["uri"] = PRETTY.get(uri, uri)
    variant = _cookie(headers, "alien-variant")
    if variant not in ("a", "b"):
        agent = headers.get("user-agent", [{"value": ""}])[0]["value"]
        point = _fnv1a(f"{request['clientIp']}\0{agent}".encode()) % 100
        variant = "a" if point < 50 else "b"
    headers["x-experiment-variant"] = [{"key": "X-Experiment-Variant", "value": variant}]
    return request


def rewrite_only_origin_response(event, context):
    response = event["Records"][0]["cf"]["response"]
    headers = response["headers"]
    for key, value in SECURITY:
        headers[key.lower()] = [{"key": key, "value": value}]
    return response


def equivalent_origin_response(event, context):
    """The Alien Cards origin-response function (for a response that is not a 403/404)."""
    cf = event["Records"][0]["cf"]
    response = cf["response"]
    headers = response.setdefault("headers", {})
    status = int(response["status"])
    if (200 <= status < 300 or status == 304) and "cache-control" not in headers:
        uri = cf["request"]["uri"]
        value = next((v for suffixes, v in CACHE_RULES if uri.endswith(suffixes)), "public, max-age=300")
        headers["cache-control"] = [{"key": "Cache-Control", "value": value}]
    for key, value in SECURITY:
        headers[key.lower()] = [{"key": key, "value": value}]
    return response


def load_module(path):
    """Loads a module: out of a package zip with the config and templates it ships with (so this
    also checks that the module reads what `package` writes), or a built `.so` with a config made
    here. Its first event is handled here, while EDGEKIT_CONFIG names its own config."""
    tmp = pathlib.Path(tempfile.mkdtemp())
    so = tmp / "edgekit.abi3.so"
    if str(path).endswith(".zip"):
        with zipfile.ZipFile(path) as z:
            z.extractall(tmp)
    else:
        so.write_bytes(pathlib.Path(path).read_bytes())
        # The declaration as a package carries it, written by the tool.
        cli = next((p for p in (ROOT / "target/release/edgekit", ROOT / "target/debug/edgekit")
                    if p.exists()), None)
        if cli is None:
            sys.exit("no edgekit CLI to write the declaration: `cargo build --release`")
        subprocess.run([str(cli), "check", "--site", str(ROOT / "cloudfront" / "alien-cards.site.toml"),
                        "--out", str(tmp / "site.json")], check=True, capture_output=True)
        (tmp / "edgekit.json").write_text(json.dumps(
            {"site": "site.json", "templates": str(ROOT / "origin-site" / "templates")}))
    os.environ["EDGEKIT_CONFIG"] = str(tmp / "edgekit.json")
    spec = importlib.util.spec_from_file_location("edgekit", so)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.viewer_request(json.loads((FIXTURES / "viewer-request" / "pretty-url.json").read_text()), None)
    return module, tmp


def modules_for(arg):
    """(module for viewer-request, module for origin-response, how they were chosen)."""
    path = pathlib.Path(arg)
    if path.is_dir():
        manifest = json.loads((path / "packages.json").read_text())
        zips = {trigger: path / next(p["key"] for name, p in manifest.items() if name.endswith(trigger))
                for trigger in ("viewer-request", "origin-response")}
        return (load_module(zips["viewer-request"]), load_module(zips["origin-response"]),
                f"the shipped modules: {zips['viewer-request'].name}, {zips['origin-response'].name}")
    loaded = load_module(path)
    return loaded, loaded, f"one module for both: {path}"


def per_event_ns(handler, text, n=20_000):
    """The mean time of one call on a freshly loaded event, over `n` calls."""
    loads, clock = json.loads, time.perf_counter_ns
    total = 0
    for _ in range(n):
        event = loads(text)
        start = clock()
        handler(event, None)
        total += clock() - start
    return total / n


def compare(handlers, text, rounds=15):
    """Per handler, the median over rounds of its cost minus the first (empty) handler's, the
    handlers taking turns within each round."""
    times = [[] for _ in handlers]
    for _ in range(rounds):
        for i, handler in enumerate(handlers):
            times[i].append(per_event_ns(handler, text))
    return [statistics.median(t[r] - times[0][r] for r in range(rounds)) for t in times[1:]]


def empty_handler(event, context):
    return None


def cold_start_ms(code, env, runs=30):
    """Median wall time of a fresh interpreter running `code`, and the largest peak resident
    memory (MB) any of them reached: its own VmHWM at the end (the rusage of a child counts the
    memory of the forked parent before `exec`)."""
    times = []
    peak_kb = 0
    report = "; print(open('/proc/self/status').read().split('VmHWM:')[1].split()[0])"
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", code + report], env=env, check=True,
                              stdout=subprocess.PIPE, text=True)
        times.append((time.perf_counter() - start) * 1000)
        peak_kb = max(peak_kb, int(done.stdout.split()[-1]))
    return statistics.median(times), peak_kb / 1024


def main():
    (viewer, viewer_dir), (origin, _), chosen = modules_for(sys.argv[1])
    env = dict(os.environ)
    event = (FIXTURES / "viewer-request" / "pretty-url.json").read_text()
    handle = f"import json; e = json.loads({event!r}); "
    bare, bare_mb = cold_start_ms("pass", env)
    plain, plain_mb = cold_start_ms(handle + "r = e['Records'][0]['cf']['request']; r['uri'] = '/card/da8398f4'", env)
    env["EDGEKIT_CONFIG"] = str(viewer_dir / "edgekit.json")
    ours, ours_mb = cold_start_ms(f"import sys; sys.path.insert(0, {str(viewer_dir)!r}); " + handle
                                  + "import edgekit; edgekit.viewer_request(e, None)", env)
    print(f"python {sys.version.split()[0]}; {chosen}")
    print(f"cold start (median of 30 fresh processes): bare {bare:.1f} ms, plain handler {plain:.1f} ms, "
          f"Rust module {ours:.1f} ms ({ours - plain:+.1f} ms over the plain handler, {ours - bare:+.1f} ms over bare Python)")
    print(f"peak resident memory (largest of the 30): bare {bare_mb:.1f} MB, plain handler {plain_mb:.1f} MB, "
          f"Rust module loaded with one event handled {ours_mb:.1f} MB (viewer quota 128 MB)")
    cases = [
        ("viewer-request/pretty-url", rewrite_only_viewer_request, equivalent_viewer_request,
         viewer.viewer_request),
        ("origin-response/static-css-gets-cache-control", rewrite_only_origin_response,
         equivalent_origin_response, origin.origin_response),
    ]
    for name, rewrite, equivalent, ours in cases:
        text = (FIXTURES / f"{name}.json").read_text()
        # The port must do what the module does, or the comparison means nothing.
        assert equivalent(json.loads(text), None) == ours(json.loads(text), None), name
        rewrite_ns, equivalent_ns, ours_ns = compare([empty_handler, rewrite, equivalent, ours], text)
        print(f"{name}: rewrite only {rewrite_ns / 1000:.2f} us, plain-Python equivalent "
              f"{equivalent_ns / 1000:.2f} us, Rust module {ours_ns / 1000:.2f} us "
              f"(+{(ours_ns - equivalent_ns) / 1000:.2f} us over the equivalent, "
              f"+{(ours_ns - rewrite_ns) / 1000:.2f} us over the rewrite alone)")


if __name__ == "__main__":
    main()
