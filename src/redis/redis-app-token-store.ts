/**
 * AppTokenStore on Redis: a JSON snapshot per app, a compact record per live token and a per-app
 * sorted set of token digests, all under the {a:<appId>} hash tag (as are the app's
 * failure-throttle counters, which issue reads in the same script). Layout and scripts live in
 * app-token-scripts.ts; the contract and threat model in app-token-store.ts.
 */
import type { Redis } from 'ioredis';
import { defineScript } from './define-script.js';
import type { Keys } from './keys.js';
import type { AppSnapshot, AppTokenStore, IssueInput, IssueResult } from './app-token-store.js';
import { ruleArguments } from './failure-throttle-store.js';
import {
  assertIssueTimes,
  decodeSnapshot,
  decodeTokenRecord,
  encodeSnapshot,
  ISSUE_SCRIPT,
  PUT_SNAPSHOT_SCRIPT,
  REVOKE_ALL_SCRIPT,
  REVOKE_SCRIPT,
} from './app-token-scripts.js';

const DECODED_SNAPSHOTS_MAX = 10_000;

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/**
 * Snapshot JSON -> AppSnapshot, parsed once per app and version: every token check reads the
 * snapshot, and re-parsing an unchanged one was a few microseconds of each (the string compare is
 * a memcmp). Frozen, since every caller shares it.
 */
/** Parses each app's snapshot once per version (its JSON text), frozen since it is shared. */
export function createSnapshotDecoder() {
  const decoded = new Map<string, { json: string; snapshot: AppSnapshot }>();
  return (appId: string, json: string): AppSnapshot => {
    const cached = decoded.get(appId);
    if (cached && cached.json === json) return cached.snapshot;
    const snapshot = deepFreeze(decodeSnapshot(json));
    if (!cached && decoded.size >= DECODED_SNAPSHOTS_MAX) decoded.clear();
    decoded.set(appId, { json, snapshot });
    return snapshot;
  };
}

function parseIssueReply(input: IssueInput, reply: unknown): IssueResult {
  const [kind, rows, record, appCode] = reply as [string, [number, number][], string | undefined, string | undefined];
  // Omitted without rules, so callers that pass none (benchmarks, tests) see the plain result.
  const throttle = input.throttle ? { throttle: rows.map(([failures, lockedForMs]) => ({ failures: Number(failures), lockedForMs: Number(lockedForMs) })) } : {};
  switch (kind) {
    case 'issued':
      return { kind, record: decodeTokenRecord(input.appId, record ?? ''), appCode: appCode ?? '', ...throttle };
    case 'locked':
    case 'no_snapshot':
    case 'invalid_client':
    case 'secret_expired':
    case 'app_suspended':
    case 'app_revoked':
    case 'org_denied':
    case 'org_required':
    case 'invalid_scope':
      return { kind, ...throttle };
    default:
      throw new Error(`unexpected issue reply: ${String(kind)}`);
  }
}

export function createRedisAppTokenStore(options: { client: Redis; keys: Keys }): AppTokenStore {
  const { client, keys } = options;
  // REVOKE_ALL derives token keys as base + tokenHash; refuse a template it cannot follow.
  if (keys.appToken('a', 'h') !== `${keys.appToken('a', '')}h`) throw new Error('keys.appToken must end with the token hash');

  const snapshotOf = createSnapshotDecoder();
  // Key count varies: 3 of the app's, then the throttle counters the caller passes.
  const issueScript = defineScript(client, 'portcullisAppTokenIssue', ISSUE_SCRIPT);
  const revokeScript = defineScript(client, 'portcullisAppTokenRevoke', REVOKE_SCRIPT, 2);
  const revokeAllScript = defineScript(client, 'portcullisAppTokenRevokeAll', REVOKE_ALL_SCRIPT, 1);
  const putSnapshotScript = defineScript(client, 'portcullisAppSnapshotPut', PUT_SNAPSHOT_SCRIPT, 1);

  return {
    /** One script: a SET that also lands over maxmemory (PUT_SNAPSHOT_SCRIPT). */
    async putSnapshot(snapshot) {
      await putSnapshotScript(keys.appSnapshot(snapshot.id), encodeSnapshot(snapshot));
    },

    /** One GET. */
    async getSnapshot(appId) {
      const json = await client.get(keys.appSnapshot(appId));
      return json === null ? null : snapshotOf(appId, json);
    },

    /** One Lua script: read the lock, decide (counting a wrong secret), SET record PX expiresAt - now, ZADD, prune lapsed scores, index expiry. */
    async issue(input) {
      assertIssueTimes(input);
      const counters = input.throttle?.map((rule) => rule.key) ?? [];
      const reply = await issueScript(
        3 + counters.length,
        keys.appSnapshot(input.appId),
        keys.appTokens(input.appId),
        keys.appToken(input.appId, input.tokenHash),
        ...counters,
        input.secretDigest,
        input.organizationCode ?? '',
        input.organizationId ?? '',
        input.tokenHash,
        input.tokenId,
        input.now,
        input.expiresAt,
        (input.scope ?? []).join(' '),
        ...ruleArguments(input.throttle ?? []),
      );
      return parseIssueReply(input, reply);
    },

    /** One MGET (token record and snapshot share the app's slot); an expired key reads as null. */
    async lookup(appId, tokenHash) {
      const [token, app] = await client.mget(keys.appToken(appId, tokenHash), keys.appSnapshot(appId));
      return { token: token ? decodeTokenRecord(appId, token) : null, app: app ? snapshotOf(appId, app) : null };
    },

    /** One script (REVOKE_SCRIPT): the record and its index entry together, over maxmemory too. */
    async revoke(appId, tokenHash) {
      return Number(await revokeScript(keys.appToken(appId, tokenHash), keys.appTokens(appId), tokenHash)) === 1;
    },

    /** One Lua script over the app's index; counts only records that still existed. */
    async revokeAllForApp(appId) {
      return Number(await revokeAllScript(keys.appTokens(appId), keys.appToken(appId, '')));
    },

    /** One ZCOUNT of index scores strictly after `now`. */
    async countLive(appId, now) {
      return client.zcount(keys.appTokens(appId), `(${now}`, '+inf');
    },
  };
}
