/**
 * Connects Redis, or chooses the in-process store when REDIS_URL is unset, and decorates `app.kv`
 * and `app.keys`. Closed on app close.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../config.js';
import { closeKeyValueBackend, type KeyValueBackend, openKeyValueBackend } from '../redis/client.js';
import { createKeys, type Keys } from '../redis/keys.js';

declare module 'fastify' {
  interface FastifyInstance {
    kv: KeyValueBackend;
    keys: Keys;
  }
}

export default fp(
  async function keyValuePlugin(app: FastifyInstance, options: { config: Config }) {
    const backend = await openKeyValueBackend({ redisUrl: options.config.REDIS_URL });
    app.addHook('onClose', () => closeKeyValueBackend(backend));
    app.decorate<KeyValueBackend>('kv', backend);
    app.decorate('keys', createKeys(options.config.REDIS_KEY_PREFIX));
  },
  { name: 'key-value' },
);
