"""Writes the fuzz targets' seed corpora (fuzz/corpus/<target>/) from the project's fixtures:
the fixture events of both example sites, the validator's event/result pairs, the site
declarations (TOML, and as the JSON a package carries) and a few raw HTTP requests.

    python3 fuzz/seeds.py        (fuzz/run does it before fuzzing)
"""

import hashlib
import json
import pathlib
import subprocess
import sys

FUZZ = pathlib.Path(__file__).resolve().parent
ROOT = FUZZ.parent
TRIGGERS = ["viewer-request", "origin-request", "origin-response", "viewer-response"]
SITES = [ROOT / "tests/fixtures", ROOT / "examples/docs-site/fixtures"]


def write(target, data):
    out = FUZZ / "corpus" / target
    out.mkdir(parents=True, exist_ok=True)
    (out / hashlib.sha1(data).hexdigest()).write_bytes(data)


def events(site_dir, trigger):
    folder = site_dir / trigger
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.json") if not p.name.endswith(".data.json"))


def main():
    count = 0
    for site_index, site_dir in enumerate(SITES):
        for trigger_index, trigger in enumerate(TRIGGERS):
            for event in events(site_dir, trigger):
                data = event.read_bytes()
                write("event_round_trip", data)
                write("site_functions", bytes([site_index * len(TRIGGERS) + trigger_index]) + data)
                count += 2
                if site_index == 0:  # the Python host's harness runs Alien Cards
                    write("python_walk", bytes([trigger_index]) + data)
                    count += 1
    for trigger_index, trigger in enumerate(TRIGGERS):
        for event in sorted((ROOT / "tests/fixtures/validate" / trigger).glob("*.event.json")):
            result = event.with_name(event.name.replace(".event.json", ".result.json"))
            if result.exists():
                write("validator", bytes([trigger_index]) + event.read_bytes() + b"\0" + result.read_bytes())
                count += 1
    declarations = [ROOT / "cloudfront/alien-cards.site.toml", ROOT / "examples/docs-site/docs.site.toml",
                    ROOT / "src/starter/site.toml", ROOT / "examples/team-block/site.toml"]
    cli = next((p for p in (ROOT / "target/release/edgekit", ROOT / "target/debug/edgekit") if p.exists()), None)
    for declaration in declarations:
        write("declaration", declaration.read_bytes())
        count += 1
        if cli is not None:
            done = subprocess.run([str(cli), "check", "--site", str(declaration), "--out", "/dev/stdout"],
                                  capture_output=True)
            text = done.stdout.decode()
            start = text.find("{")
            if done.returncode == 0 and start >= 0:
                end = text.rfind("}") + 1
                write("declaration", text[start:end].encode())
                count += 1
    requests = [
        b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"GET /card/da8398f4 HTTP/1.1\r\nHost: localhost\r\nCookie: liked=da8398f4\r\nCloudFront-Viewer-Country: DE\r\n\r\n",
        b"POST /api/like?id=da8398f4 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n",
        b"GET /css/site.css HTTP/1.1\r\nHost: localhost\r\nUser-Agent: Mozilla/5.0 (iPhone)\r\nAccept-Encoding: gzip\r\n\r\n",
        b"GET /r/about?utm_source=x&b=2&a=1 HTTP/1.1\r\nHost: localhost\r\n\r\nGET /missing HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"POST /api/like?id=x HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n",
        b"HEAD /images/logo.png HTTP/1.1\r\nHost: localhost\r\nIf-None-Match: \"x\"\r\nRange: bytes=0-10\r\n\r\n",
        b"OPTIONS * HTTP/1.1\r\nHost: localhost\r\n\r\n",
    ]
    for request in requests:
        write("http_request", request)
        count += 1
    print(f"{count} seeds in {FUZZ / 'corpus'}")


if __name__ == "__main__":
    sys.exit(main())
