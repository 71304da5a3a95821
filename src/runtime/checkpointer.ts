/**
 * Checkpointer selection from one string, for the facade and the CLI:
 *
 * | spec                         | checkpointer                                   |
 * | ---------------------------- | ---------------------------------------------- |
 * | `memory`                     | `MemorySaver` (this process only)              |
 * | `sqlite:PATH`                | `SqliteSaver` on the file PATH (created)       |
 * | `postgres://…`, `postgresql://…` | `PostgresSaver` (tables created on first use) |
 *
 * @module
 */
import { MemorySaver, type BaseCheckpointSaver } from "@langchain/langgraph";
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { ConfigurationError } from "./errors.js";

/** Where CLI threads live unless `--checkpointer` or `LLM_WORKFLOWS_CHECKPOINTER` says otherwise. */
export const DEFAULT_THREADS_FILE = ".llm-workflows/threads.sqlite";

/** An open checkpointer and how to release it. */
export interface OpenCheckpointer {
  saver: BaseCheckpointSaver;
  /** What it is, for messages: `memory`, `sqlite:/abs/path`, `postgres://host/db`. */
  description: string;
  /** Closes connections (PostgreSQL pools keep a process alive until closed). */
  close(): Promise<void>;
}

/**
 * Opens the checkpointer named by `spec` (see the module doc).
 * @throws {ConfigurationError} for a spec of no known form.
 */
export async function openCheckpointer(spec: string): Promise<OpenCheckpointer> {
  if (spec === "memory") return { saver: new MemorySaver(), description: "memory", close: async () => {} };
  if (spec.startsWith("sqlite:")) {
    const path = resolve(spec.slice("sqlite:".length) || DEFAULT_THREADS_FILE);
    mkdirSync(dirname(path), { recursive: true });
    const { SqliteSaver } = await import("@langchain/langgraph-checkpoint-sqlite");
    const saver = SqliteSaver.fromConnString(path);
    return { saver, description: `sqlite:${path}`, close: async () => saver.db.close() };
  }
  if (/^postgres(ql)?:\/\//.test(spec)) {
    const { PostgresSaver } = await import("@langchain/langgraph-checkpoint-postgres");
    const saver = PostgresSaver.fromConnString(spec);
    await saver.setup();
    const url = new URL(spec);
    return { saver, description: `postgres://${url.host}${url.pathname}`, close: () => saver.end() };
  }
  throw new ConfigurationError("checkpointer", '"memory", "sqlite:PATH" or a postgres:// URL', spec);
}
