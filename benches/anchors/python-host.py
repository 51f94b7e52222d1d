"""Per-event cost of the functions in the Python host, beside a plain-Python handler.

The Lambda Python runtime calls `handler(event, context)` with the event as a dict and sends the
returned dict back; this times exactly that call, for the viewer-request pretty-URL fixture and
the origin-response security headers fixture: our extension module against the plain-Python
handler a team would otherwise write (editing the dict in place).

Run (after `cargo build --release -p edge-python`, or `alien-edge package`):
    python3 benches/anchors/python-host.py target/release/libalien_edge.so
"""
import copy
import importlib.util
import json
import os
import pathlib
import statistics
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"

PRETTY = {"/music": "/card/bcbd2481", "/tree": "/card/da8398f4", "/food": "/card/e51c848c",
          "/computer": "/card/fe2f80a7", "/cat": "/card/k9b430fc", "/beer": "/card/vc7efa69"}
SECURITY = [
    ("Strict-Transport-Security", "max-age=63072000; includeSubDomains; preload"),
    ("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"),
]


def plain_viewer_request(event, context):
    request = event["Records"][0]["cf"]["request"]
    target = PRETTY.get(request["uri"])
    if target:
        request["uri"] = target
    return request


def plain_origin_response(event, context):
    response = event["Records"][0]["cf"]["response"]
    headers = response["headers"]
    for key, value in SECURITY:
        headers[key.lower()] = [{"key": key, "value": value}]
    if "cache-control" not in headers:
        headers["cache-control"] = [{"key": "Cache-Control", "value": "public, max-age=86400"}]
    return response


def load_module(path):
    tmp = pathlib.Path(tempfile.mkdtemp())
    so = tmp / "alien_edge.abi3.so"
    so.write_bytes(pathlib.Path(path).read_bytes())
    (tmp / "alien_edge.json").write_text(json.dumps(
        {"site": "alien-cards", "table": "alien-cards", "templates": str(ROOT / "origin-site" / "templates")}))
    os.environ["ALIEN_EDGE_CONFIG"] = str(tmp / "alien_edge.json")
    spec = importlib.util.spec_from_file_location("alien_edge", so)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def per_event_ns(handler, event, rounds=7, n=50_000):
    # A fresh copy per call, made outside the timing, as Lambda hands each call a new dict.
    results = []
    for _ in range(rounds):
        events = [copy.deepcopy(event) for _ in range(n)]
        start = time.perf_counter_ns()
        for e in events:
            handler(e, None)
        results.append((time.perf_counter_ns() - start) / n)
    return statistics.median(results)


def cold_start_ms(code, env, runs=30):
    """Median wall time of a fresh interpreter running `code`."""
    import subprocess
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], env=env, check=True)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main():
    module = load_module(sys.argv[1])
    env = dict(os.environ)
    so_dir = str(pathlib.Path(os.environ["ALIEN_EDGE_CONFIG"]).parent)
    event = (FIXTURES / "viewer-request" / "pretty-url.json").read_text()
    handle = f"import json; e = json.loads({event!r}); "
    bare = cold_start_ms("pass", env)
    plain = cold_start_ms(handle + "r = e['Records'][0]['cf']['request']; r['uri'] = '/card/da8398f4'", env)
    ours = cold_start_ms(f"import sys; sys.path.insert(0, {so_dir!r}); " + handle
                         + "import alien_edge; alien_edge.viewer_request(e, None)", env)
    print(f"cold start (median of 30 fresh processes): bare {bare:.1f} ms, plain handler {plain:.1f} ms, "
          f"Rust module {ours:.1f} ms (+{ours - plain:.1f} ms over the plain handler)")
    cases = [
        ("viewer-request/pretty-url", plain_viewer_request, module.viewer_request),
        ("origin-response/static-css-gets-cache-control", plain_origin_response, module.origin_response),
    ]
    print(f"python {sys.version.split()[0]}")
    for name, plain, ours in cases:
        event = json.loads((FIXTURES / f"{name}.json").read_text())
        plain_ns = per_event_ns(plain, event)
        ours_ns = per_event_ns(ours, event)
        print(f"{name}: plain Python {plain_ns / 1000:.2f} us, Rust module {ours_ns / 1000:.2f} us "
              f"(+{(ours_ns - plain_ns) / 1000:.2f} us per event)")


if __name__ == "__main__":
    main()
