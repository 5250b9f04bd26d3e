/** The operator CLI's signing-key commands as a child process, beside a running app. */
import t from 'tap';
import { appWithCli } from './cli-helpers.js';

t.test('keys:rotate adds a pending signing key a running instance publishes after its reload; keys:list shows the schedule', async (t) => {
  const { app, cli } = await appWithCli(t);
  const before = JSON.parse((await cli('keys:list')).stdout) as Array<{ kid: string; status: string }>;
  t.strictSame(before.map((key) => key.status), ['active']);

  const bad = await cli('keys:rotate', '--algorithm', 'HS256');
  t.equal(bad.code, 1, 'HS256 is not a key to rotate to');
  t.match(bad.stderr, /VALIDATION_ERROR/);
  t.equal(JSON.parse((await cli('keys:list')).stdout).length, 1, 'a refused rotation adds nothing');

  const rotated = await cli('keys:rotate', '--algorithm', 'ES256');
  t.equal(rotated.code, 0, rotated.stderr);
  const after = JSON.parse(rotated.stdout) as Array<{ kid: string; status: string; algorithm: string; created_by: string; activates_at: string }>;
  const added = after.find((key) => key.status === 'pending')!;
  t.match(added, { algorithm: 'ES256', created_by: 'cli' });
  t.ok(Date.parse(added.activates_at) > Date.now() + 9 * 60_000, 'signs only after the publish delay');
  t.notMatch(rotated.stdout, /PRIVATE|"d"/, 'no key material printed');

  await app.signingKeys.reload(); // what the instance does on its own every 30 s
  const jwks = (await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json().keys as Array<{ kid: string }>;
  t.ok(jwks.some((key) => key.kid === added.kid), 'the running instance publishes the CLI\'s key');
});
