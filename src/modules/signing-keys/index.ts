/** The signing-keys module: the public JWKS and the admin endpoints over the key ring. */
export { default } from './routes.js';
