import t from 'tap';
import { decodeTokenRecord, encodeTokenRecord } from '../../src/redis/app-token-scripts.js';

t.test('app token records: compact line both ways; the JSON written before still decodes', async (t) => {
  const record = {
    tokenId: '0b8f2a3e-7c1d-4a52-9a61-2f0e6d4c9b11',
    appId: 'app',
    organizationId: '5d7c9e10-3b4a-4f6e-8d21-7a9b0c1d2e3f',
    organizationCode: 'Acme Corp, EU west',
    secretVersion: 3,
    issuedAt: 1_719_000_000_123,
    expiresAt: 1_719_003_600_123,
  };
  t.equal(encodeTokenRecord(record), `${record.tokenId} ${record.organizationId} 3 1719000000123 1719003600123 0 Acme Corp, EU west`);
  t.strictSame(decodeTokenRecord('app', encodeTokenRecord(record)), record, 'an organization code with spaces survives, being last');
  const scoped = { ...record, scope: ['orders.read', 'billing:invoice:read'] };
  t.strictSame(decodeTokenRecord('app', encodeTokenRecord(scoped)), scoped);
  const legacy = `{"t":"${record.tokenId}","o":"${record.organizationId}","c":"HQ","v":3,"i":1719000000123,"e":1719003600123,"s":"orders.read"}`;
  t.strictSame(decodeTokenRecord('other', legacy), { ...record, appId: 'other', organizationCode: 'HQ', scope: ['orders.read'] });
});
