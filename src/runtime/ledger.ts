/**
 * The task ledger: exactly-once steps inside graph nodes. A node that issues an
 * id, opens a case, sends an email or makes an expensive model call wraps that
 * step in {@link onceForTask}; the first successful result is stored under the
 * thread, the LangGraph task and a label, and a retry of the task or a re-run
 * after a crash or an interrupt gets the stored result instead of doing the
 * step again.
 *
 * LangGraph re-runs a task from its start when it is retried, when the process
 * died before the task's writes were saved, and when a node resumes after
 * `interrupt()`; it has no memo for steps inside a task (its `cachePolicy` is
 * keyed by input, not by task, and is not durable), hence this module.
 *
 * The ledger lives beside the checkpointer that {@link openCheckpointer} opened
 * (the same SQLite file; the same PostgreSQL database); any other checkpointer
 * (a `MemorySaver`, the LangGraph server's own) gets an in-memory ledger for
 * the life of the process.
 *
 * @module
 */
import type { BaseCheckpointSaver, LangGraphRunnableConfig } from "@langchain/langgraph";

/** Stores the first successful result of a step under a key. */
export interface TaskLedger {
  /**
   * Runs `step` unless a result is stored under `key`; stores and returns the
   * result of the first run that succeeds. Results must be JSON-serializable.
   */
  once<T>(key: string, step: () => Promise<T>): Promise<T>;
  /** How many results are stored (for tests and reports). */
  size(): Promise<number>;
}

/** Table (SQLite and PostgreSQL) holding the ledger. */
export const LEDGER_TABLE = "llm_workflows_ledger";

/** An in-memory ledger: exactly-once within one process. */
export class MemoryLedger implements TaskLedger {
  private readonly done = new Map<string, unknown>();
  private readonly running = new Map<string, Promise<unknown>>();

  async once<T>(key: string, step: () => Promise<T>): Promise<T> {
    if (this.done.has(key)) return this.done.get(key) as T;
    const inFlight = this.running.get(key);
    if (inFlight) return inFlight as Promise<T>;
    const run = step().then((value) => {
      this.done.set(key, value);
      return value;
    });
    this.running.set(key, run);
    try {
      return await run;
    } finally {
      this.running.delete(key);
    }
  }

  async size(): Promise<number> {
    return this.done.size;
  }
}

/** The part of a better-sqlite3 `Database` (what `SqliteSaver.db` is) the ledger uses. */
export interface SqliteDatabase {
  exec(sql: string): unknown;
  prepare(sql: string): { get(...params: unknown[]): unknown; run(...params: unknown[]): unknown };
}

/** A ledger in a SQLite database (better-sqlite3, as `SqliteSaver` uses). */
export class SqliteLedger implements TaskLedger {
  private readonly memory = new MemoryLedger();

  constructor(private readonly db: SqliteDatabase) {
    db.exec(`CREATE TABLE IF NOT EXISTS ${LEDGER_TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL, created_at TEXT NOT NULL)`);
  }

  async once<T>(key: string, step: () => Promise<T>): Promise<T> {
    const row = this.db.prepare(`SELECT value FROM ${LEDGER_TABLE} WHERE key = ?`).get(key) as { value: string } | undefined;
    if (row) return JSON.parse(row.value) as T;
    return this.memory.once(key, async () => {
      const value = await step();
      this.db.prepare(`INSERT OR IGNORE INTO ${LEDGER_TABLE} (key, value, created_at) VALUES (?, ?, ?)`).run(key, JSON.stringify(value ?? null), new Date().toISOString());
      const stored = this.db.prepare(`SELECT value FROM ${LEDGER_TABLE} WHERE key = ?`).get(key) as { value: string };
      return JSON.parse(stored.value) as T;
    });
  }

  async size(): Promise<number> {
    return (this.db.prepare(`SELECT count(*) AS n FROM ${LEDGER_TABLE}`).get() as { n: number }).n;
  }
}

/**
 * The part of a `pg` `Pool` (or `Client`) the PostgreSQL ledger uses. Declared
 * here so that this library's types do not need `pg`, an optional peer.
 */
