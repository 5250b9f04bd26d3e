import type { Redis } from 'ioredis';

export type ScriptCall = (...args: (string | number)[]) => Promise<unknown>;

/**
 * Registers a Lua script on the client; ioredis runs EVALSHA and falls back to EVAL on NOSCRIPT (after a restart or failover).
 * Without `numberOfKeys` the key count varies per call and the caller passes it as the first argument.
 */
export function defineScript(client: Redis, name: string, lua: string, numberOfKeys?: number): ScriptCall {
  client.defineCommand(name, numberOfKeys === undefined ? { lua } : { lua, numberOfKeys });
  const command = (client as unknown as Record<string, ScriptCall>)[name];
  if (!command) throw new Error(`ioredis did not define ${name}`);
  return command.bind(client);
}
