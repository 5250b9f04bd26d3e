/** The gateway module: forward-auth for reverse proxies (GET /api/auth/check). */
export { default } from './routes.js';
