/** Security headers, CORS for listed origins only, and the Origin check on cookie-authenticated routes. */
import t from 'tap';
import { buildTestApp } from '../helpers/app.js';
import { me, refreshCookieOf, registerUser, strongPassword } from '../helpers/factories.js';

const ALLOWED = 'https://app.example.com';

t.test('security headers on every response: the API set on JSON answers, helmet\'s document set on the HTML pages', async (t) => {
  const { app } = await buildTestApp(t);
  for (const url of ['/health/live', '/api/auth/me', '/nope', '/api/v3/auth/apps', '/documents']) {
    const res = await app.inject({ method: 'GET', url });
    t.equal(res.headers['x-content-type-options'], 'nosniff', url);
    t.match(res.headers['strict-transport-security'], /max-age=/, url);
    t.equal(res.headers['content-security-policy'], "default-src 'none'; frame-ancestors 'none'", url);
    t.equal(res.headers['cache-control'], 'no-store', `${url}: auth answers are never cached`);
    t.equal(res.headers['x-frame-options'], 'DENY', url);
    t.equal(res.headers['cross-origin-resource-policy'], 'same-origin', url);
    t.equal(res.headers['referrer-policy'], 'no-referrer', url);
    t.equal(res.headers['x-dns-prefetch-control'], undefined, `${url}: no document-only headers`);
    t.equal(res.headers['x-powered-by'], undefined);
  }
  const jwks = await app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
  t.match(jwks.headers['cache-control'], /^public, max-age=\d+$/, 'a cacheable route sets its own cache-control');

  for (const url of ['/console/', '/console', '/docs']) {
    const res = await app.inject({ method: 'GET', url });
    t.match(res.headers['content-security-policy'], /default-src 'self'/, `${url}: a document CSP`);
    t.equal(res.headers['x-dns-prefetch-control'], 'off', `${url}: helmet's document set`);
    t.equal(res.headers['x-frame-options'], 'SAMEORIGIN', url);
    t.equal(res.headers['cache-control'] === 'no-store', false, `${url}: pages may be cached`);
  }
  const docs = await app.inject({ method: 'GET', url: '/docs' });
  t.equal(docs.statusCode, 200, 'the docs UI still loads under helmet');
});

t.test('CORS: credentials for listed origins only', async (t) => {
  const { app } = await buildTestApp(t, { env: { CORS_ORIGINS: `${ALLOWED}, https://admin.example.com` } });
  const preflight = (origin: string) =>
    app.inject({ method: 'OPTIONS', url: '/api/auth/login', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
  const ok = await preflight(ALLOWED);
  t.equal(ok.headers['access-control-allow-origin'], ALLOWED);
  t.equal(ok.headers['access-control-allow-credentials'], 'true');
  const foreign = await preflight('https://evil.example');
  t.equal(foreign.headers['access-control-allow-origin'], undefined, 'no CORS grant for an unlisted origin');
});

t.test('CORS: no origins configured, no grant and no Vary: Origin', async (t) => {
  const { app } = await buildTestApp(t, { env: { CORS_ORIGINS: '' } });
  const preflight = await app.inject({ method: 'OPTIONS', url: '/api/auth/login', headers: { origin: ALLOWED, 'access-control-request-method': 'POST' } });
  t.equal(preflight.headers['access-control-allow-origin'], undefined, 'a preflight gets no grant');
  const answer = await app.inject({ method: 'GET', url: '/api/auth/me', headers: { origin: ALLOWED } });
  t.equal(answer.statusCode, 401);
  t.equal(answer.headers['access-control-allow-origin'], undefined, 'nor does a cross-origin request');
  t.equal(answer.headers.vary, undefined, 'the answer does not vary by Origin');
});

t.test('refresh and logout refuse foreign origins, and change nothing', async (t) => {
  const { app } = await buildTestApp(t, { env: { CORS_ORIGINS: ALLOWED } });
  const user = await registerUser(app);
  const cookies = { refresh_token: user.refreshToken };
  const post = (url: string, origin?: string, cookie = cookies) =>
    app.inject({ method: 'POST', url, cookies: cookie, headers: origin ? { origin } : {} });

  for (const origin of ['https://evil.example', 'null', 'http://localhost.evil.example', 'https://localhost:80']) {
    const refused = await post('/api/auth/refresh', origin);
    t.equal(refused.statusCode, 403, origin);
    t.equal(refused.json().code, 'ORIGIN_DENIED', origin);
    t.equal(refreshCookieOf(refused), undefined, 'no cookie change');
  }
  const logoutRefused = await post('/api/auth/logout', 'https://evil.example');
  t.equal(logoutRefused.json().code, 'ORIGIN_DENIED');
  t.equal((await me(app, user.accessToken)).statusCode, 200, 'the session survived the refused logout');

  const sameOrigin = await post('/api/auth/refresh', 'http://localhost:80');
  t.equal(sameOrigin.statusCode, 200, "the service's own origin (the seed's plain fetch with credentials)");
  const next = { refresh_token: refreshCookieOf(sameOrigin)!.value };
  const listed = await post('/api/auth/refresh', ALLOWED, next);
  t.equal(listed.statusCode, 200, 'an allowlisted origin');
  const noOrigin = await post('/api/auth/refresh', undefined, { refresh_token: refreshCookieOf(listed)!.value });
  t.equal(noOrigin.statusCode, 200, 'no Origin: not a browser acting for a user');
});

t.test('emails are NFKC-normalised: no look-alike second account', async (t) => {
  const { app } = await buildTestApp(t);
  const password = strongPassword();
  const fullWidth = 'ｆｏｏ.ｂａｒ@example.com';
  const created = await app.inject({ method: 'POST', url: '/api/auth/register', payload: { email: fullWidth, password } });
  t.equal(created.statusCode, 201);
  t.equal(created.json().user.email, 'foo.bar@example.com');
  const duplicate = await app.inject({ method: 'POST', url: '/api/auth/register', payload: { email: 'FOO.BAR@example.com', password } });
  t.equal(duplicate.json().code, 'EMAIL_TAKEN');
  const login = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { email: 'foo.bar@example.com', password } });
  t.equal(login.statusCode, 200);
});

t.test('X-Forwarded-For is believed only from a configured trusted proxy', async (t) => {
  const sessionIp = async (env: Record<string, string>, remoteAddress: string) => {
    const { app } = await buildTestApp(t, { env });
    const registered = await app.inject({
      method: 'POST',
      url: '/api/auth/register',
      remoteAddress,
      headers: { 'x-forwarded-for': '203.0.113.50' },
      payload: { email: `xff-${Math.random()}@example.test`, password: strongPassword() },
    });
    const sessions = await app.inject({ method: 'GET', url: '/api/auth/sessions', headers: { authorization: `Bearer ${registered.json().accessToken}` } });
    return sessions.json().sessions[0].ip;
  };
  t.equal(await sessionIp({}, '127.0.0.1'), '127.0.0.1', 'no TRUST_PROXY: the header is ignored');
  t.equal(await sessionIp({ TRUST_PROXY: '127.0.0.1' }, '127.0.0.1'), '203.0.113.50', 'from the trusted proxy: the client address');
  t.equal(await sessionIp({ TRUST_PROXY: '127.0.0.1' }, '10.9.9.9'), '10.9.9.9', 'from anyone else: ignored');
  t.equal(await sessionIp({ TRUST_PROXY: '10.0.0.0/8' }, '10.9.9.9'), '203.0.113.50', 'CIDR ranges work');
});
