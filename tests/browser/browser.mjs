// What the browser tests share: Debian's Chromium launched headless for a test run, and a page
// that records every console error and CSP violation.
import { chromium } from 'playwright-core';

/** Chromium at $CHROMIUM (default /usr/bin/chromium), headless, quiet, with `extra` flags. */
export function launchChromium(extra = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ...extra,
    ],
  });
}

/** A page that records every console error and CSP violation in `problems`. */
export async function openPage(context) {
  const page = await context.newPage();
  const problems = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(String(error)));
  return { page, problems };
}
