/**
 * The shipped nginx example (examples/nginx/auth-request.conf) in front of a real backend, asking
 * the running service through auth_request: allowed (identity passed on), 401 and 403 paths.
 */
import t from 'tap';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildTestApp } from '../helpers/app.js';
import { adminEnv, registerAdmin, registerUser } from '../helpers/factories.js';
import { freePort } from '../helpers/redis-server.js';

const NGINX = process.env.NGINX_PATH ?? '/usr/sbin/nginx';
const EXAMPLE = fileURLToPath(new URL('../../examples/nginx/auth-request.conf', import.meta.url));
const skip = !existsSync(NGINX) && !process.env.CI ? `no nginx at ${NGINX} (apt-get install nginx)` : false;

t.test('nginx auth_request through /api/auth/check', { skip }, async (t) => {
  const { emails, env } = adminEnv(1);
  const { app } = await buildTestApp(t, { env });
  const admin = await registerAdmin(app, emails[0]!);
  const partner = await registerUser(app, { role: 'PARTNER' });
  const servicePort = Number(new URL(await app.listen({ host: '127.0.0.1', port: 0 })).port);

  // The protected backend: echoes the identity nginx passed on.
  const backend = createServer((request, response) => {
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ path: request.url, subject: request.headers['x-auth-subject'] ?? null, role: request.headers['x-auth-role'] ?? null }));
  });
  await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise((resolve) => backend.close(resolve)));
  const backendPort = (backend.address() as { port: number }).port;

  const proxyPort = await freePort();
  const prefix = mkdtempSync(join(tmpdir(), 'portcullis-nginx-'));
  const site = readFileSync(EXAMPLE, 'utf8')
    .replace('server 127.0.0.1:3000', `server 127.0.0.1:${servicePort}`)
    .replace('server 127.0.0.1:8080', `server 127.0.0.1:${backendPort}`)
    .replace('listen 8000', `listen 127.0.0.1:${proxyPort}`);
  writeFileSync(join(prefix, 'site.conf'), site);
  writeFileSync(
    join(prefix, 'nginx.conf'),
    [
      'user root;',
      'worker_processes 1;',
      'daemon off;',
      `pid ${prefix}/nginx.pid;`,
      `error_log ${prefix}/error.log warn;`,
      'events {}',
      'http {',
      '  access_log off;',
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `  ${kind}_temp_path ${prefix}/${kind};`),
      `  include ${prefix}/site.conf;`,
      '}',
    ].join('\n'),
  );
  const nginx: ChildProcess = spawn(NGINX, ['-p', prefix, '-c', join(prefix, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  nginx.stderr!.on('data', (chunk) => (stderr += chunk));
  t.teardown(async () => {
    nginx.kill('SIGQUIT');
    await new Promise((resolve) => nginx.once('exit', resolve));
    rmSync(prefix, { recursive: true, force: true });
  });
  const base = `http://127.0.0.1:${proxyPort}`;
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      await fetch(`${base}/`);
      break;
    } catch {
      if (nginx.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  const get = (path: string, token?: string) => fetch(`${base}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

  const allowed = await get('/orders/42', partner.accessToken);
  t.equal(allowed.status, 200, 'allowed through to the backend');
  t.match(await allowed.json(), { path: '/orders/42', subject: partner.id, role: 'PARTNER' }, 'with the identity headers');

  t.equal((await get('/orders/42')).status, 401, 'no token: 401 from nginx');
  t.equal((await get('/orders/42', 'garbage')).status, 401, 'a bad token: 401');
  t.equal((await get('/admin/report', partner.accessToken)).status, 403, 'a PARTNER on the admin area: 403');
  const asAdmin = await get('/admin/report', admin.accessToken);
  t.equal(asAdmin.status, 200, 'an ADMIN on the admin area: allowed');
  t.match(await asAdmin.json(), { subject: admin.id });
});
