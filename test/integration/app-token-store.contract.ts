/**
 * The AppTokenStore contract, run against every implementation (Redis and in-process) so the two
 * cannot drift. Each subtest gets a fresh store from makeStore and its own random app ids.
 * Times passed to the store are real (Date.now()-based): the expiry and pruning subtests wait a
 * few hundred milliseconds for records to lapse, everything else passes `now` explicitly (the
 * throttle subtests move `now` past a lock rather than waiting for it).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Test } from 'tap';
import type { AppSnapshot, AppTokenStore, IssueInput, SnapshotSecret } from '../../src/redis/app-token-store.js';
import type { SecretStatus } from '../../src/db/schema.js';
import type { FailureThrottleStore, ThrottleRule } from '../../src/redis/failure-throttle-store.js';
import type { Keys } from '../../src/redis/keys.js';

/** `throttle` is the failure-throttle store whose counters `store.issue` reads; `keys` name them. */
export type MakeStore = () => Promise<{ store: AppTokenStore; throttle: FailureThrottleStore; keys: Keys; cleanup: () => Promise<void> }>;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

export const digest = () => randomBytes(32).toString('base64url');

/** An ACTIVE app with one secret of each status (newest first) and two organizations, the second the default. */
export function newSnapshot(overrides: Partial<AppSnapshot> = {}): AppSnapshot {
  const id = randomUUID();
  return {
    id,
    code: `app-${id.slice(0, 8)}`,
    name: 'Contract App',
    status: 'ACTIVE',
    clientId: `cid_${randomBytes(16).toString('base64url')}`,
    secrets: [
      { version: 4, digest: digest(), status: 'ACTIVE', graceUntil: null },
      { version: 3, digest: digest(), status: 'GRACE', graceUntil: Date.now() + HOUR },
      { version: 2, digest: digest(), status: 'EXPIRED', graceUntil: null },
      { version: 1, digest: digest(), status: 'REVOKED', graceUntil: null },
    ],
    permissions: ['billing:invoice:read', 'billing:invoice:write'],
    organizations: [
      { id: randomUUID(), code: `north-${randomUUID().slice(0, 8)}`, isDefault: false },
      { id: randomUUID(), code: `south-${randomUUID().slice(0, 8)}`, isDefault: true },
    ],
    ...overrides,
  };
}

export function secretOf(app: AppSnapshot, status: SecretStatus): SnapshotSecret {
  const secret = app.secrets.find((s) => s.status === status);
  if (!secret) throw new Error(`snapshot has no ${status} secret`);
  return secret;
}

/** Issues with the app's ACTIVE secret for an hour from now unless overridden. */
export function issueInput(app: AppSnapshot, overrides: Partial<IssueInput> = {}): IssueInput {
  const now = overrides.now ?? Date.now();
  return {
    appId: app.id,
    secretDigest: overrides.secretDigest ?? secretOf(app, 'ACTIVE').digest,
    tokenHash: digest(),
    tokenId: randomUUID(),
    now,
    expiresAt: now + HOUR,
    ...overrides,
  };
}

/**
 * An app's client-credential counters, shaped as credential-throttle.ts builds them: the pair
 * (app + address) locks from the 3rd failure for 1 s, doubling; the app as a whole from the 5th
 * for 30 s.
 */
export function throttleRules(keys: Keys, appId: string, ip: string): ThrottleRule[] {
  return [
    { key: keys.clientFailuresFrom(appId, ip), lockAfter: 3, lockMs: 1000, maxLockMs: MINUTE, doubling: true, windowMs: 10 * MINUTE },
    { key: keys.clientFailures(appId), lockAfter: 5, lockMs: 30_000, maxLockMs: 30_000, doubling: false, windowMs: 10 * MINUTE },
  ];
}

