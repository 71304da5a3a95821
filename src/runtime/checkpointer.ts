/**
 * Checkpointer selection from one string, for the facade and the CLI:
 *
 * | spec                             | checkpointer                                   |
 * | -------------------------------- | ---------------------------------------------- |
 * | `memory`                         | `MemorySaver` (this process only)              |
 * | `sqlite:PATH`                    | `SqliteSaver` on the file PATH (created)       |
 * | `postgres://…`, `postgresql://…` | `PostgresSaver` (tables created on first use)  |
 *
 * Each opened checkpointer gets a task ledger beside it (see `ledger.ts`).
 * The SQLite and PostgreSQL drivers are optional peers, loaded only when their
 * spec is opened; a missing one is a {@link MissingDependencyError} naming the
 * package to install.
 *
 * @module
 */
import { MemorySaver, type BaseCheckpointSaver } from "@langchain/langgraph";
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { ConfigurationError, importOptional, type MissingDependencyError } from "./errors.js";
import { attachLedger, MemoryLedger, PostgresLedger, SqliteLedger, type TaskLedger } from "./ledger.js";

/** Where CLI threads live unless `--checkpointer`, `LLM_WORKFLOWS_CHECKPOINTER` or `DATABASE_URL` says otherwise. */
export const DEFAULT_THREADS_FILE = ".llm-workflows/threads.sqlite";

/** An open checkpointer and how to release it. */
export interface OpenCheckpointer {
  saver: BaseCheckpointSaver;
  /** The exactly-once ledger stored beside it. */
  ledger: TaskLedger;
  /** What it is, for messages: `memory`, `sqlite:/abs/path`, `postgres://host/db`. */
  description: string;
  /** Closes connections (PostgreSQL pools keep a process alive until closed). */
  close(): Promise<void>;
}

/**
 * The checkpointer spec to use: the explicit one, else `LLM_WORKFLOWS_CHECKPOINTER`,
 * else `DATABASE_URL` (a postgres:// URL), else `fallback`.
 */
export function resolveCheckpointerSpec(
  explicit: string | undefined,
  fallback: string | undefined = `sqlite:${DEFAULT_THREADS_FILE}`,
  env: Record<string, string | undefined> = process.env,
): string | undefined {
  return explicit || env.LLM_WORKFLOWS_CHECKPOINTER || env.DATABASE_URL || fallback;
}

/**
 * Opens the checkpointer named by `spec` (see the module doc).
 * @throws {ConfigurationError} for a spec of no known form.
 * @throws {MissingDependencyError} when the spec's driver package is not installed.
 */
export async function openCheckpointer(spec: string): Promise<OpenCheckpointer> {
  if (spec === "memory") {
    const saver = new MemorySaver();
    const ledger = new MemoryLedger();
    attachLedger(saver, ledger);
    return { saver, ledger, description: "memory", close: async () => {} };
  }
  if (spec.startsWith("sqlite:")) {
    const path = resolve(spec.slice("sqlite:".length) || DEFAULT_THREADS_FILE);
    mkdirSync(dirname(path), { recursive: true });
    const { SqliteSaver } = await importOptional("@langchain/langgraph-checkpoint-sqlite", "the SQLite checkpointer", () => import("@langchain/langgraph-checkpoint-sqlite"));
    const saver = SqliteSaver.fromConnString(path);
    // Several processes may share the file (a run and a resume): wait for locks instead of failing.
    saver.db.pragma("busy_timeout = 5000");
    const ledger = new SqliteLedger(saver.db);
    attachLedger(saver, ledger);
    return { saver, ledger, description: `sqlite:${path}`, close: async () => void saver.db.close() };
  }
  if (/^postgres(ql)?:\/\//.test(spec)) {
    const { PostgresSaver } = await importOptional("@langchain/langgraph-checkpoint-postgres", "the PostgreSQL checkpointer", () => import("@langchain/langgraph-checkpoint-postgres"));
    const { default: pg } = await importOptional("pg", "the PostgreSQL checkpointer", () => import("pg"));
    const saver = PostgresSaver.fromConnString(spec);
    const pool = new pg.Pool({ connectionString: spec, max: 4 });
    // An idle pooled connection that the server closes (a restart, a dropped database)
    // is reported as an "error" event on its pool; unhandled, it would crash the process.
    // The pool replaces the connection on next use, so the event needs no more than a handler.
    const ignoreIdleError = () => {};
    pool.on("error", ignoreIdleError);
    (saver as unknown as { pool?: { on?: (event: string, fn: () => void) => void } }).pool?.on?.("error", ignoreIdleError);
    await saver.setup();
    const ledger = new PostgresLedger(pool);
    attachLedger(saver, ledger);
    const url = new URL(spec);
    return {
      saver,
      ledger,
      description: `postgres://${url.host}${url.pathname}`,
      close: async () => {
        await saver.end();
        await pool.end();
      },
    };
  }
  throw new ConfigurationError("checkpointer", '"memory", "sqlite:PATH" or a postgres:// URL', spec);
}

/** Checkpoint metadata key naming the workflow that wrote a thread. */
export const WORKFLOW_METADATA_KEY = "llm_workflows_workflow";

/** Checkpoint metadata key giving where that workflow was loaded from (`ABSOLUTE_PATH:export`), for graphs the CLI loaded from a file. */
export const WORKFLOW_SOURCE_METADATA_KEY = "llm_workflows_source";

/**
 * `saver`, with `extra` added to the metadata of every checkpoint it saves. The
 * CLI uses it to record which workflow a thread belongs to: LangGraph.js 1.4
 * does not copy run metadata into checkpoint metadata (the Python version does).
 * The result delegates everything else to `saver` (it is an object whose
 * prototype is `saver`).
 */
export function withCheckpointMetadata<S extends BaseCheckpointSaver>(saver: S, extra: Record<string, unknown>): S {
  const tagged = Object.create(saver) as S;
  tagged.put = (config, checkpoint, metadata, newVersions) => saver.put.call(tagged, config, checkpoint, { ...metadata, ...extra }, newVersions);
  return tagged;
}
