/** A checkpointer of each kind for a test suite (memory, SQLite, PostgreSQL). */
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach } from "vitest";
import { openCheckpointer, type OpenCheckpointer } from "../../src/runtime/checkpointer.js";
import { createTestDatabase, requirePostgres } from "./postgres.js";

/**
 * Opens a checkpointer of `kind` for the enclosing `describe` (SQLite in a file
 * under `dir()`, PostgreSQL in a database of its own) and closes it afterwards;
 * the suite's tests are skipped when PostgreSQL is not reachable (outside CI).
 */
export function useCheckpointer(kind: "memory" | "sqlite" | "postgres", dir: () => string, prefix: string) {
  const handle: { open?: OpenCheckpointer; spec?: string } = {};
  let drop: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    if (kind === "postgres") {
      if (!(await requirePostgres())) return;
      const db = await createTestDatabase(prefix);
      drop = db.drop;
      handle.spec = db.url;
    } else {
      handle.spec = kind === "memory" ? "memory" : `sqlite:${join(dir(), `${prefix}.sqlite`)}`;
    }
    handle.open = await openCheckpointer(handle.spec);
  });
  afterAll(async () => {
    await handle.open?.close();
    await drop?.();
  });
  beforeEach((ctx) => {
    if (!handle.open) ctx.skip("PostgreSQL is not reachable");
  });
  return handle;
}
