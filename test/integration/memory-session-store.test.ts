import { randomUUID } from 'node:crypto';
import t from 'tap';
import { createManualClock, systemClock } from '../../src/lib/clock.js';
import { createMemorySessionStore } from '../../src/redis/memory-session-store.js';
import { newSession, rotateInput, sessionStoreContract } from './session-store.contract.js';

t.test('contract', async (t) => {
  // The contract's retention subtests wait in real time, so this store runs on the system clock.
  sessionStoreContract(t, async () => ({ store: createMemorySessionStore({ clock: systemClock }), cleanup: async () => {} }));
});

t.test('a record lives through retainUntil and is gone one millisecond later, by the injected clock', async (t) => {
  const clock = createManualClock(1_700_000_000_000);
  const store = createMemorySessionStore({ clock });
  const s = newSession({ createdAt: clock.now(), expiresAt: clock.now() + 10_000, refreshExpiresAt: clock.now() + 5_000, retainUntil: clock.now() + 20_000 });
  await store.create(s);
  clock.set(s.retainUntil);
  t.ok(await store.getAccessState(s.userId, s.sessionId), 'present at retainUntil, as a Redis key is');
  clock.advance(1);
  t.equal(await store.getAccessState(s.userId, s.sessionId), null);
  t.equal(store.recordCount(), 0, 'dropped on access');
});

t.test('expired records are swept on create, so memory tracks live sessions', async (t) => {
  const clock = createManualClock(1_700_000_000_000);
  const store = createMemorySessionStore({ clock });
  let peak = 0;
  // 5,000 sessions of different users, each lapsing before the next arrives; the clock moves
  // only 50 s, so the count-based sweep (not the one-minute one) has to keep up.
  for (let i = 0; i < 5000; i++) {
    const now = clock.now();
    await store.create(newSession({ createdAt: now, expiresAt: now + 5, refreshExpiresAt: now + 5, retainUntil: now + 5 }));
    peak = Math.max(peak, store.recordCount());
    clock.advance(10);
  }
  t.ok(peak <= 1025, `peak ${peak} records`);

  clock.advance(60_000);
  await store.create(newSession({ createdAt: clock.now() }));
  t.equal(store.recordCount(), 1, 'the one-minute sweep drops everything lapsed');
});

t.test("create drops the same user's lapsed records", async (t) => {
  const clock = createManualClock(1_700_000_000_000);
  const store = createMemorySessionStore({ clock });
  const userId = randomUUID();
  await store.create(newSession({ userId, createdAt: clock.now(), refreshExpiresAt: clock.now() + 10, retainUntil: clock.now() + 10 }));
  clock.advance(11);
  await store.create(newSession({ userId, createdAt: clock.now() }));
  t.equal(store.recordCount(), 1);
});

t.test('returned records are copies', async (t) => {
  const store = createMemorySessionStore({ clock: systemClock });
  const s = newSession();
  await store.create(s);
  const info = await store.get(s.userId, s.sessionId);
  if (info) info.status = 'revoked';
  const [listed] = await store.listActiveForUser(s.userId, s.createdAt);
  if (listed) listed.role = 'ADMIN';
  t.match(await store.get(s.userId, s.sessionId), { status: 'active', role: 'CONSUMER' });
  t.match(await store.rotate(rotateInput(s, s.refreshTokenHash, s.createdAt + 1)), { kind: 'rotated', role: 'CONSUMER' });
});
