/** usableSecretOf: the client-secret check shared by client authentication (revocation, introspection) and the bench's floor. */
import t from 'tap';
import { createAppCredentialCodec, newClientSecret } from '../../src/lib/app-credentials.js';
import { usableSecretOf } from '../../src/modules/app-auth/token-service.js';
import type { AppSnapshot, SnapshotSecret } from '../../src/redis/app-token-store.js';

const codec = createAppCredentialCodec(Buffer.from('a test pepper of at least 32 bytes!!'));
const NOW = 1_800_000_000_000;

function snapshotWith(secrets: SnapshotSecret[]): AppSnapshot {
  return { id: 'app', code: 'app', name: 'App', status: 'ACTIVE', clientId: 'cid_x', secrets, permissions: [], organizations: [] };
}

t.test('only a matching secret that is ACTIVE, or GRACE before its grace_until, is usable', async (t) => {
  const [active, grace, lapsed, expired, revoked] = [1, 2, 3, 4, 5].map(() => newClientSecret());
  const secret = (version: number, plain: string, status: SnapshotSecret['status'], graceUntil: number | null = null): SnapshotSecret =>
    ({ version, digest: codec.secretDigest(plain), status, graceUntil });
  const snapshot = snapshotWith([
    secret(5, active!, 'ACTIVE'),
    secret(4, grace!, 'GRACE', NOW + 1),
    secret(3, lapsed!, 'GRACE', NOW),
    secret(2, expired!, 'EXPIRED'),
    secret(1, revoked!, 'REVOKED'),
  ]);
  const check = (plain: string) => usableSecretOf(codec, snapshot, codec.secretDigestBytes(plain), NOW)?.version;
  t.equal(check(active!), 5, 'ACTIVE');
  t.equal(check(grace!), 4, 'GRACE, 1 ms before grace_until');
  t.equal(check(lapsed!), undefined, 'GRACE at grace_until: lapsed');
  t.equal(check(expired!), undefined, 'EXPIRED');
  t.equal(check(revoked!), undefined, 'REVOKED');
  t.equal(check(newClientSecret()), undefined, 'no secret of the app');
  t.equal(usableSecretOf(codec, snapshotWith([{ version: 1, digest: codec.secretDigest(grace!), status: 'GRACE', graceUntil: null }]), codec.secretDigestBytes(grace!), NOW), undefined, 'GRACE without grace_until');
});
