import t from 'tap';
import { createManualClock, systemClock } from '../../src/lib/clock.js';
import { createKeys } from '../../src/redis/keys.js';
import { createMemoryAppTokenStore } from '../../src/redis/memory-app-token-store.js';
import { createMemoryFailureThrottleStore } from '../../src/redis/memory-failure-throttle-store.js';
import { appTokenStoreContract, issueInput, newSnapshot } from './app-token-store.contract.js';

t.test('contract', async (t) => {
  // The contract's expiry subtests wait in real time, so this store runs on the system clock.
  appTokenStoreContract(t, async () => {
    const throttle = createMemoryFailureThrottleStore();
    return { store: createMemoryAppTokenStore({ clock: systemClock, throttle }), throttle, keys: createKeys(''), cleanup: async () => {} };
  });
});

t.test('a record lives through expiresAt and is gone one millisecond later, by the injected clock', async (t) => {
  const clock = createManualClock(1_700_000_000_000);
  const store = createMemoryAppTokenStore({ clock, throttle: createMemoryFailureThrottleStore() });
  const app = newSnapshot();
  await store.putSnapshot(app);
  const input = issueInput(app, { now: clock.now(), expiresAt: clock.now() + 10_000 });
  await store.issue(input);
  clock.set(input.expiresAt);
  t.ok((await store.lookup(app.id, input.tokenHash)).token, 'present at expiresAt, as a Redis key is');
  clock.advance(1);
  t.strictSame(await store.lookup(app.id, input.tokenHash), { token: null, app });
  t.equal(store.recordCount(), 0, 'dropped on access');
});

t.test('issue drops the same app’s lapsed records', async (t) => {
  const clock = createManualClock(1_700_000_000_000);
  const store = createMemoryAppTokenStore({ clock, throttle: createMemoryFailureThrottleStore() });
  const app = newSnapshot();
  await store.putSnapshot(app);
  await store.issue(issueInput(app, { now: clock.now(), expiresAt: clock.now() + 10 }));
  await store.issue(issueInput(app, { now: clock.now(), expiresAt: clock.now() + 10 }));
  clock.advance(11);
  await store.issue(issueInput(app, { now: clock.now() }));
  t.equal(store.recordCount(), 1);
});

t.test('lapsed records are swept on issue, so memory tracks live tokens', async (t) => {
  const clock = createManualClock(1_700_000_000_000);
  const store = createMemoryAppTokenStore({ clock, throttle: createMemoryFailureThrottleStore() });
  let peak = 0;
  let last = newSnapshot();
  // 5,000 tokens of different apps, each lapsing before the next arrives, so pruning the issuing
  // app's index never helps; the clock moves only 50 s, so the count-based sweep (not the
  // one-minute one) has to keep up.
  for (let i = 0; i < 5000; i++) {
    last = newSnapshot();
    await store.putSnapshot(last);
    const now = clock.now();
    await store.issue(issueInput(last, { now, expiresAt: now + 5 }));
    peak = Math.max(peak, store.recordCount());
    clock.advance(10);
  }
  t.ok(peak <= 1025, `peak ${peak} records`);

  clock.advance(60_000);
  await store.issue(issueInput(last, { now: clock.now() }));
  t.equal(store.recordCount(), 1, 'the one-minute sweep drops everything lapsed');
});

t.test('refused issues write nothing', async (t) => {
  const store = createMemoryAppTokenStore({ clock: systemClock, throttle: createMemoryFailureThrottleStore() });
  const app = newSnapshot({ status: 'SUSPENDED' });
  await store.putSnapshot(app);
  t.strictSame(await store.issue(issueInput(app)), { kind: 'app_suspended' });
  t.equal(store.recordCount(), 0);
});

t.test('returned records and snapshots are copies', async (t) => {
  const store = createMemoryAppTokenStore({ clock: systemClock, throttle: createMemoryFailureThrottleStore() });
  const app = newSnapshot();
  await store.putSnapshot(app);
  app.status = 'REVOKED';
  const input = issueInput(app);
  const issued = await store.issue(input);
  if (issued.kind === 'issued') issued.record.organizationCode = 'mutated';
  const seen = await store.lookup(app.id, input.tokenHash);
  if (seen.app) seen.app.organizations.length = 0;
  if (seen.token) seen.token.secretVersion = 99;
  t.match(await store.lookup(app.id, input.tokenHash), {
    token: { organizationCode: app.organizations[1]!.code, secretVersion: 4 },
    app: { status: 'ACTIVE', organizations: app.organizations },
  });
});