export interface PostgresQueryable {
  query(text: string, values?: unknown[]): Promise<{ rows: any[]; rowCount: number | null }>;
}

/** A ledger in PostgreSQL. */
export class PostgresLedger implements TaskLedger {
  private readonly memory = new MemoryLedger();
  private ready?: Promise<unknown>;

  constructor(private readonly pool: PostgresQueryable) {}

  private setup() {
    this.ready ??= this.pool.query(
      `CREATE TABLE IF NOT EXISTS ${LEDGER_TABLE} (key TEXT PRIMARY KEY, value JSONB NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now())`,
    );
    return this.ready;
  }

  async once<T>(key: string, step: () => Promise<T>): Promise<T> {
    await this.setup();
    const found = await this.pool.query(`SELECT value FROM ${LEDGER_TABLE} WHERE key = $1`, [key]);
    if (found.rowCount) return found.rows[0].value as T;
    return this.memory.once(key, async () => {
      const value = await step();
      await this.pool.query(`INSERT INTO ${LEDGER_TABLE} (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`, [key, JSON.stringify(value ?? null)]);
      const stored = await this.pool.query(`SELECT value FROM ${LEDGER_TABLE} WHERE key = $1`, [key]);
      return stored.rows[0].value as T;
    });
  }

  async size(): Promise<number> {
    await this.setup();
    const result = await this.pool.query(`SELECT count(*)::int AS n FROM ${LEDGER_TABLE}`);
    return result.rows[0].n as number;
  }
}

const ledgers = new WeakMap<object, TaskLedger>();
const NO_CHECKPOINTER = new MemoryLedger();

/** Makes `ledger` the one used by runs on `saver` (and on savers derived from it). */
export function attachLedger(saver: BaseCheckpointSaver, ledger: TaskLedger): void {
  ledgers.set(saver, ledger);
}

/** The ledger of `saver`: the attached one, else an in-memory one for this saver. */
export function ledgerOf(saver: BaseCheckpointSaver | undefined): TaskLedger {
  if (!saver) return NO_CHECKPOINTER;
  for (let s: object | null = saver; s; s = Object.getPrototypeOf(s)) {
    const found = ledgers.get(s);
    if (found) return found;
  }
  const ledger = new MemoryLedger();
  ledgers.set(saver, ledger);
  return ledger;
}

/**
 * The ledger key of a step in the running task: thread, task (LangGraph's
 * checkpoint namespace, `node:taskId`, stable across retries and resumes) and
 * the step's label. Undefined outside a thread, where nothing is resumed.
 */
export function taskKey(config: LangGraphRunnableConfig, label: string): string | undefined {
  const configurable = config.configurable ?? {};
  const thread = configurable.thread_id;
  const ns = configurable.checkpoint_ns;
  if (!thread || !ns) return undefined;
  // An item of a batched fan-out task (see patterns/core/fanOut.ts) has a key of its own.
  const item = configurable[BATCH_ITEM_KEY];
  return `${thread}/${ns}/${item === undefined ? "" : `item-${item}/`}${label}`;
}

/**
 * The `configurable` key holding an item's index inside a batched fan-out
 * task: the task is shared by the batch's items, so per-item keys (the
 * ledger's) add it.
 */
export const BATCH_ITEM_KEY = "__llmw_batch_item";

/**
 * Runs `step` at most once per (thread, task, label): inside a node, wrap each
 * side effect or costly call whose repetition on retry or resume would do harm.
 * Outside a thread it just runs `step`.
 *
 * @example
 * ```ts
 * const caseId = await onceForTask(config, "open-case", () => store.openCase(concern));
 * ```
 */
export async function onceForTask<T>(config: LangGraphRunnableConfig, label: string, step: () => Promise<T>): Promise<T> {
  const key = taskKey(config, label);
  if (!key) return step();
  const saver = (config.configurable as Record<string, unknown> | undefined)?.__pregel_checkpointer as BaseCheckpointSaver | undefined;
  return ledgerOf(saver).once(key, step);
}
