#!/usr/bin/env python3
"""The Catalogue's API: a small HTTP service of its own, which CloudFront reaches as a custom
origin for /api/* (the `origin-router` block splits visitors between two of its deployments,
"blue" and "green").

    python3 examples/catalogue-site/api/service.py --name blue --port 8791

It answers only requests that carry the header CloudFront adds for it (`--verify-header`), so a
visitor cannot go around the distribution. Endpoints:

    GET /api/products.json   the products (products.json beside this file)
    GET /api/health          {"ok": true, "name": ...}
    GET /api/request         what reached the service: method, path, query, headers (for tests
                             and for checking what CloudFront forwards)

Every answer says which deployment made it in `X-Served-By`. Standard library only.
"""

import argparse
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))


class Handler(BaseHTTPRequestHandler):
    server_version = "catalogue-api"
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without this, Nagle's algorithm holds the body back
    # until the client's delayed ACK (40 ms a request on a kept-alive connection).
    disable_nagle_algorithm = True

    def answer(self, status, body, cache_control="no-store"):
        data = json.dumps(body, indent=1).encode() + b"\n"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", cache_control)
        self.send_header("X-Served-By", self.server.name)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def handle_any(self):
        if self.server.fail_with:
            return self.answer(self.server.fail_with, {"error": "this deployment is broken"})
        name, value = self.server.verify
        if name and self.headers.get(name) != value:
            return self.answer(403, {"error": "not through CloudFront"})
        url = urlsplit(self.path)
        if url.path == "/api/health":
            return self.answer(200, {"ok": True, "name": self.server.name})
        if url.path == "/api/request":
            return self.answer(
                200,
                {
                    "method": self.command,
                    "path": url.path,
                    "query": url.query,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                },
            )
        if url.path == "/api/products.json" and self.command in ("GET", "HEAD"):
            with open(os.path.join(HERE, "products.json"), encoding="utf-8") as f:
                return self.answer(200, json.load(f), "public, max-age=60")
        return self.answer(404, {"error": "no such endpoint", "path": url.path})

    do_GET = do_HEAD = do_POST = handle_any

    def log_message(self, format, *args):
        sys.stderr.write(f"[{self.server.name}] {self.address_string()} {format % args}\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8791, help="port on 127.0.0.1 (default 8791)")
    parser.add_argument("--name", default="blue", help="the deployment's name, in X-Served-By")
    parser.add_argument(
        "--verify-header",
        default="X-Origin-Verify=catalogue-edge",
        help="NAME=VALUE a request must carry (CloudFront's custom origin header); '' for none",
    )
    parser.add_argument(
        "--fail-with",
        type=int,
        default=0,
        metavar="STATUS",
        help="answer every request with this status (a broken deployment, for failover tests)",
    )
    args = parser.parse_args()
    name, _, value = args.verify_header.partition("=")
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.name = args.name
    server.verify = (name.strip(), value)
    server.fail_with = args.fail_with
    print(f"catalogue-api {args.name} on http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
