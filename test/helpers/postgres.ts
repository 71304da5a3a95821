/**
 * A PostgreSQL database of the tests' own: created on a server the tests can
 * reach (`LLM_WORKFLOWS_TEST_POSTGRES_URL`, default the CI machine's
 * postgresql://postgres@127.0.0.1:5432/postgres), dropped afterwards. Without
 * a reachable server the PostgreSQL tests are skipped with a message naming
 * the variable, except under CI (`CI=true`), where they fail.
 */
import pg from "pg";

export const ADMIN_URL = process.env.LLM_WORKFLOWS_TEST_POSTGRES_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";

/** Whether the admin database answers (within 3 s). */
export async function postgresReachable(adminUrl = ADMIN_URL): Promise<boolean> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Resolves whether to run PostgreSQL tests: true if reachable; false (skip, with a message) outside CI; throws under CI. */
export async function requirePostgres(): Promise<boolean> {
  if (await postgresReachable()) return true;
  const message = `PostgreSQL is not reachable at ${ADMIN_URL}; set LLM_WORKFLOWS_TEST_POSTGRES_URL to a server the tests may create databases on`;
  if (process.env.CI) throw new Error(message);
  console.warn(`skipping PostgreSQL tests: ${message}`);
  return false;
}

/** Creates a fresh database `PREFIX_*` on `adminUrl` and returns its name, its URL and a function that drops it. */
export async function createTestDatabase(prefix = "llmw_test", adminUrl = ADMIN_URL): Promise<{ name: string; url: string; drop: () => Promise<void> }> {
  const name = `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6)}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
