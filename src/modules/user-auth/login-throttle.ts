/**
 * The brute-force throttle of logins: counters per account+address and per account, under the
 * `lf:` keys, with the LOGIN_* settings. Built here for the login and for support's user report.
 */
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config.js';
import type { Clock } from '../../lib/clock.js';
import { createCredentialThrottle, digestForKey, throttleSettings } from '../../lib/credential-throttle.js';

/** The throttle's subject for a normalised email: its digest, so no address is kept in Redis. */
export const loginSubject = (normalizedEmail: string) => digestForKey(normalizedEmail);

export function createLoginThrottle(app: Pick<FastifyInstance, 'failureThrottle' | 'keys'>, config: Config, clock: Clock) {
  return createCredentialThrottle({
    store: app.failureThrottle,
    clock,
    settings: throttleSettings(config),
    keys: (subject, ip) => ({ pair: app.keys.loginFailuresFrom(subject, ip), subject: app.keys.loginFailures(subject) }),
  });
}
