// Alien Cards over HTTPS from `edgekit serve --https`: the MDN HTTP Observatory's scan grades it
// A+ with every test passing (redirection and HSTS included), HTTP/2 is offered, and plain HTTP
// gets each behavior's viewer protocol policy.
//
// Needs `edgekit serve --https` at $EDGEKIT_HTTPS_URL (https://localhost:<port>/; scripts/test
// starts one) and NODE_EXTRA_CA_CERTS naming its certificate authority (<tls-dir>/ca.pem), so
// that the scanner and this test trust the certificate as a browser told to would.
//
// The scanner runs offline: its install scripts (which download the HSTS preload list and a CA
// bundle) are skipped, and it is given an empty preload list, so the redirection it grades is a
// real redirect, not a preload entry.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import http from 'node:http';
import http2 from 'node:http2';

const base = process.env.EDGEKIT_HTTPS_URL;
let host;
let scanner;

before(() => {
  assert.ok(base, 'set EDGEKIT_HTTPS_URL to the URL `edgekit serve --https` printed');
  assert.ok(process.env.NODE_EXTRA_CA_CERTS, 'set NODE_EXTRA_CA_CERTS to the ca.pem of serve --https');
  host = new URL(base).host;
  const require = createRequire(import.meta.url);
  const root = path.dirname(require.resolve('@mdn/mdn-http-observatory/package.json'));
  const preload = path.join(root, 'conf', 'hsts-preload.json');
  if (!existsSync(preload)) writeFileSync(preload, '{}\n');
  scanner = path.join(root, 'src', 'scan.js');
});

test('the MDN HTTP Observatory grades the site A+ with every test passing', () => {
  // `localhost:<port>`: the scanner asks http:// and https:// of it, one port answering both.
  const run = spawnSync(process.execPath, [scanner, host], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(run.status, 0, run.stderr + run.stdout);
  const result = JSON.parse(run.stdout);
  const failed = Object.entries(result.tests)
    .filter(([, t]) => !t.pass)
    .map(([name, t]) => `${name}: ${t.result}`);
  assert.deepEqual(failed, [], 'every test passes');
  assert.equal(result.scan.grade, 'A+', JSON.stringify(result.scan));
  assert.equal(result.scan.testsFailed, 0);
  assert.equal(result.scan.testsPassed, result.scan.testsQuantity);
  assert.equal(result.tests.redirection.result, 'redirection-to-https');
  assert.equal(
    result.tests['strict-transport-security'].result,
    'hsts-implemented-max-age-at-least-six-months',
  );
  console.log(`observatory: ${result.scan.grade}, score ${result.scan.score}, ` +
    `${result.scan.testsPassed}/${result.scan.testsQuantity} tests passed`);
});

test('HTTPS is offered over HTTP/2', async () => {
  const session = http2.connect(base);
  try {
    const status = await new Promise((resolve, reject) => {
      const stream = session.request({ ':path': '/css/site.css' });
      stream.on('response', (headers) => resolve(headers[':status']));
      stream.on('error', reject);
      stream.resume();
    });
    assert.equal(status, 200);
    assert.equal(session.alpnProtocol, 'h2');
  } finally {
    session.close();
  }
});

/** One plain-HTTP request to the same port. */
function plain(method, pathAndQuery) {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const request = http.request({ hostname, port, method, path: pathAndQuery }, (response) => {
      response.resume();
      response.on('end', () => resolve(response));
    });
    request.on('error', reject);
    request.end();
  });
}

test('plain HTTP gets each behavior\'s viewer protocol policy', async () => {
  // redirect-to-https: the same host, path and query, over HTTPS.
  const page = await plain('GET', '/card/music?ref=mail');
  assert.equal(page.statusCode, 301);
  assert.equal(page.headers.location, `https://${host}/card/music?ref=mail`);
  assert.equal(page.headers['x-cache'], 'Redirect from cloudfront');
  // https-only: the like API refuses plain HTTP (a redirect would turn the POST into a GET).
  const like = await plain('POST', '/api/like?id=da8398f4');
  assert.equal(like.statusCode, 403);
});
