/** The real entry point as a child process: start-up checks, the backends line, graceful exit. */
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function startServer(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const waitFor = async (pattern: RegExp, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(output)) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`did not see ${pattern}; output:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  return { child, exited, waitFor, output: () => output };
}

t.test('production refuses to start without its servers and secret, naming each', async (t) => {
  const server = startServer({ NODE_ENV: 'production' });
  const code = await server.exited;
  t.equal(code, 78);
  for (const key of ['DATABASE_URL', 'REDIS_URL', 'APP_SECRET_PEPPER', 'SIGNING_KEY_ENCRYPTION_KEY']) t.match(server.output(), `${key}: required when NODE_ENV=production`);
  t.notMatch(server.output(), 'JWT_SECRET', 'asymmetric signing (the default) needs no JWT_SECRET');
});

t.test('production with JWT_ALGORITHM=HS256 asks for JWT_SECRET instead of the key-encryption key', async (t) => {
  const server = startServer({ NODE_ENV: 'production', JWT_ALGORITHM: 'HS256' });
  t.equal(await server.exited, 78);
  t.match(server.output(), 'JWT_SECRET: required when NODE_ENV=production and JWT_ALGORITHM=HS256');
  t.notMatch(server.output(), 'SIGNING_KEY_ENCRYPTION_KEY');
});

t.test('a SIGNING_KEY_ENCRYPTION_KEY that does not open the stored keys stops start-up with 78, naming it', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'portcullis-pglite-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const first = startServer({ PORT: '0', PGLITE_DATA_DIR: dataDir, LOG_LEVEL: 'info', SIGNING_KEY_ENCRYPTION_KEY: 'the-first-key-encryption-key-0123456789' });
  t.teardown(() => first.child.kill('SIGKILL'));
  await first.waitFor(/portcullis ready/);
  first.child.kill('SIGTERM');
  t.equal(await first.exited, 0);
  const second = startServer({ PORT: '0', PGLITE_DATA_DIR: dataDir, SIGNING_KEY_ENCRYPTION_KEY: 'a-different-key-encryption-key-0123456789' });
  t.teardown(() => second.child.kill('SIGKILL'));
  t.equal(await second.exited, 78);
  t.match(second.output(), /signing key \S+ does not open with SIGNING_KEY_ENCRYPTION_KEY/);
});

t.test('a bad value stops start-up naming the variable', async (t) => {
  const server = startServer({ PORT: 'eighty', JWT_ACCESS_TTL: 'soon' });
  t.equal(await server.exited, 78);
  t.match(server.output(), /PORT: /);
  t.match(server.output(), /JWT_ACCESS_TTL: /);
});

t.test('with nothing configured it runs embedded, says so, serves, and exits 0 on SIGTERM', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'portcullis-pglite-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const server = startServer({ PORT: '0', PGLITE_DATA_DIR: dataDir, LOG_LEVEL: 'info' });
  t.teardown(() => server.child.kill('SIGKILL'));
  await server.waitFor(/portcullis ready: database pglite \([^)]+\), token store in-process store/);
  const address = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(server.output())?.[1];
  t.ok(address, 'logs its address');
  const response = await fetch(`${address}/health/ready`);
  const body = await response.text();
  t.equal(response.status, 200, body);
  t.match(JSON.parse(body), { status: 'ok', checks: { database: 'ok', store: 'ok' } });
  server.child.kill('SIGTERM');
  t.equal(await server.exited, 0);
});
