/**
 * Request rate limits (@fastify/rate-limit), counted in Redis so every instance shares them (the
 * in-process store when running embedded). A default limit per client IP on every route, stricter
 * ones on the credential endpoints through route config (`rateLimits` from config). Exempt: the
 * health routes, and clients on RATE_LIMIT_ALLOWLIST (IPs, CIDRs, or app client_ids on the token
 * endpoint). A limit that cannot be checked because Redis is down fails closed (503), never open,
 * except on the routes that only end access (ENDS_ACCESS).
 */
import rateLimit, { normalizeIP } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { BlockList, isIP } from 'node:net';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';

/**
 * Route config `rateLimit` of the routes that only end access: logout, logout everywhere, ending
 * one session, support's ending of a user's sessions, suspending or revoking an app, revoking an
 * app token (V3 and RFC 7009). The route's usual limit, counted while Redis can count;
 * when it cannot (a full Redis refuses the counter's write) they run anyway, because they grant
 * nothing and their own writes are allowed over maxmemory (src/redis/session-scripts.ts), so a
 * session or an app can still be stopped then. With Redis down they fail at their store instead.
 */
export const ENDS_ACCESS = { skipOnError: true } as const;

const ADDRESS_CACHE_SIZE = 10_000;

function allowlistMatcher(entries: string[]) {
  const addresses = new BlockList();
  const clientIds = new Set<string>();
  for (const entry of entries) {
    const [address, bits] = entry.split('/');
    const family = isIP(address ?? '');
    if (family === 0) clientIds.add(entry);
    else if (bits === undefined) addresses.addAddress(address!, family === 6 ? 'ipv6' : 'ipv4');
    else addresses.addSubnet(address!, Number(bits), family === 6 ? 'ipv6' : 'ipv4');
  }
  // BlockList.check builds a SocketAddress per call (3% of a /me request in a profile); the answer
  // per address never changes, so it is remembered, for a bounded number of addresses.
  const byAddress = new Map<string, boolean>();
  const addressAllowed = (ip: string): boolean => {
    let allowed = byAddress.get(ip);
    if (allowed === undefined) {
      const family = isIP(ip);
      allowed = family !== 0 && addresses.check(ip, family === 6 ? 'ipv6' : 'ipv4');
      if (byAddress.size >= ADDRESS_CACHE_SIZE) byAddress.clear();
      byAddress.set(ip, allowed);
    }
    return allowed;
  };
  return (request: FastifyRequest): boolean => {
    if (addressAllowed(request.ip)) return true;
    if (clientIds.size === 0) return false;
    const clientId = (request.body as { client_id?: unknown } | undefined)?.client_id ?? basicClientId(request.headers.authorization);
    return typeof clientId === 'string' && clientIds.has(clientId);
  };
}

/** The client_id of RFC 6749 client_secret_basic (form-urlencoded before base64), if present. */
function basicClientId(header: string | undefined): string | undefined {
  if (!header || !/^basic /i.test(header)) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  try {
    return decodeURIComponent(decoded.slice(0, colon).replaceAll('+', ' '));
  } catch {
    return undefined;
  }
}

const IPV6_SUBNET = 64;

/**
 * The plugin's own normalisation (an IPv6 client by its /64: one host is handed a whole /64 and
 * can pick any address in it; an IPv4-mapped address as the IPv4 one), but a plain IPv4 address
 * as it is: the plugin's default runs net.isIPv6's long regex on every request, ~1 µs in a
 * profile, for addresses that cannot be IPv6 without a colon.
 */
const rateLimitKey = (request: FastifyRequest): string => (request.ip.includes(':') ? normalizeIP(request.ip, IPV6_SUBNET) : request.ip);

export default fp(
  async function rateLimitPlugin(app: FastifyInstance, options: { config: Config }) {
    const { config } = options;
    const isAllowed = allowlistMatcher(config.RATE_LIMIT_ALLOWLIST);
    await app.register(rateLimit, {
      global: true,
      max: config.rateLimits.default.max,
      timeWindow: config.rateLimits.default.timeWindow,
      ...(app.kv.kind === 'redis' ? { redis: app.kv.client } : {}),
      nameSpace: `${config.REDIS_KEY_PREFIX}rl:`,
      skipOnError: false,
      keyGenerator: rateLimitKey,
      allowList: (request) => isAllowed(request),
      onExceeded: (request) => app.metrics.rateLimited(request),
      errorResponseBuilder: (_request, context) =>
        new AppError('RATE_LIMITED', { headers: { 'retry-after': String(Math.max(1, Math.ceil(context.ttl / 1000))) } }),
    });
  },
  { name: 'rate-limit', dependencies: ['key-value', 'metrics'] },
);
