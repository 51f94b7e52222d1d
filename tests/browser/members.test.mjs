// Northwind Docs' members-only area (the `sign-in` block) in headless Chromium, over HTTPS from
// `edgekit serve --https`, with the local stand-in for Cognito's hosted UI and token endpoint
// (scripts/cognito_stand_in.py on moto's user pool: it is not Cognito, it follows Cognito's
// documented /oauth2/authorize, /oauth2/token and /logout contract). The stand-in issues
// 4-second ID tokens here, so that one expires during the test.
//
// Needs the docs site at $EDGEKIT_MEMBERS_URL (serve --https) and the stand-in at
// http://127.0.0.1:8793 (the port the docs site's declaration names); scripts/test starts both.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchChromium, openPage } from './browser.mjs';

const base = process.env.EDGEKIT_MEMBERS_URL;
const standIn = 'http://127.0.0.1:8793';
let browser;

before(async () => {
  assert.ok(base, 'set EDGEKIT_MEMBERS_URL to the URL `edgekit serve --https` printed for the docs site');
  // serve's certificate is signed by its own local authority.
  browser = await launchChromium(['--ignore-certificate-errors']);
});

after(async () => {
  await browser?.close();
});

/** Fills the stand-in's sign-in form and waits to be back on `to`. */
async function signIn(page, user, password, to) {
  assert.ok(page.url().startsWith(standIn + '/oauth2/authorize?'), page.url());
  await page.fill('input[name=username]', user);
  await page.fill('input[name=password]', password);
  await Promise.all([page.waitForURL(to), page.click('button[type=submit]')]);
}

async function notes(page) {
  await page.locator('[data-notes][data-loaded=true]').waitFor();
  return page.locator('[data-notes] li').allTextContents();
}

const NOTES = ['2026-12-01: Webhooks v2', '2026-12-15: Higher rate limits for teams'];

/** What the page saw besides the 401 this test asks for on purpose. */
function unexpected(problems) {
  return problems.filter((p) => !p.includes('401'));
}

test('a member signs in, is refreshed without seeing the sign-in page, signs out and in again', async () => {
  const context = await browser.newContext();
  const { page, problems } = await openPage(context);

  // Not signed in: the members' API answers a script with 401 and JSON, never a redirect.
  await page.goto(base + '/');
  const api = await page.evaluate(async () => {
    const answer = await fetch('/members/api/notes.json');
    return [answer.status, answer.redirected, (await answer.json()).error];
  });
  assert.deepEqual(api, [401, false, 'unauthorized']);

  // The members' area sends the visitor to the user pool's sign-in, and back.
  await page.goto(base + '/members/');
  await signIn(page, 'reader@example.com', 'Members-Only-1', base + '/members/');
  assert.deepEqual(await notes(page), NOTES);
  const cookies = Object.fromEntries((await context.cookies()).map((c) => [c.name, c]));
  assert.ok(cookies['edgekit-id'].httpOnly && cookies['edgekit-id'].secure);
  assert.equal(cookies['edgekit-refresh'].path, '/auth/refresh');
  assert.ok(!Object.keys(cookies).some((name) => name.startsWith('edgekit-nonce-')), 'the nonce is spent');

  // The ID token expires (4 s, and 2 s of clock skew allowed); the next visit is refreshed
  // through /auth/refresh without ever showing the sign-in page.
  await page.waitForTimeout(7000);
  const navigations = [];
  page.on('request', (request) => {
    if (request.isNavigationRequest()) navigations.push(request.url());
  });
  await page.goto(base + '/members/');
  assert.equal(page.url(), base + '/members/');
  assert.ok(navigations.some((url) => url.startsWith(base + '/auth/refresh?')), navigations.join(' '));
  assert.ok(!navigations.some((url) => url.startsWith(standIn)), navigations.join(' '));
  assert.deepEqual(await notes(page), NOTES);

  // Signing out goes through the user pool's logout and back to the home page; the members'
  // area then asks to sign in again (the stand-in's session is over too), and that works.
  await Promise.all([page.waitForURL(base + '/'), page.click('a[href="/auth/sign-out"]')]);
  const left = (await context.cookies()).map((c) => c.name).filter((n) => n.startsWith('edgekit-'));
  assert.deepEqual(left, []);
  await page.goto(base + '/members/');
  await signIn(page, 'reader@example.com', 'Members-Only-1', base + '/members/');
  assert.deepEqual(await notes(page), NOTES);

  assert.deepEqual(unexpected(problems), [], 'no console errors, no CSP violations');
  await context.close();
});

test('two tabs signing in at once both arrive', async () => {
  const context = await browser.newContext();
  const first = (await openPage(context)).page;
  const second = (await openPage(context)).page;
  await first.goto(base + '/members/');
  await second.goto(base + '/members/?tab=2');
  // The second tab finishes first; the first tab's sign-in is still good.
  await signIn(second, 'reader@example.com', 'Members-Only-1', base + '/members/?tab=2');
  await signIn(first, 'reader@example.com', 'Members-Only-1', base + '/members/');
  assert.deepEqual(await notes(first), NOTES);
  assert.deepEqual(await notes(second), NOTES);
  await context.close();
});

test('a reader outside the members group is told so, with no loop', async () => {
  const context = await browser.newContext();
  const { page } = await openPage(context);
  await page.goto(base + '/members/');
  assert.ok(page.url().startsWith(standIn + '/oauth2/authorize?'), page.url());
  await page.fill('input[name=username]', 'visitor@example.com');
  await page.fill('input[name=password]', 'Visitors-Only-1');
  const [answer] = await Promise.all([
    page.waitForResponse((r) => r.url().startsWith(base + '/auth/callback')),
    page.click('button[type=submit]'),
  ]);
  assert.equal(answer.status(), 403);
  assert.match(await page.locator('body').textContent(), /not in the group/);
  await context.close();
});
