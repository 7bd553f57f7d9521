// Logs in to the demo with a real browser: Debian's Chromium, headless, driven by
// playwright-core. Usage: node login.mjs URL SCREENSHOT.png
// Prints one JSON line: {"heading": ..., "url": ..., "cookies": [...]} and exits 0,
// or prints the error and exits 1.
import { chromium } from 'playwright-core';

const [url, screenshot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_BIN || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
try {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${url}/reports?year=2026`);
  // The IdP's login form.
  await page.waitForSelector('input[name=login]', { timeout: 15000 });
  await page.fill('input[name=login]', 'alice');
  await page.fill('input[name=password]', 'alice');
  await Promise.all([page.waitForURL(`${url}/reports?year=2026`, { timeout: 15000 }), page.click('button[type=submit]')]);
  const heading = await page.textContent('h1');
  const cookies = (await page.context().cookies()).map((c) => ({ name: c.name, httpOnly: c.httpOnly, secure: c.secure, sameSite: c.sameSite }));
  await page.screenshot({ path: screenshot });
  // Sign out, and the next visit is sent to the IdP again.
  const signedInUrl = page.url();
  await page.goto(`${url}/oauth2/logout`);
  // Through the IdP's logout and back to the site, which sends us to sign in again.
  await page.waitForSelector('input[name=login]', { timeout: 15000 });
  const afterLogout = (await page.context().cookies()).map((c) => c.name);
  console.log(JSON.stringify({ heading, url: signedInUrl, cookies, afterLogout, finalUrl: page.url() }));
} catch (err) {
  console.error(String(err && err.stack || err));
  process.exitCode = 1;
} finally {
  await browser.close();
}
