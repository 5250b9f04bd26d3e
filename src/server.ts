/** The only file that listens and handles signals. */
import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { SigningKeyUnsealError } from './lib/signing-key-crypto.js';

const SHUTDOWN_TIMEOUT_MS = 10_000;

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`portcullis: ${error.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
  const app = await buildApp(config).catch((error: unknown) => {
    if (!(error instanceof SigningKeyUnsealError)) throw error;
    process.stderr.write(`portcullis: ${error.message}\n`);
    process.exit(78); // EX_CONFIG: the configuration does not match the database
  });
  if (config.jwtSecretGenerated) app.log.warn('JWT_SECRET is unset: using a random key, so tokens die with this process');
  if (config.isProduction && !config.METRICS_TOKEN) app.log.warn('METRICS_TOKEN is unset: GET /metrics is open; serve it on an internal network only');
  if (config.signingKeyEncryptionKeyIsDefault && config.JWT_ALGORITHM !== 'HS256') {
    app.log.warn('SIGNING_KEY_ENCRYPTION_KEY is unset: private signing keys are sealed with a public development key');
  }
  await app.listen({ port: config.PORT, host: config.HOST });
  app.log.info(`portcullis ready: database ${app.dbDescription}, token store ${app.kv.description}`);

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      app.log.error('shutdown timed out');
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS);
    timer.unref();
    // Keep-alive connections that finish a request after close() began are not idle-closed by
    // it; sweep them, or the server waits for the clients to hang up.
    const sweeper = setInterval(() => app.server.closeIdleConnections(), 100);
    await app.close();
    clearInterval(sweeper);
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(`portcullis: failed to start: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
