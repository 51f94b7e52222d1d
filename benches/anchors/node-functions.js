// The anchor for BENCHMARKS.md: the same customizations written as the usual Node.js
// Lambda@Edge handlers (the workshop's style), timed the way `benches/triggers.rs` times ours:
// event JSON string in -> result JSON string out, as the Node runtime pays per event.
//
// Run: node benches/anchors/node-functions.js
'use strict';
const fs = require('fs');
const path = require('path');

const fixtures = path.join(__dirname, '..', '..', 'tests', 'fixtures');
const compact = (name) => JSON.stringify(JSON.parse(fs.readFileSync(path.join(fixtures, name), 'utf8')));

const pretty = { '/music': '/card/bcbd2481', '/tree': '/card/da8398f4', '/food': '/card/e51c848c',
  '/computer': '/card/fe2f80a7', '/cat': '/card/k9b430fc', '/beer': '/card/vc7efa69' };

function viewerRequest(event) {
  const request = event.Records[0].cf.request;
  const target = pretty[request.uri];
  if (target) request.uri = target;
  return request;
}

const security = [
  ['Strict-Transport-Security', 'max-age=63072000; includeSubDomains; preload'],
  ['Content-Security-Policy', "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'"],
  ['X-Content-Type-Options', 'nosniff'],
  ['X-Frame-Options', 'DENY'],
  ['Referrer-Policy', 'strict-origin-when-cross-origin'],
  ['Permissions-Policy', 'camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()'],
];

function originResponse(event) {
  const response = event.Records[0].cf.response;
  for (const [key, value] of security) response.headers[key.toLowerCase()] = [{ key, value }];
  if (!response.headers['cache-control']) {
    response.headers['cache-control'] = [{ key: 'Cache-Control', value: 'public, max-age=86400' }];
  }
  return response;
}

function time(label, input, handler) {
  const run = () => JSON.stringify(handler(JSON.parse(input)));
  for (let i = 0; i < 50000; i++) run();
  const rounds = [];
  for (let r = 0; r < 7; r++) {
    const n = 100000;
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) run();
    rounds.push(Number(process.hrtime.bigint() - start) / n);
  }
  rounds.sort((a, b) => a - b);
  console.log(`${label}: median ${(rounds[3] / 1000).toFixed(2)} µs per event (min ${(rounds[0] / 1000).toFixed(2)}, max ${(rounds[6] / 1000).toFixed(2)}; 7 × 100,000 events, ${input.length} bytes in)`);
}

time('node viewer-request/pretty-url', compact('viewer-request/pretty-url.json'), viewerRequest);
time('node origin-response/static-css-gets-cache-control', compact('origin-response/static-css-gets-cache-control.json'), originResponse);