export function appTokenStoreContract(t: Test, makeStore: MakeStore): void {
  /** A fresh store for one subtest, cleaned up even when an assertion throws. */
  const storeFor = async (t: Test) => (await fixtureFor(t)).store;
  const fixtureFor = async (t: Test) => {
    const fixture = await makeStore();
    t.teardown(fixture.cleanup);
    return fixture;
  };

  t.test('putSnapshot and getSnapshot round trip; putSnapshot overwrites', async (t) => {
    const store = await storeFor(t);
    const app = newSnapshot();
    t.equal(await store.getSnapshot(app.id), null, 'unknown app');
    await store.putSnapshot(app);
    t.strictSame(await store.getSnapshot(app.id), app);
    const changed: AppSnapshot = { ...app, name: 'Renamed', status: 'SUSPENDED', permissions: [], organizations: [] };
    await store.putSnapshot(changed);
    t.strictSame(await store.getSnapshot(app.id), changed);
    const read = await store.getSnapshot(app.id);
    try {
      read?.permissions.push('mutated');
    } catch {
      // A shared snapshot is frozen: the attempt throws.
    }
    t.strictSame((await store.getSnapshot(app.id))?.permissions, [], 'a caller cannot change what the next read returns');
  });

  t.test("lookup's snapshot cannot be changed by a caller: the next lookup sees the stored one", async (t) => {
    const store = await storeFor(t);
    const app = newSnapshot();
    await store.putSnapshot(app);
    const input = issueInput(app);
    await store.issue(input);
    const first = await store.lookup(app.id, input.tokenHash);
    try {
      first.app?.permissions.push('mutated');
      first.app?.organizations.splice(0);
    } catch {
      // A shared snapshot is frozen: the attempt throws.
    }
    t.strictSame((await store.lookup(app.id, input.tokenHash)).app, app);
    const renamed = { ...app, name: 'Renamed' };
    await store.putSnapshot(renamed);
    t.strictSame((await store.lookup(app.id, input.tokenHash)).app, renamed, 'a new version is read, not the one seen before');
  });

  t.test('issue with an ACTIVE secret writes the record; lookup returns it with the snapshot', async (t) => {
    const store = await storeFor(t);
    const app = newSnapshot();
    await store.putSnapshot(app);
    const input = issueInput(app);
    const expected = {
      tokenId: input.tokenId,
      appId: app.id,
      organizationId: app.organizations[1]!.id,
      organizationCode: app.organizations[1]!.code,
      secretVersion: 4,
      issuedAt: input.now,
      expiresAt: input.expiresAt,
    };
    t.strictSame(await store.issue(input), { kind: 'issued', record: expected, appCode: app.code });
    t.strictSame(await store.lookup(app.id, input.tokenHash), { token: expected, app });
    t.equal(await store.countLive(app.id, input.now), 1);
  });

  t.test('epoch milliseconds near 1.8e12 round-trip and compare exactly', async (t) => {
    const store = await storeFor(t);
    const graceUntil = 1_799_999_999_999;
    const app = newSnapshot({ secrets: [{ version: 2_000_000_007, digest: digest(), status: 'GRACE', graceUntil }] });
    await store.putSnapshot(app);
    const input = issueInput(app, { secretDigest: app.secrets[0]!.digest, now: graceUntil - 1, expiresAt: graceUntil + HOUR - 1 });
    t.match(await store.issue(input), { kind: 'issued', record: { issuedAt: graceUntil - 1, expiresAt: graceUntil + HOUR - 1, secretVersion: 2_000_000_007 } });
    t.match((await store.lookup(app.id, input.tokenHash)).token, { issuedAt: graceUntil - 1, expiresAt: graceUntil + HOUR - 1 });
    t.strictSame(await store.issue({ ...input, tokenHash: digest(), now: graceUntil }), { kind: 'secret_expired' }, 'one millisecond later');
    t.equal((await store.getSnapshot(app.id))?.secrets[0]?.graceUntil, graceUntil);
  });

  t.test('lookup of an unknown token or app reads as null', async (t) => {
    const store = await storeFor(t);
    const app = newSnapshot();
    await store.putSnapshot(app);
    await store.issue(issueInput(app));
    t.strictSame(await store.lookup(app.id, digest()), { token: null, app });
    t.strictSame(await store.lookup(randomUUID(), digest()), { token: null, app: null });
  });

  t.test('a record is gone after expiresAt; revokeAllForApp counts only live ones', async (t) => {
    const store = await storeFor(t);
    const app = newSnapshot();
    await store.putSnapshot(app);
    const now = Date.now();
    const brief = issueInput(app, { now, expiresAt: now + 150 });
    const lasting = [issueInput(app, { now }), issueInput(app, { now })];
    for (const input of [brief, ...lasting]) t.match(await store.issue(input), { kind: 'issued' });
    t.ok((await store.lookup(app.id, brief.tokenHash)).token, 'present before expiresAt');
    await sleep(300);
    t.strictSame(await store.lookup(app.id, brief.tokenHash), { token: null, app });
    t.equal(await store.countLive(app.id, Date.now()), 2);
    t.equal(await store.revoke(app.id, brief.tokenHash), false, 'a lapsed record cannot be revoked');
    t.equal(await store.revokeAllForApp(app.id), 2, 'only records that still existed');
  });

  t.test('issue prunes index entries that expired before now', async (t) => {
    const store = await storeFor(t);
    const app = newSnapshot();
    await store.putSnapshot(app);
    const start = Date.now();
    await store.issue(issueInput(app, { now: start, expiresAt: start + 100 }));
    await sleep(200);
    await store.issue(issueInput(app));
    // Asking as of `start` would still count the lapsed entry had issue not dropped it.
    t.equal(await store.countLive(app.id, start), 1);
  });

  t.test('a GRACE secret works strictly before graceUntil', async (t) => {
    const store = await storeFor(t);
    const app = newSnapshot();
    await store.putSnapshot(app);
    const grace = secretOf(app, 'GRACE');
    const graceUntil = grace.graceUntil!;
    t.match(await store.issue(issueInput(app, { secretDigest: grace.digest, now: graceUntil - 1 })), { kind: 'issued', record: { secretVersion: 3 } });
    t.strictSame(await store.issue(issueInput(app, { secretDigest: grace.digest, now: graceUntil })), { kind: 'secret_expired' });
    t.strictSame(await store.issue(issueInput(app, { secretDigest: grace.digest, now: graceUntil + MINUTE })), { kind: 'secret_expired' });

    const open = newSnapshot({ secrets: [{ version: 1, digest: digest(), status: 'GRACE', graceUntil: null }] });
    await store.putSnapshot(open);
    t.strictSame(await store.issue(issueInput(open, { secretDigest: open.secrets[0]!.digest })), { kind: 'secret_expired' }, 'GRACE without graceUntil');
  });

  t.test('EXPIRED and REVOKED secrets are secret_expired', async (t) => {
    const store = await storeFor(t);
    const app = newSnapshot();
    await store.putSnapshot(app);
    for (const status of ['EXPIRED', 'REVOKED'] as const) {
      t.strictSame(await store.issue(issueInput(app, { secretDigest: secretOf(app, status).digest })), { kind: 'secret_expired' }, status);
    }
    t.equal(await store.countLive(app.id, Date.now()), 0, 'nothing written');
  });

  t.test('the secret is checked before the app status; a revoked app is named once any secret matches', async (t) => {
    const store = await storeFor(t);
    for (const status of ['SUSPENDED', 'REVOKED'] as const) {
      const app = newSnapshot({ status });
      await store.putSnapshot(app);
      t.strictSame(await store.issue(issueInput(app, { secretDigest: digest() })), { kind: 'invalid_client' }, `wrong digest, ${status} app`);
    }
    const suspended = newSnapshot({ status: 'SUSPENDED' });
    await store.putSnapshot(suspended);
    t.strictSame(await store.issue(issueInput(suspended, { secretDigest: secretOf(suspended, 'EXPIRED').digest })), { kind: 'secret_expired' }, 'old secret, suspended app');
    // Revoking an app revokes its secrets too, so "revoked" must win over "secret expired".
    const revoked = newSnapshot({ status: 'REVOKED' });
    await store.putSnapshot(revoked);
    t.strictSame(await store.issue(issueInput(revoked, { secretDigest: secretOf(revoked, 'EXPIRED').digest })), { kind: 'app_revoked' }, 'old secret, revoked app');
    const app = newSnapshot();
    await store.putSnapshot(app);
    t.strictSame(await store.issue(issueInput(app, { secretDigest: '' })), { kind: 'invalid_client' }, 'an empty digest matches nothing');
  });

  t.test('a scope limits the token to granted codes; an ungranted code is invalid_scope and writes nothing', async (t) => {
    const store = await storeFor(t);
    const app = newSnapshot();
    await store.putSnapshot(app);
    const scoped = issueInput(app, { scope: ['billing:invoice:read'] });
    const issued = await store.issue(scoped);
    t.match(issued, { kind: 'issued', record: { scope: ['billing:invoice:read'] } });
    t.match(await store.lookup(app.id, scoped.tokenHash), { token: { scope: ['billing:invoice:read'] } }, 'stored with the token');
    const unscoped = issueInput(app);
    t.notOk((await store.issue(unscoped) as { record?: { scope?: unknown } }).record?.scope, 'no scope: no limit recorded');
    const tooWide = issueInput(app, { scope: ['billing:invoice:read', 'admin:everything'] });
    t.strictSame(await store.issue(tooWide), { kind: 'invalid_scope' });
    t.strictSame(await store.lookup(app.id, tooWide.tokenHash), { token: null, app }, 'nothing written');
  });

  t.test('suspended and revoked apps refuse the right secret', async (t) => {
    const store = await storeFor(t);
    const suspended = newSnapshot({ status: 'SUSPENDED' });
    const revoked = newSnapshot({ status: 'REVOKED' });
    for (const app of [suspended, revoked]) await store.putSnapshot(app);
    t.strictSame(await store.issue(issueInput(suspended)), { kind: 'app_suspended' });
    t.strictSame(await store.issue(issueInput(revoked)), { kind: 'app_revoked' });
    t.strictSame(await store.issue(issueInput(suspended, { secretDigest: secretOf(suspended, 'GRACE').digest })), { kind: 'app_suspended' });
    t.equal(await store.countLive(suspended.id, Date.now()), 0, 'nothing written');
  });

  t.test('organization selection', async (t) => {
    const store = await storeFor(t);
    const app = newSnapshot();
    const [north, south] = [app.organizations[0]!, app.organizations[1]!];
    await store.putSnapshot(app);
    const orgOf = async (overrides: Partial<IssueInput>) => {
      const result = await store.issue(issueInput(app, overrides));
      return result.kind === 'issued' ? [result.record.organizationId, result.record.organizationCode] : result.kind;
    };
    t.strictSame(await orgOf({ organizationCode: north.code }), [north.id, north.code], 'by code');
    t.strictSame(await orgOf({ organizationId: north.id }), [north.id, north.code], 'by id');
    t.strictSame(await orgOf({ organizationCode: north.code, organizationId: north.id }), [north.id, north.code], 'both, agreeing');
    t.strictSame(await orgOf({}), [south.id, south.code], 'the default when nothing is requested');
    t.strictSame(await orgOf({ organizationCode: '', organizationId: '' }), [south.id, south.code], 'empty strings are not requests');
    t.equal(await orgOf({ organizationCode: 'nowhere' }), 'org_denied', 'unknown code');
    t.equal(await orgOf({ organizationId: randomUUID() }), 'org_denied', 'unknown id');
    t.equal(await orgOf({ organizationCode: north.code, organizationId: south.id }), 'org_denied', 'both, disagreeing');
    t.equal(await orgOf({ organizationCode: south.id }), 'org_denied', 'an id is not a code');

    const single = newSnapshot({ organizations: [{ id: randomUUID(), code: 'only', isDefault: false }] });
    const several = newSnapshot({ organizations: app.organizations.map((o) => ({ ...o, isDefault: false })) });
    const none = newSnapshot({ organizations: [] });
    for (const a of [single, several, none]) await store.putSnapshot(a);
    t.match(await store.issue(issueInput(single)), { kind: 'issued', record: { organizationCode: 'only' } }, 'the only one');
    t.strictSame(await store.issue(issueInput(several)), { kind: 'org_required' }, 'several, no default');
    t.strictSame(await store.issue(issueInput(none)), { kind: 'org_required' }, 'none');
    t.strictSame(await store.issue(issueInput(none, { organizationCode: 'any' })), { kind: 'org_denied' }, 'none, one requested');
  });

  t.test('no snapshot: no_snapshot, and nothing written', async (t) => {
    const store = await storeFor(t);
    const app = newSnapshot();
    const input = issueInput(app);
    t.strictSame(await store.issue(input), { kind: 'no_snapshot' });
    t.strictSame(await store.lookup(app.id, input.tokenHash), { token: null, app: null });
  });

  t.test('issue refuses a non-positive or fractional lifetime', async (t) => {
    const store = await storeFor(t);
    const app = newSnapshot();
    await store.putSnapshot(app);
    const now = Date.now();
    await t.rejects(store.issue(issueInput(app, { now, expiresAt: now })), RangeError);
    await t.rejects(store.issue(issueInput(app, { now, expiresAt: now + 0.5 })), RangeError);
  });

  t.test('revoke returns true once and the record is gone', async (t) => {
    const store = await storeFor(t);
    const app = newSnapshot();
    await store.putSnapshot(app);
    const [a, b] = [issueInput(app), issueInput(app)];
    for (const input of [a, b]) await store.issue(input);
    t.equal(await store.revoke(app.id, a.tokenHash), true);
    t.equal(await store.revoke(app.id, a.tokenHash), false);
    t.strictSame(await store.lookup(app.id, a.tokenHash), { token: null, app });
    t.ok((await store.lookup(app.id, b.tokenHash)).token, 'the other token lives');
    t.equal(await store.countLive(app.id, a.now), 1, 'index entry gone');
    t.equal(await store.revoke(randomUUID(), digest()), false, 'unknown');
  });

  t.test("revokeAllForApp ends every token of that app only", async (t) => {
    const store = await storeFor(t);
    const app = newSnapshot();
    const other = newSnapshot();
    for (const a of [app, other]) await store.putSnapshot(a);
    const mine = [issueInput(app), issueInput(app), issueInput(app)];
    const theirs = issueInput(other);
    for (const input of [...mine, theirs]) await store.issue(input);
    t.equal(await store.revokeAllForApp(app.id), 3);
    for (const input of mine) t.equal((await store.lookup(app.id, input.tokenHash)).token, null);
    t.equal(await store.countLive(app.id, Date.now()), 0);
    t.ok((await store.lookup(other.id, theirs.tokenHash)).token, "the other app's token survives");
    t.equal(await store.countLive(other.id, Date.now()), 1);
    t.strictSame(await store.getSnapshot(app.id), app, 'the snapshot stays');
    t.equal(await store.revokeAllForApp(app.id), 0, 'nothing left');
    t.equal(await store.revokeAllForApp(randomUUID()), 0, 'unknown app');
    t.match(await store.issue(issueInput(app)), { kind: 'issued' }, 'the app can issue again');
  });

  t.test('countLive counts index entries expiring strictly after now', async (t) => {
    const store = await storeFor(t);
    const app = newSnapshot();
    await store.putSnapshot(app);
    const now = Date.now();
    for (const ttl of [1000, 2000, 3000]) await store.issue(issueInput(app, { now, expiresAt: now + ttl }));
    t.equal(await store.countLive(app.id, now), 3);
    t.equal(await store.countLive(app.id, now + 1500), 2);
    t.equal(await store.countLive(app.id, now + 2999), 1);
    t.equal(await store.countLive(app.id, now + 3000), 0, 'an entry expiring at now is not live');
    t.equal(await store.countLive(randomUUID(), now), 0);
  });

  t.test('20 concurrent issues for one app all succeed with distinct records', async (t) => {
    const store = await storeFor(t);
    const app = newSnapshot();
    await store.putSnapshot(app);
    const inputs = Array.from({ length: 20 }, () => issueInput(app));
    const results = await Promise.all(inputs.map((input) => store.issue(input)));
    t.ok(results.every((r) => r.kind === 'issued'), 'all issued');
    const ids = new Set(results.map((r) => (r.kind === 'issued' ? r.record.tokenId : '')));
    t.equal(ids.size, 20, 'distinct records');
    t.equal(await store.countLive(app.id, Date.now()), 20);
    for (const [i, input] of inputs.entries()) {
      t.strictSame((await store.lookup(app.id, input.tokenHash)).token, results[i]?.kind === 'issued' ? results[i].record : 'missing');
    }
  });

  t.test('a snapshot change is visible to the next lookup and issue', async (t) => {
    const store = await storeFor(t);
    const app = newSnapshot();
    await store.putSnapshot(app);
    const input = issueInput(app);
    await store.issue(input);
    await store.putSnapshot({ ...app, status: 'SUSPENDED' });
    const seen = await store.lookup(app.id, input.tokenHash);
    t.equal(seen.app?.status, 'SUSPENDED');
    t.ok(seen.token, 'the token record is untouched: the caller applies the status');
    t.strictSame(await store.issue(issueInput(app)), { kind: 'app_suspended' });

    // Rotation: the old ACTIVE secret becomes a lapsed GRACE one.
    const rotated: AppSnapshot = {
      ...app,
      secrets: [{ version: 5, digest: digest(), status: 'ACTIVE', graceUntil: null }, { ...secretOf(app, 'ACTIVE'), status: 'GRACE', graceUntil: input.now }],
    };
    await store.putSnapshot(rotated);
    t.strictSame(await store.issue(issueInput(app, { now: input.now + 1 })), { kind: 'secret_expired' });
    t.match(await store.issue(issueInput(rotated)), { kind: 'issued', record: { secretVersion: 5 } });
  });

  t.test('a locked pair counter refuses issue before the secret: nothing written, failures reported; issues once the lock ends', async (t) => {
    const { store, throttle, keys } = await fixtureFor(t);
    const app = newSnapshot();
    await store.putSnapshot(app);
    const t0 = Date.now();
    const rules = throttleRules(keys, app.id, 'ip-guessing');
    const clear = [{ failures: 0, lockedForMs: 0 }, { failures: 0, lockedForMs: 0 }];
    // An index entry that has lapsed by t0 + 400: an issue that got as far as writing would prune it.
    t.strictSame((await store.issue(issueInput(app, { now: t0, expiresAt: t0 + 100, throttle: rules }))).throttle, clear, 'no failures yet');
    await store.issue(issueInput(app, { now: t0 }));
    for (let i = 0; i < 3; i++) await throttle.recordFailure(rules, t0);
    const lockedStates = [{ failures: 3, lockedForMs: 600 }, { failures: 3, lockedForMs: 0 }];

    const refused = issueInput(app, { now: t0 + 400, throttle: rules });
    t.strictSame(await store.issue(refused), { kind: 'locked', throttle: lockedStates }, 'the right secret is refused');
    t.strictSame(await store.issue(issueInput(app, { now: t0 + 400, secretDigest: digest(), throttle: rules })), { kind: 'locked', throttle: lockedStates }, 'a wrong one too: the lock comes first');
    t.strictSame(await store.lookup(app.id, refused.tokenHash), { token: null, app }, 'no token record');
    t.equal(await store.countLive(app.id, t0), 2, 'the index is untouched (nothing added, nothing pruned)');
    t.strictSame(await throttle.read(rules, t0 + 400), lockedStates, 'a refused issue counts no failure');
    t.match(await store.issue(issueInput(app, { now: t0 + 400 })), { kind: 'issued' }, 'an issue without rules ignores the counters');

    const later = issueInput(app, { now: t0 + 1000, throttle: rules });
    const issued = await store.issue(later);
    t.match(issued, { kind: 'issued', record: { tokenId: later.tokenId } }, 'issued once the lock has ended');
    t.strictSame(issued.throttle, [{ failures: 3, lockedForMs: 0 }, { failures: 3, lockedForMs: 0 }], 'reporting the failures it found');
    t.ok((await store.lookup(app.id, later.tokenHash)).token, 'the record is written');
    t.strictSame(await throttle.read(rules, t0 + 1000), clear, 'and the issuance cleared them');
  });

  t.test('a wrong or unusable secret is counted by the issue itself; concurrent guesses pass no more than the threshold', async (t) => {
    const { store, throttle, keys } = await fixtureFor(t);
    const app = newSnapshot();
    await store.putSnapshot(app);
    const t0 = Date.now();
    const rules = throttleRules(keys, app.id, 'ip-guessing');
    t.strictSame(await store.issue(issueInput(app, { now: t0, secretDigest: digest(), throttle: rules })), {
      kind: 'invalid_client',
      throttle: [{ failures: 1, lockedForMs: 0 }, { failures: 1, lockedForMs: 0 }],
    }, 'a wrong secret: reported with itself counted');
    t.strictSame(await store.issue(issueInput(app, { now: t0, secretDigest: secretOf(app, 'EXPIRED').digest, throttle: rules })), {
      kind: 'secret_expired',
      throttle: [{ failures: 2, lockedForMs: 0 }, { failures: 2, lockedForMs: 0 }],
    }, 'an expired one too');
    t.strictSame(await throttle.read(rules, t0), [{ failures: 2, lockedForMs: 0 }, { failures: 2, lockedForMs: 0 }]);

    const burst = throttleRules(keys, app.id, 'ip-burst');
    const results = await Promise.all(Array.from({ length: 10 }, () => store.issue(issueInput(app, { now: t0, secretDigest: digest(), throttle: burst }))));
    t.equal(results.filter((result) => result.kind === 'invalid_client').length, 3, 'three guesses checked, as the pair allows');
    t.equal(results.filter((result) => result.kind === 'locked').length, 7, 'the other seven refused by the lock');
    t.strictSame(await throttle.read(burst, t0), [{ failures: 3, lockedForMs: 1000 }, { failures: 5, lockedForMs: 30_000 }], 'the app-wide counter has all five failures');
  });

  t.test('a locked subject counter refuses issue from every address until it ends', async (t) => {
    const { store, throttle, keys } = await fixtureFor(t);
    const app = newSnapshot();
    await store.putSnapshot(app);
    const t0 = Date.now();
    for (let i = 0; i < 5; i++) await throttle.recordFailure(throttleRules(keys, app.id, `ip-${i}`), t0);
    const elsewhere = throttleRules(keys, app.id, 'ip-owner');
    const refused = issueInput(app, { now: t0 + 10_000, throttle: elsewhere });
    t.strictSame(await store.issue(refused), { kind: 'locked', throttle: [{ failures: 0, lockedForMs: 0 }, { failures: 5, lockedForMs: 20_000 }] });
    t.strictSame(await store.lookup(app.id, refused.tokenHash), { token: null, app }, 'no token record');
    t.equal(await store.countLive(app.id, t0), 0, 'no index entry');
    t.strictSame(await store.issue(issueInput(app, { now: t0 + 29_999, throttle: elsewhere })), { kind: 'locked', throttle: [{ failures: 0, lockedForMs: 0 }, { failures: 5, lockedForMs: 1 }] }, 'one millisecond before the end');
    const issued = await store.issue(issueInput(app, { now: t0 + 30_000, throttle: elsewhere }));
    t.match(issued, { kind: 'issued', throttle: [{ failures: 0, lockedForMs: 0 }, { failures: 5, lockedForMs: 0 }] }, 'issued when the lock ends');
    t.equal(await store.countLive(app.id, t0), 1);
    const other = newSnapshot();
    await store.putSnapshot(other);
    t.match(await store.issue(issueInput(other, { now: t0 + 10_000, throttle: throttleRules(keys, other.id, 'ip-0') })), { kind: 'issued' }, "another app's counters are its own");
  });

  t.test('the lock is read before the snapshot; every refusal reports the counters', async (t) => {
    const { store, throttle, keys } = await fixtureFor(t);
    const t0 = Date.now();
    const unknown = newSnapshot();
    const rules = throttleRules(keys, unknown.id, 'ip-guessing');
    await throttle.recordFailure(rules, t0);
    t.strictSame(await store.issue(issueInput(unknown, { now: t0, throttle: rules })), { kind: 'no_snapshot', throttle: [{ failures: 1, lockedForMs: 0 }, { failures: 1, lockedForMs: 0 }] });
    for (let i = 0; i < 2; i++) await throttle.recordFailure(rules, t0);
    t.strictSame(await store.issue(issueInput(unknown, { now: t0, throttle: rules })), { kind: 'locked', throttle: [{ failures: 3, lockedForMs: 1000 }, { failures: 3, lockedForMs: 0 }] }, 'locked, not no_snapshot: no rebuild for a locked client');

    const app = newSnapshot({ status: 'SUSPENDED' });
    await store.putSnapshot(app);
    const appRules = throttleRules(keys, app.id, 'ip-guessing');
    await throttle.recordFailure(appRules, t0);
    const twice = [{ failures: 2, lockedForMs: 0 }, { failures: 2, lockedForMs: 0 }];
    t.strictSame(await store.issue(issueInput(app, { now: t0, secretDigest: digest(), throttle: appRules })), { kind: 'invalid_client', throttle: twice }, 'the wrong secret counted');
    t.strictSame(await store.issue(issueInput(app, { now: t0, throttle: appRules })), { kind: 'app_suspended', throttle: twice }, 'a refusal past the secret counts nothing');
    t.strictSame(await throttle.read(appRules, t0), twice);
  });
}
