/**
 * Per-test databases cloned from a migrated template (drizzle-kit writes "public"-qualified SQL,
 * so isolating by schema is not possible). The template is made once per run by
 * test/helpers/prepare-template.ts (tap's `before` script).
 */
import { randomUUID } from 'node:crypto';
import postgres from 'postgres';

export const TEMPLATE_DATABASE = 'portcullis_test_template';

export const ADMIN_DATABASE_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export function databaseUrl(name: string): string {
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

export function adminClient() {
  return postgres(ADMIN_DATABASE_URL, { max: 1, onnotice: () => {} });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Creates a fresh database from the template; returns its URL and a function that drops it. */
export async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `pc_test_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
  const sql = adminClient();
  try {
    // Concurrent clones of one template can collide ("being accessed by other users"): retry.
    for (let attempt = 0; ; attempt++) {
      try {
        await sql.unsafe(`create database "${name}" template "${TEMPLATE_DATABASE}"`);
        break;
      } catch (error) {
        if ((error as { code?: string }).code !== '55006' || attempt >= 50) throw error;
        await sleep(20 + Math.random() * 80);
      }
    }
  } finally {
    await sql.end();
  }
  return {
    url: databaseUrl(name),
    drop: async () => {
      const admin = adminClient();
      try {
        await admin.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await admin.end();
      }
    },
  };
}
