#!/usr/bin/env bash
# Load figures for BENCHMARKS.md: `serve` under wrk from a second process on loopback, beside
# nginx serving the same page as a static file with the same security headers (the anchor).
#
# Needs wrk and nginx (Debian: apt-get install wrk nginx-light). Run: benches/load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin edgekit
work="$(mktemp -d)"
cleanup() {
  kill "${serve_pid:-}" 2>/dev/null || true
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

./target/release/edgekit serve --port 0 --quiet --store "$work/cards.json" >"$work/serve.out" 2>&1 &
serve_pid=$!
for _ in $(seq 100); do grep -q 'served at' "$work/serve.out" && break; sleep 0.1; done
url="$(sed -n 's/^Alien Cards is served at \(http[^ ]*\)\/$/\1/p' "$work/serve.out")"

# The anchor: nginx with the rendered card page as a static file.
mkdir -p "$work/www/card"
curl -s -H 'Cookie: alien-variant=a' "$url/card/da8398f4" >"$work/www/card/da8398f4"
nginx_port=$((20000 + RANDOM % 20000))
cat >"$work/nginx.conf" <<CONF
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  default_type text/html;
  client_body_temp_path $work;
  server {
    listen 127.0.0.1:$nginx_port;
    root $work/www;
    add_header Strict-Transport-Security "max-age=63072000; includeSubDomains; preload" always;
    add_header Content-Security-Policy "default-src 'self'" always;
    add_header X-Content-Type-Options nosniff always;
    add_header X-Frame-Options DENY always;
    add_header Referrer-Policy strict-origin-when-cross-origin always;
  }
}
CONF
nginx -c "$work/nginx.conf"
sleep 0.3

cat >"$work/miss.lua" <<'LUA'
-- Every request a new liked cookie: a new cache key, so the page is generated each time.
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", "/card/da8398f4", { ["Cookie"] = "alien-variant=a; liked=" .. string.format("%08x", counter) })
end
LUA

run() { # label, url, extra wrk args
  local label=$1 target=$2; shift 2
  wrk -t2 -c32 -d3s "$@" "$target" >/dev/null # warm-up
  echo "== $label"
  wrk -t2 -c32 -d15s --latency "$@" "$target" | grep -E 'Requests/sec|Latency |^ +(50|99)%|Non-2xx|Socket errors'
}

for round in $(seq "${ROUNDS:-3}"); do
  echo "### round $round"
  run "nginx static card page" "http://127.0.0.1:$nginx_port/card/da8398f4"
  run "serve, cached card page" "$url/card/da8398f4" -H 'Cookie: alien-variant=a'
  run "serve, generated card page (every request a miss)" "$url" -s "$work/miss.lua"
done
echo "== serve after the load: cache usage"
ps -o rss= -p "$serve_pid" | awk '{printf "serve RSS: %.1f MiB\n", $1/1024}'
