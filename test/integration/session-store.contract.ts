/**
 * The SessionStore contract, run against every implementation (Redis and in-process) so the two
 * cannot drift. Each subtest gets a fresh store from makeStore and its own random ids.
 * Times passed to the store are real (Date.now()-based): the retention subtests wait a few
 * hundred milliseconds for records to lapse, everything else passes `now` explicitly.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Test } from 'tap';
import type { NewSession, RotateInput, SessionStore } from '../../src/redis/session-store.js';

export type MakeStore = () => Promise<{ store: SessionStore; cleanup: () => Promise<void> }>;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const GRACE_MS = 10_000;

export const digest = () => randomBytes(32).toString('base64url');

export function newSession(overrides: Partial<NewSession> = {}): NewSession {
  const now = Date.now();
  return {
    sessionId: randomUUID(),
    userId: randomUUID(),
    role: 'CONSUMER',
    email: `${randomUUID()}@example.test`,
    name: 'Ada Lovelace',
    ip: '203.0.113.7',
    userAgent: 'Mozilla/5.0 (X11; Linux x86_64) portcullis-contract',
    refreshTokenHash: digest(),
    createdAt: now,
    expiresAt: now + 24 * HOUR,
    refreshExpiresAt: now + HOUR,
    retainUntil: now + HOUR + 15 * MINUTE,
    ...overrides,
  };
}

export function rotateInput(s: NewSession, presentedHash: string, now: number, overrides: Partial<RotateInput> = {}): RotateInput {
  return {
    userId: s.userId,
    sessionId: s.sessionId,
    presentedHash,
    nextHash: digest(),
    sealedSuccessor: `sealed.${digest()}`,
    now,
    graceMs: GRACE_MS,
    refreshTtlMs: HOUR,
    retainMs: 15 * MINUTE,
    ...overrides,
  };
}

export function sessionStoreContract(t: Test, makeStore: MakeStore): void {
  /** A fresh store for one subtest, cleaned up even when an assertion throws. */
  const storeFor = async (t: Test) => {
    const { store, cleanup } = await makeStore();
    t.teardown(cleanup);
    return store;
  };

  t.test('create, get and getAccessState round trip, with ip and user agent truncated', async (t) => {
    const store = await storeFor(t);
    const s = newSession({ role: 'PARTNER', ip: '1'.repeat(100), userAgent: 'u'.repeat(300) });
    await store.create(s);
    t.strictSame(await store.get(s.userId, s.sessionId), {
      sessionId: s.sessionId,
      userId: s.userId,
      role: 'PARTNER',
      email: s.email,
      name: 'Ada Lovelace',
      status: 'active',
      revokedReason: null,
      createdAt: s.createdAt,
      lastUsedAt: s.createdAt,
      expiresAt: s.expiresAt,
      refreshExpiresAt: s.refreshExpiresAt,
      ip: '1'.repeat(64),
      userAgent: 'u'.repeat(256),
    });
    t.strictSame(await store.getAccessState(s.userId, s.sessionId), {
      status: 'active',
      role: 'PARTNER',
      email: s.email,
      name: 'Ada Lovelace',
      expiresAt: s.expiresAt,
      revokedReason: null,
    });
    const nameless = newSession({ name: null });
    await store.create(nameless);
    t.match(await store.getAccessState(nameless.userId, nameless.sessionId), { name: null }, 'a missing name stays null');
  });

  t.test('unknown sessions read as null', async (t) => {
    const store = await storeFor(t);
    const s = newSession();
    await store.create(s);
    t.equal(await store.getAccessState(randomUUID(), randomUUID()), null);
    t.equal(await store.getAccessState(s.userId, randomUUID()), null);
    t.equal(await store.get(s.userId, randomUUID()), null);
    t.equal(await store.get(randomUUID(), s.sessionId), null, 'the session id alone does not find it');
  });

  t.test('rotate moves the current token forward and can rotate again', async (t) => {
    const store = await storeFor(t);
    const s = newSession();
    await store.create(s);
    const first = rotateInput(s, s.refreshTokenHash, s.createdAt + 1000);
    t.strictSame(await store.rotate(first), {
      kind: 'rotated',
      role: 'CONSUMER',
      expiresAt: s.expiresAt,
      refreshExpiresAt: first.now + HOUR,
    });
    const info = await store.get(s.userId, s.sessionId);
    t.equal(info?.lastUsedAt, first.now);
    t.equal(info?.refreshExpiresAt, first.now + HOUR);

    const second = rotateInput(s, first.nextHash, first.now + GRACE_MS + 1000);
    t.match(await store.rotate(second), { kind: 'rotated', refreshExpiresAt: second.now + HOUR });
    t.equal((await store.getAccessState(s.userId, s.sessionId))?.status, 'active');
  });

  t.test('the predecessor within the grace window replays the same successor and changes nothing', async (t) => {
    const store = await storeFor(t);
    const s = newSession();
    await store.create(s);
    const first = rotateInput(s, s.refreshTokenHash, s.createdAt + 1000);
    await store.rotate(first);
    const replay = rotateInput(s, s.refreshTokenHash, first.now + GRACE_MS);
    t.strictSame(await store.rotate(replay), {
      kind: 'replayed',
      role: 'CONSUMER',
      expiresAt: s.expiresAt,
      refreshExpiresAt: first.now + HOUR,
      sealedSuccessor: first.sealedSuccessor,
    });
    t.equal((await store.get(s.userId, s.sessionId))?.lastUsedAt, first.now, 'lastUsedAt unchanged');
    t.match(await store.rotate(rotateInput(s, first.nextHash, replay.now + 1)), { kind: 'rotated' }, 'the first successor is still current');
  });

  t.test('the predecessor after the grace window revokes the session as reused', async (t) => {
    const store = await storeFor(t);
    const s = newSession();
    await store.create(s);
    const first = rotateInput(s, s.refreshTokenHash, s.createdAt + 1000);
    await store.rotate(first);
    t.strictSame(await store.rotate(rotateInput(s, s.refreshTokenHash, first.now + GRACE_MS + 1)), { kind: 'reused' });
    t.strictSame(await store.getAccessState(s.userId, s.sessionId), {
      status: 'revoked',
      role: 'CONSUMER',
      email: s.email,
      name: 'Ada Lovelace',
      expiresAt: s.expiresAt,
      revokedReason: 'reuse_detected',
    });
    t.strictSame(await store.rotate(rotateInput(s, first.nextHash, first.now + GRACE_MS + 2)), { kind: 'revoked', reason: 'reuse_detected' }, 'the thief and the owner are both out');
  });

  t.test('grace window in real time: replays hand back the latest successor, then the predecessor is reuse', async (t) => {
    // Guards the move of the replayable rotation out of the session record (Redis: its own key
    // with an expiry): replays inside the window, judged by the caller's clock, behave as before.
    const store = await storeFor(t);
    const s = newSession();
    await store.create(s);
    const graceMs = 200;
    const first = rotateInput(s, s.refreshTokenHash, Date.now(), { graceMs });
    t.match(await store.rotate(first), { kind: 'rotated' });
    for (let i = 0; i < 2; i++) {
      t.match(await store.rotate(rotateInput(s, s.refreshTokenHash, Date.now(), { graceMs })), { kind: 'replayed', sealedSuccessor: first.sealedSuccessor }, `replay ${i + 1}`);
    }
    const second = rotateInput(s, first.nextHash, Date.now(), { graceMs });
    t.match(await store.rotate(second), { kind: 'rotated' });
    t.match(
      await store.rotate(rotateInput(s, first.nextHash, Date.now(), { graceMs })),
      { kind: 'replayed', sealedSuccessor: second.sealedSuccessor },
      'the predecessor of the latest rotation gets the latest successor',
    );
    await sleep(graceMs + 100);
    t.strictSame(await store.rotate(rotateInput(s, first.nextHash, Date.now(), { graceMs })), { kind: 'reused' }, 'after the window it is reuse');
    t.match(await store.getAccessState(s.userId, s.sessionId), { status: 'revoked', revokedReason: 'reuse_detected' });
    t.match(await store.rotate(rotateInput(s, second.nextHash, Date.now(), { graceMs })), { kind: 'revoked' }, 'the current token is out too');
  });

  t.test('user agent, email and name round trip exactly, multi-byte characters included', async (t) => {
    // Redis stores long text in 64-byte pieces; a character must survive a piece boundary.
    const store = await storeFor(t);
    // 3-, 4- (a surrogate pair) and 2-byte characters throughout, so piece boundaries fall inside
    // characters; 256 UTF-16 units (571 bytes), the longest user agent kept.
    const userAgent = `Moz/${'€😀é'.repeat(63)}`;
    t.equal(userAgent.length, 256);
    const name = 'Ælfgifu Þórsdóttir 李小龍 '.repeat(5).trim();
    const email = `${'x'.repeat(60)}.ünïcödé@${'sub.'.repeat(10)}example.test`;
    const s = newSession({ userAgent, name, email });
    await store.create(s);
    t.match(await store.get(s.userId, s.sessionId), { userAgent, name, email });
    t.match(await store.getAccessState(s.userId, s.sessionId), { name, email });
    const [listed] = await store.listActiveForUser(s.userId, s.createdAt);
    t.match(listed, { sessionId: s.sessionId, userAgent, name, email }, 'the sessions list shows them whole');
    t.match(await store.rotate(rotateInput(s, s.refreshTokenHash, s.createdAt + 1)), { kind: 'rotated' });
    t.match(await store.get(s.userId, s.sessionId), { userAgent, name, email }, 'unchanged by rotation');

    const longer = `${name} ${name}`;
    t.equal(await store.updateProfileForUser(s.userId, { name: longer }), 1);
    t.match(await store.getAccessState(s.userId, s.sessionId), { name: longer });
    t.equal(await store.updateProfileForUser(s.userId, { name: 'Al' }), 1);
    t.match(await store.getAccessState(s.userId, s.sessionId), { name: 'Al', email }, 'a shorter name leaves no pieces of the longer one');
    t.equal(await store.updateProfileForUser(s.userId, { name: null }), 1);
    t.match(await store.get(s.userId, s.sessionId), { name: null, userAgent });
  });

  t.test('a token two generations old is reuse even inside the grace window', async (t) => {
    const store = await storeFor(t);
    const s = newSession();
    await store.create(s);
    const first = rotateInput(s, s.refreshTokenHash, s.createdAt + 1000);
    await store.rotate(first);
    const second = rotateInput(s, first.nextHash, first.now + 1);
    t.match(await store.rotate(second), { kind: 'rotated' });
    t.strictSame(await store.rotate(rotateInput(s, s.refreshTokenHash, second.now + 1)), { kind: 'reused' });
    t.equal((await store.getAccessState(s.userId, s.sessionId))?.revokedReason, 'reuse_detected');
  });

  t.test('an unknown digest on a fresh session is treated as reuse', async (t) => {
    const store = await storeFor(t);
    const s = newSession();
    await store.create(s);
    t.strictSame(await store.rotate(rotateInput(s, digest(), s.createdAt + 1)), { kind: 'reused' });
    t.match(await store.getAccessState(s.userId, s.sessionId), { status: 'revoked', revokedReason: 'reuse_detected' });
    t.match(await store.rotate(rotateInput(s, s.refreshTokenHash, s.createdAt + 2)), { kind: 'revoked' }, 'the real token no longer works');
  });

  t.test('20 concurrent rotations with one token: one rotates, the rest replay its successor', async (t) => {
    const store = await storeFor(t);
    const s = newSession();
    await store.create(s);
    const now = s.createdAt + 1000;
    const inputs = Array.from({ length: 20 }, () => rotateInput(s, s.refreshTokenHash, now));
    const results = await Promise.all(inputs.map((input) => store.rotate(input)));
    const winners = results.flatMap((r, i) => (r.kind === 'rotated' ? [inputs[i]!] : []));
    t.equal(winners.length, 1, 'exactly one rotated');
    t.equal(results.filter((r) => r.kind === 'replayed').length, 19, 'the others replayed');
    const winner = winners[0]!;
    for (const r of results) if (r.kind === 'replayed') t.equal(r.sealedSuccessor, winner.sealedSuccessor);
    t.match(await store.rotate(rotateInput(s, winner.nextHash, now + 1)), { kind: 'rotated' }, "the winner's successor is current");
  });

  t.test('rotate reports revoked, disabled and missing sessions without changing them', async (t) => {
    const store = await storeFor(t);
    const revoked = newSession();
    await store.create(revoked);
    await store.revoke(revoked.userId, revoked.sessionId, 'logout');
    t.strictSame(await store.rotate(rotateInput(revoked, revoked.refreshTokenHash, revoked.createdAt + 1)), { kind: 'revoked', reason: 'logout' });
    t.equal((await store.getAccessState(revoked.userId, revoked.sessionId))?.revokedReason, 'logout', 'reason not overwritten');

    const disabled = newSession();
    await store.create(disabled);
    await store.disableAllForUser(disabled.userId);
    t.strictSame(await store.rotate(rotateInput(disabled, disabled.refreshTokenHash, disabled.createdAt + 1)), { kind: 'disabled' });
    t.strictSame(await store.rotate(rotateInput(disabled, digest(), disabled.createdAt + 1)), { kind: 'disabled' });

    const missing = newSession();
    t.strictSame(await store.rotate(rotateInput(missing, missing.refreshTokenHash, missing.createdAt)), { kind: 'not_found' });
    t.equal(await store.get(missing.userId, missing.sessionId), null, 'rotate does not create');
  });

  t.test('session_expired once now reaches expiresAt, checked before the token', async (t) => {
    const store = await storeFor(t);
    const s = newSession();
    await store.create(s);
    t.strictSame(await store.rotate(rotateInput(s, s.refreshTokenHash, s.expiresAt)), { kind: 'session_expired' });
    t.strictSame(await store.rotate(rotateInput(s, digest(), s.expiresAt + 1)), { kind: 'session_expired' });
    t.equal((await store.getAccessState(s.userId, s.sessionId))?.status, 'active', 'an expired session is not revoked');
  });

  t.test('refresh_expired once now reaches refreshExpiresAt', async (t) => {
    const store = await storeFor(t);
    const s = newSession();
    await store.create(s);
    t.strictSame(await store.rotate(rotateInput(s, s.refreshTokenHash, s.refreshExpiresAt)), { kind: 'refresh_expired' });
    t.equal((await store.get(s.userId, s.sessionId))?.lastUsedAt, s.createdAt, 'nothing changed');
    t.match(await store.rotate(rotateInput(s, s.refreshTokenHash, s.refreshExpiresAt - 1)), { kind: 'rotated' });
  });

  t.test('refreshExpiresAt after rotation is capped at expiresAt', async (t) => {
    const store = await storeFor(t);
    const now = Date.now();
    const s = newSession({ createdAt: now, expiresAt: now + 30 * MINUTE, refreshExpiresAt: now + 10 * MINUTE, retainUntil: now + HOUR });
    await store.create(s);
    const input = rotateInput(s, s.refreshTokenHash, now + 5 * MINUTE, { refreshTtlMs: HOUR });
    t.strictSame(await store.rotate(input), { kind: 'rotated', role: 'CONSUMER', expiresAt: s.expiresAt, refreshExpiresAt: s.expiresAt });
    t.equal((await store.get(s.userId, s.sessionId))?.refreshExpiresAt, s.expiresAt);
  });

  t.test('revoke returns true once and keeps the first reason and the tombstone', async (t) => {
    const store = await storeFor(t);
    const s = newSession();
    await store.create(s);
    t.equal(await store.revoke(s.userId, s.sessionId, 'logout'), true);
    t.equal(await store.revoke(s.userId, s.sessionId, 'admin_revoked'), false);
    t.match(await store.get(s.userId, s.sessionId), { status: 'revoked', revokedReason: 'logout', expiresAt: s.expiresAt });
    t.equal(await store.revoke(s.userId, randomUUID(), 'logout'), false, 'unknown session');
    t.equal(await store.get(s.userId, randomUUID()), null, 'revoke does not create');
  });

  t.test('revokeAllForUser revokes only that user’s active sessions', async (t) => {
    const store = await storeFor(t);
    const userId = randomUUID();
    const [a, b, old] = [newSession({ userId }), newSession({ userId }), newSession({ userId })];
    const other = newSession();
    for (const s of [a, b, old, other]) await store.create(s);
    await store.revoke(userId, old.sessionId, 'logout');
    t.equal(await store.revokeAllForUser(userId, 'logout_all'), 2);
    for (const s of [a, b]) t.match(await store.getAccessState(userId, s.sessionId), { status: 'revoked', revokedReason: 'logout_all' });
    t.match(await store.getAccessState(userId, old.sessionId), { status: 'revoked', revokedReason: 'logout' }, 'first reason kept');
    t.match(await store.getAccessState(other.userId, other.sessionId), { status: 'active', revokedReason: null }, 'other user untouched');
    t.strictSame(await store.rotate(rotateInput(a, a.refreshTokenHash, a.createdAt + 1)), { kind: 'revoked', reason: 'logout_all' });
    t.equal(await store.revokeAllForUser(userId, 'logout_all'), 0, 'nothing left to revoke');
    t.equal(await store.revokeAllForUser(randomUUID(), 'logout_all'), 0, 'unknown user');
  });

  t.test('endDisabledForUser turns disabled sessions into revoked ones, keeping the reason', async (t) => {
    const store = await storeFor(t);
    const userId = randomUUID();
    const [a, b] = [newSession({ userId }), newSession({ userId })];
    for (const s of [a, b]) await store.create(s);
    t.equal(await store.disableAllForUser(userId), 2);
    const fresh = newSession({ userId });
    await store.create(fresh);
    t.equal(await store.endDisabledForUser(userId), 2);
    for (const s of [a, b]) t.match(await store.getAccessState(userId, s.sessionId), { status: 'revoked', revokedReason: 'account_disabled' });
    t.match(await store.getAccessState(userId, fresh.sessionId), { status: 'active' }, 'a session made after re-enabling is untouched');
    t.equal(await store.endDisabledForUser(userId), 0, 'nothing left to end');
  });

  t.test('disableAllForUser disables the active sessions only', async (t) => {
    const store = await storeFor(t);
    const userId = randomUUID();
    const [a, b, old] = [newSession({ userId }), newSession({ userId }), newSession({ userId })];
    const other = newSession();
    for (const s of [a, b, old, other]) await store.create(s);
    await store.revoke(userId, old.sessionId, 'user_revoked');
    t.equal(await store.disableAllForUser(userId), 2);
    for (const s of [a, b]) t.match(await store.getAccessState(userId, s.sessionId), { status: 'disabled', revokedReason: 'account_disabled' });
    t.match(await store.getAccessState(userId, old.sessionId), { status: 'revoked', revokedReason: 'user_revoked' });
    t.match(await store.getAccessState(other.userId, other.sessionId), { status: 'active' });
    t.equal(await store.revoke(userId, a.sessionId, 'logout'), false, 'a disabled session is not active');
    t.equal(await store.disableAllForUser(userId), 0);
  });

  t.test('updateProfileForUser changes role and name of active sessions only', async (t) => {
    const store = await storeFor(t);
    const userId = randomUUID();
    const [a, b, old] = [newSession({ userId }), newSession({ userId }), newSession({ userId })];
    const other = newSession();
    for (const s of [a, b, old, other]) await store.create(s);
    await store.revoke(userId, old.sessionId, 'logout');
    t.equal(await store.updateProfileForUser(userId, { role: 'ADMIN' }), 2);
    for (const s of [a, b]) t.match(await store.getAccessState(userId, s.sessionId), { status: 'active', role: 'ADMIN', name: 'Ada Lovelace' });
    t.match(await store.getAccessState(userId, old.sessionId), { role: 'CONSUMER' });
    t.match(await store.getAccessState(other.userId, other.sessionId), { role: 'CONSUMER' });
    t.equal(await store.updateProfileForUser(userId, { name: 'Grace Hopper' }), 2);
    t.match(await store.get(userId, a.sessionId), { role: 'ADMIN', name: 'Grace Hopper', email: a.email });
    t.equal(await store.updateProfileForUser(userId, { name: null }), 2);
    t.match(await store.getAccessState(userId, b.sessionId), { role: 'ADMIN', name: null, email: b.email });
    t.match(await store.get(userId, old.sessionId), { name: 'Ada Lovelace' }, 'ended sessions keep their profile');
    t.match(await store.rotate(rotateInput(a, a.refreshTokenHash, a.createdAt + 1)), { kind: 'rotated', role: 'ADMIN' });
  });

  t.test('listActiveForUser: active and unexpired only, newest first', async (t) => {
    const store = await storeFor(t);
    const userId = randomUUID();
    const now = Date.now();
    const at = (createdAt: number, overrides: Partial<NewSession> = {}) => newSession({ userId, createdAt, ...overrides });
    const middle = at(now - 2000);
    const newest = at(now - 1000);
    const oldest = at(now - 3000);
    const revoked = at(now - 500);
    const otherUser = newSession({ createdAt: now });
    const sessionOver = at(now - 400, { expiresAt: now, refreshExpiresAt: now });
    const refreshOver = at(now - 300, { refreshExpiresAt: now });
    for (const s of [middle, newest, oldest, revoked, otherUser, sessionOver, refreshOver]) await store.create(s);
    await store.revoke(userId, revoked.sessionId, 'logout');
    const list = await store.listActiveForUser(userId, now);
    t.strictSame(
      list.map((s) => s.sessionId),
      [newest, middle, oldest].map((s) => s.sessionId),
    );
    t.strictSame(list[0], await store.get(userId, newest.sessionId), 'full records');
    t.strictSame(await store.listActiveForUser(randomUUID(), now), []);
  });

  t.test('a record is gone after retainUntil and listing skips it', async (t) => {
    const store = await storeFor(t);
    const now = Date.now();
    const userId = randomUUID();
    const brief = newSession({ userId, createdAt: now, refreshExpiresAt: now + 50, retainUntil: now + 150 });
    const tombstone = newSession({ userId, createdAt: now, refreshExpiresAt: now + 50, retainUntil: now + 150 });
    const lasting = newSession({ userId, createdAt: now - 1 });
    for (const s of [brief, tombstone, lasting]) await store.create(s);
    await store.revoke(userId, tombstone.sessionId, 'logout');
    t.ok(await store.get(userId, brief.sessionId), 'present before retainUntil');
    await sleep(300);
    t.equal(await store.get(userId, brief.sessionId), null);
    t.equal(await store.getAccessState(userId, brief.sessionId), null);
    t.equal(await store.getAccessState(userId, tombstone.sessionId), null, 'the tombstone lapses too');
    t.strictSame(await store.rotate(rotateInput(brief, brief.refreshTokenHash, Date.now())), { kind: 'not_found' });
    t.strictSame((await store.listActiveForUser(userId, Date.now())).map((s) => s.sessionId), [lasting.sessionId]);
    t.equal(await store.revokeAllForUser(userId, 'logout_all'), 1, 'bulk changes skip lapsed records');
  });

  t.test('rotation moves retention to refreshExpiresAt + retainMs', async (t) => {
    const store = await storeFor(t);
    const s = newSession();
    await store.create(s);
    const now = Date.now();
    t.match(await store.rotate(rotateInput(s, s.refreshTokenHash, now, { refreshTtlMs: 50, retainMs: 100 })), { kind: 'rotated', refreshExpiresAt: now + 50 });
    t.ok(await store.get(s.userId, s.sessionId), 'present right after rotation');
    await sleep(350);
    t.equal(await store.get(s.userId, s.sessionId), null, 'gone at the new retainUntil, long before the old one');
    t.strictSame(await store.listActiveForUser(s.userId, Date.now()), []);
  });
}
