// The site in headless Chromium: the home page, a card, the Like button, and security headers
// that still let the page's own scripts and styles run.
//
// Needs a running `edgekit serve` at $EDGEKIT_URL (scripts/test starts one) and Debian's
// Chromium at $CHROMIUM (default /usr/bin/chromium).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchChromium, openPage } from './browser.mjs';

const base = process.env.EDGEKIT_URL;
let browser;

before(async () => {
  assert.ok(base, 'set EDGEKIT_URL to the URL `edgekit serve` printed');
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
});

test('home page, a card, and the Like button', async () => {
  const context = await browser.newContext();
  const { page, problems } = await openPage(context);

  const home = await page.goto(base + '/');
  assert.equal(home.status(), 200);
  const headers = home.headers();
  assert.match(headers['content-security-policy'], /script-src 'self'/);
  assert.equal(headers['x-frame-options'], 'DENY');
  assert.equal(await page.title(), 'Alien Cards');
  assert.equal(await page.locator('li.tile').count(), 6);
  // The stylesheet applied (CSP allows the site's own styles).
  const background = await page.evaluate(() => getComputedStyle(document.body).backgroundImage);
  assert.notEqual(background, 'none', 'site.css is applied');

  await page.locator('a.tile-link', { hasText: 'Cat' }).click();
  await page.waitForURL('**/card/k9b430fc');
  assert.match(await page.title(), /^Cat · Alien Cards/);
  const count = page.locator('.likes-count[data-card-id="k9b430fc"]').first();
  const before = Number(await count.textContent());
  const button = page.locator('button.like[data-card-id="k9b430fc"]').first();
  assert.equal(await button.isDisabled(), false);

  await button.click();
  // like.js (allowed by the CSP) posts the like and updates the count in place.
  await page.waitForFunction(
    (expected) => document.querySelector('.likes-count[data-card-id="k9b430fc"]').textContent.trim() === String(expected),
    before + 1,
  );
  assert.match(await button.textContent(), /Liked/);

  // The like cookie makes the next page show the card as liked.
  const cookies = await context.cookies(base);
  assert.ok(cookies.some((c) => c.name === 'liked' && c.value.includes('k9b430fc')), JSON.stringify(cookies));
  await page.goto(base + '/card/k9b430fc');
  assert.match(await page.locator('button.like[data-card-id="k9b430fc"]').first().textContent(), /Liked/);

  assert.deepEqual(problems, [], 'no console errors, no CSP violations');
  await context.close();
});

test('a phone gets the mobile stylesheet', async () => {
  const context = await browser.newContext({
    userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
    viewport: { width: 390, height: 844 },
  });
  const { page, problems } = await openPage(context);
  const css = page.waitForResponse((r) => r.url().endsWith('/css/site.css'));
  await page.goto(base + '/tree');
  const text = await (await css).text();
  assert.ok(text.startsWith('/* mobile */'), 'the edge served css/mobile/site.css');
  assert.match(await page.title(), /^Tree · Alien Cards/);
  assert.deepEqual(problems, []);
  await context.close();
});
