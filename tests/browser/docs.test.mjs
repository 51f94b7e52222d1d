// The second example site, Northwind Docs (examples/docs-site), in headless Chromium: the home
// page listing the most read articles, an article that counts its view, a moved link, the
// guide in the reader's language (the browser's, else the country's), the site's own 404 page, and its own CSP.
//
// Needs `edgekit serve --config examples/docs-site/distribution.toml` at $EDGEKIT_DOCS_URL
// (scripts/test starts one) and Debian's Chromium at $CHROMIUM (default /usr/bin/chromium).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchChromium, openPage } from './browser.mjs';

const base = process.env.EDGEKIT_DOCS_URL;
let browser;

before(async () => {
  assert.ok(base, 'set EDGEKIT_DOCS_URL to the URL `edgekit serve` printed for the docs site');
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
});

test('the most read articles, an article that counts its view, a moved link', async () => {
  const context = await browser.newContext();
  const { page, problems } = await openPage(context);

  const home = await page.goto(base + '/');
  assert.equal(home.status(), 200);
  assert.match(home.headers()['content-security-policy'], /img-src 'self' https:\/\/cdn\.northwind\.example/);
  assert.equal(await page.title(), 'Northwind Docs');
  const titles = await page.locator('ol.articles li > a').allTextContents();
  assert.deepEqual(titles, ['Getting started', 'Authentication', 'Rate limits', 'Webhooks']);
  // docs.css applied (the CSP lets the site's own stylesheet through).
  const width = await page.evaluate(() => getComputedStyle(document.body).maxWidth);
  assert.notEqual(width, 'none', 'docs.css is applied');

  // views.js (allowed by the CSP) counts the view of the article it is on and shows the count.
  await page.locator('a', { hasText: 'Webhooks' }).click();
  await page.waitForURL('**/docs/webhooks.html');
  const shown = page.locator('[data-views]');
  await shown.filter({ hasText: /views/ }).waitFor();
  const views = Number((await shown.textContent()).split(' ')[0]);
  assert.ok(views >= 46, `${views} views of 45 seeded`);

  // An old blog link ends on the article, through a cacheable 301.
  const moved = await page.goto(base + '/blog/2024/webhooks');
  assert.equal(moved.status(), 200);
  assert.ok(page.url().endsWith('/docs/webhooks.html'), page.url());
  const redirect = moved.request().redirectedFrom();
  assert.equal((await redirect.response()).status(), 301);

  assert.deepEqual(problems, [], 'no console errors, no CSP violations');
  await context.close();
});

test('the guide in the reader\'s language (browser, else country), and the site\'s own 404 page', async () => {
  // A browser set to German (Accept-Language: de-DE), wherever its reader is.
  const german = await browser.newContext({ locale: 'de-DE', extraHTTPHeaders: { 'X-Country': 'US' } });
  const { page, problems } = await openPage(german);
  await page.goto(base + '/guide/');
  assert.ok(page.url().endsWith('/de/guide/index.html'), page.url());
  assert.equal(await page.locator('h1').textContent(), 'Das Handbuch');
  assert.deepEqual(problems, []);
  await german.close();

  // A browser in a language the guide is not in: the reader's country decides.
  const inFrance = await browser.newContext({ locale: 'ja-JP', extraHTTPHeaders: { 'X-Country': 'FR' } });
  const french = await inFrance.newPage();
  await french.goto(base + '/guide/');
  assert.ok(french.url().endsWith('/fr/guide/index.html'), french.url());
  await inFrance.close();

  const context = await browser.newContext();
  const visitor = await context.newPage();
  await visitor.goto(base + '/guide/');
  assert.equal(await visitor.locator('h1').textContent(), 'The guide');
  const missing = await visitor.goto(base + '/docs/no-such-page.html');
  assert.equal(missing.status(), 404);
  assert.equal(await visitor.locator('h1').textContent(), 'Page not found');
  assert.match(await visitor.locator('p.error').textContent(), /The article may have moved/);
  await context.close();
});
