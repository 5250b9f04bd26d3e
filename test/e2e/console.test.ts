/**
 * The support console in a real browser (Debian's chromium through playwright-core) against the
 * real server: log in, survive a reload through the refresh cookie, look a user up, see a
 * ROLE_REQUIRED denial explained, end the user's sessions, log out. Saves a screenshot of the
 * lookup view under test-artifacts/.
 */
import t from 'tap';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { buildTestApp } from '../helpers/app.js';
import { adminEnv, registerAdmin, registerUser } from '../helpers/factories.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts', import.meta.url));

// Outside CI a machine without chromium skips this; in CI (.ci/run installs it) a missing browser fails.
const skip = !existsSync(CHROMIUM) && !process.env.CI ? `no chromium at ${CHROMIUM} (apt-get install chromium)` : false;

t.test('the console: login, reload, lookup, explain, revoke, logout', { skip }, async (t) => {
  const { emails, env } = adminEnv(1);
  const { app } = await buildTestApp(t, { env });
  const admin = await registerAdmin(app, emails[0]!);
  const partner = await registerUser(app, { role: 'PARTNER' });
  const denied = await app.inject({ method: 'GET', url: '/api/admin/users', headers: { authorization: `Bearer ${partner.accessToken}` } });
  t.equal(denied.json().code, 'ROLE_REQUIRED', 'the partner was refused');
  await app.authEvents.flush();
  const base = await app.listen({ host: '127.0.0.1', port: 0 });

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.teardown(() => browser.close());
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(error.message));

  await page.goto(`${base}/console/`);
  await page.locator('#login-view').waitFor({ state: 'visible' });
  await page.fill('#login-form input[name=email]', admin.email);
  await page.fill('#login-form input[name=password]', admin.password);
  await page.click('#login-form button');
  await page.locator('#app-view').waitFor({ state: 'visible' });
  t.match(await page.textContent('#whoami-email'), admin.email, 'logged in as the admin');

  await page.reload();
  await page.locator('#app-view').waitFor({ state: 'visible' });
  t.ok(await page.isHidden('#login-view'), 'still logged in after a reload (refresh cookie)');

  await page.fill('#lookup-form input[name=email]', partner.email);
  await page.click('#lookup-form button');
  await page.locator('#report').waitFor({ state: 'visible' });
  t.match(await page.textContent('#account'), 'PARTNER');
  t.match(await page.textContent('#account'), /Login lock\s*none \(0 failed logins since the last success\)/, "the account's login counter");
  const events = await page.textContent('#events');
  t.match(events, '403 ROLE_REQUIRED', 'the denial is listed with its code');
  t.match(events, "role does not allow this action", 'and in plain words');
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: `${ARTIFACTS}/console-lookup.png`, fullPage: true });

  await page.selectOption('#explain-form select[name=method]', 'GET');
  await page.fill('#explain-form input[name=path]', '/api/admin/users');
  await page.click('#explain-form button');
  await page.locator('#verdict').waitFor({ state: 'visible' });
  const verdict = await page.textContent('#verdict');
  t.match(verdict, '403 ROLE_REQUIRED', 'explained');
  t.match(verdict, 'a role or permission problem', 'as a 403, not a session problem');
  t.match(await page.getAttribute('#verdict', 'class'), /s403/, 'shown as a 403');

  await page.click('#revoke');
  await page.locator('#revoke-result', { hasText: 'Ended 1 session' }).waitFor();
  const after = await app.inject({ method: 'GET', url: '/api/auth/me', headers: { authorization: `Bearer ${partner.accessToken}` } });
  t.equal(after.json().code, 'SESSION_REVOKED', "the user's next request is refused");

  await page.click('#logout');
  await page.locator('#login-view').waitFor({ state: 'visible' });
  await page.reload();
  await page.locator('#login-view').waitFor({ state: 'visible' });
  t.ok(await page.isHidden('#app-view'), 'logged out for good');
  t.strictSame(problems, [], 'no script errors');
});
