// Logs in to the demo with a real browser: Debian's Chromium, headless, driven by
// playwright-core, and takes the README's screenshots on the way.
// Usage: node login.mjs URL SHOTS_DIR       (the whole tour)
//        node login.mjs --shot URL FILE.png (one page, as a fresh browser sees it)
// Prints one JSON line: {"heading": ..., "url": ..., "cookies": [...], ...} and exits 0,
// or prints the error and exits 1.
import { chromium } from 'playwright-core';

const args = process.argv.slice(2);
const single = args[0] === '--shot';
const [url, out] = single ? args.slice(1) : args;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_BIN || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
async function signIn(page, user) {
  await page.waitForSelector('input[name=login]', { timeout: 15000 });
  await page.fill('input[name=login]', user);
  await page.fill('input[name=password]', user);
}

try {
  const page = await (await browser.newContext({ viewport: { width: 900, height: 600 } })).newPage();
  if (single) {
    const response = await page.goto(url);
    await page.screenshot({ path: out });
    console.log(JSON.stringify({ status: response.status(), heading: await page.textContent('h1') }));
  } else {
    await page.goto(`${url}/reports?year=2026`);
    // The IdP's login form.
    await signIn(page, 'alice');
    await page.screenshot({ path: `${out}/sign-in.png` });
    await Promise.all([page.waitForURL(`${url}/reports?year=2026`, { timeout: 15000 }), page.click('button[type=submit]')]);
    const heading = await page.textContent('h1');
    const cookies = (await page.context().cookies()).map((c) => ({ name: c.name, httpOnly: c.httpOnly, secure: c.secure, sameSite: c.sameSite }));
    await page.screenshot({ path: `${out}/signed-in.png` });
    const signedInUrl = page.url();
    const admin = await page.goto(`${url}/admin`);
    const adminStatus = admin.status();
    // Sign out, and the next visit is sent to the IdP again.
    await page.goto(`${url}/oauth2/logout`);
    // Through the IdP's logout and back to the site, which sends us to sign in again.
    await page.waitForSelector('input[name=login]', { timeout: 15000 });
    const afterLogout = (await page.context().cookies()).map((c) => c.name);
    const finalUrl = page.url();
    // bob is not in "admins": the 403 page, naming him.
    await page.goto(`${url}/admin`);
    await signIn(page, 'bob');
    const [forbidden] = await Promise.all([
      page.waitForResponse((r) => r.url() === `${url}/admin`, { timeout: 15000 }),
      page.click('button[type=submit]'),
    ]);
    await page.waitForLoadState();
    const forbiddenText = await page.textContent('body');
    await page.screenshot({ path: `${out}/forbidden.png` });
    console.log(JSON.stringify({ heading, url: signedInUrl, cookies, afterLogout, finalUrl, adminStatus,
      forbiddenStatus: forbidden.status(), forbiddenText }));
  }
} catch (err) {
  console.error(String(err && err.stack || err));
  process.exitCode = 1;
} finally {
  await browser.close();
}
