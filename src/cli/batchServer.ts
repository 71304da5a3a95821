/**
 * Batch mode on a LangGraph server (`run WORKFLOW --input-file FILE --server
 * URL [--assistant ID]`): each row is a run on the server, submitted and
 * joined through `@langchain/langgraph-sdk` (an optional package, loaded only
 * here), with `--concurrency` runs in flight; the batch's window, row order,
 * error records and resume are those of a local batch (`batch.ts`,
 * `batchResume.ts`).
 *
 * Each row runs on a thread of its own whose id derives from the batch's id
 * and the row number. Before a row's run is created, the row is recorded in
 * `OUT.runs.jsonl` beside the output, and its run id once the server has
 * given one. A batch resumed after a crash joins the runs already submitted
 * (by the recorded run id, or by asking the row's thread for its runs when the
 * crash came between the two records) instead of submitting them again: no
 * row is sent twice.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { appendFileSync, createReadStream, existsSync } from "node:fs";
import { createInterface } from "node:readline";
import type { RowResult } from "./batch.js";
import type { Row } from "./io.js";
import { importOptional, LlmWorkflowsError } from "../runtime/errors.js";

/** Suffix of the file beside `--out` that keeps the rows submitted to the server and their run ids. */
export const RUNS_SUFFIX = ".runs.jsonl";

/** The server cannot run the batch: unreachable, or without the assistant. */
export class BatchServerError extends LlmWorkflowsError {
  /** The server's URL. */
  readonly url: string;

  constructor(url: string, problem: string, options?: { cause?: unknown }) {
    super("BATCH_SERVER", `LangGraph server ${url}: ${problem}`, options);
    this.url = url;
  }
}

/** A run that failed on the server: its row's error, not the batch's. */
class RunFailedError extends Error {}

/** Where the rows run: a server and one of its assistants. */
export interface ServerTarget {
  /** The server's URL, e.g. `http://127.0.0.1:2024`. */
  url: string;
  /** An assistant id, or a graph id (the server's default assistant of that graph). */
  assistant: string;
}

/** Options of {@link openServerRunner}: the server, and the batch's rows. */
export interface ServerRunnerOptions extends ServerTarget {
  /** The batch's id (`BatchState.batchId`): the row threads derive from it. */
  batchId: string;
  /** `OUT.runs.jsonl` (none without `--out`: then nothing can be resumed). */
  runsFile?: string;
  /** Rows already written to the output (their runs are not needed again). */
  rowsWritten: number;
  /** Output channels to keep of a run's final values (the local workflow's), or all of them. */
  outputChannels?: string | string[];
}

/** A batch's runner on a server. */
export interface ServerRunner {
  /** Runs one row on the server (see `BatchOptions.execute`). */
  execute(input: Row, context: { row: number; signal: AbortSignal }): Promise<RowResult>;
  /** Whether an error means the server cannot go on (see `BatchOptions.isFatal`). */
  isFatal(error: unknown): boolean;
  /** Rows found submitted and not yet written, joined rather than submitted again. */
  readonly pending: number;
}

/** The thread id of a row: a UUID (version 5 layout) from the batch id and the row number. */
export function rowThreadId(batchId: string, row: number): string {
  const hash = createHash("sha1").update(`llm-workflows batch ${batchId} row ${row}`).digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** HTTP status of an SDK error (its `HTTPError`), if any. */
function statusOf(error: unknown): number | undefined {
  const status = (error as { status?: unknown })?.status;
  return typeof status === "number" ? status : undefined;
}

/** The message of a failed run's `__error__` value (its message may itself be a JSON error, or a list of zod issues). */
function runErrorMessage(value: unknown): string {
  const { error, message } = (value ?? {}) as { error?: string; message?: string };
  let name = error;
  let text = message ?? "";
  try {
    const inner = JSON.parse(text) as { error?: string; message?: string };
    if (inner && typeof inner.message === "string") {
      name = inner.error ?? name;
      text = inner.message;
    }
  } catch {
    // a plain message
  }
  try {
    const issues = JSON.parse(text) as Array<{ path?: unknown[]; message?: string }>;
    if (Array.isArray(issues) && issues.every((i) => typeof i?.message === "string")) {
      text = issues.map((i) => `${i.path?.length ? i.path.join(".") : "(root)"}: ${i.message}`).join("; ");
      if (name === "$ZodError" || name === "ZodError") name = "invalid input";
    }
  } catch {
    // not a list of issues
  }
  return `the run failed on the server: ${name ? `${name}: ` : ""}${text.replace(/\s+/g, " ").trim()}`;
}

function pick(values: Record<string, unknown>, channels: string | string[] | undefined): Record<string, unknown> {
  if (channels === undefined) return values;
  if (typeof channels === "string") return { [channels]: values[channels] };
  return Object.fromEntries(channels.filter((c) => c in values).map((c) => [c, values[c]]));
}

/** The rows of `OUT.runs.jsonl` after `rowsWritten`: submitted, with their run ids when known. */
async function readSubmitted(runsFile: string, rowsWritten: number): Promise<Map<number, { thread: string; run?: string }>> {
  const submitted = new Map<number, { thread: string; run?: string }>();
  if (!existsSync(runsFile)) return submitted;
  for await (const line of createInterface({ input: createReadStream(runsFile), crlfDelay: Infinity })) {
    let entry: { row?: number; thread?: string; run?: string };
    try {
      entry = JSON.parse(line);
    } catch {
      continue; // a torn last line: that row's run id is looked up on its thread
    }
    if (typeof entry.row !== "number" || typeof entry.thread !== "string" || entry.row <= rowsWritten) continue;
    const known = submitted.get(entry.row);
    submitted.set(entry.row, { thread: entry.thread, run: entry.run ?? known?.run });
  }
  return submitted;
}

/** A client of a server known to have the assistant (see {@link connectServer}). */
export interface ServerConnection extends ServerTarget {
  /** The SDK's client. */
  client: import("@langchain/langgraph-sdk").Client;
}

/**
 * Connects to the server and checks that it has the assistant, before the
 * batch writes anything.
 *
 * @throws {MissingDependencyError} when `@langchain/langgraph-sdk` is not installed.
 * @throws {BatchServerError} when the server does not answer or has no such assistant (listing its graphs).
 */
export async function connectServer(target: ServerTarget): Promise<ServerConnection> {
  const { Client } = await importOptional("@langchain/langgraph-sdk", "batch mode on a server (--server)", () => import("@langchain/langgraph-sdk"));
  const client = new Client({ apiUrl: target.url });
  const { url, assistant } = target;
  try {
    const isUuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(assistant);
    const found = isUuid ? [await client.assistants.get(assistant)] : await client.assistants.search({ graphId: assistant, limit: 1 });
    if (!found.length) {
      const graphs = [...new Set((await client.assistants.search({ limit: 100 })).map((a) => a.graph_id))].sort();
      throw new BatchServerError(url, `no assistant or graph "${assistant}" (give --assistant ID); its graphs: ${graphs.join(", ") || "(none)"}`);
    }
  } catch (error) {
    if (error instanceof BatchServerError) throw error;
    const status = statusOf(error);
    if (status === 404) throw new BatchServerError(url, `no assistant "${assistant}"`, { cause: error });
    throw new BatchServerError(url, `cannot be reached (${(error as Error).message})`, { cause: error });
  }
  return { url, assistant, client };
}

/**
 * The runner of a batch's rows on the server: reads the rows already
 * submitted (`OUT.runs.jsonl`) and runs or joins each row.
 *
 * @throws {MissingDependencyError} / {BatchServerError} as {@link connectServer}, when not given a connection.
 */
export async function openServerRunner(options: ServerRunnerOptions, connection?: ServerConnection): Promise<ServerRunner> {
  const { client, assistant } = connection ?? (await connectServer(options));
  const runsFile = options.runsFile;
  const submitted = runsFile ? await readSubmitted(runsFile, options.rowsWritten) : new Map<number, { thread: string; run?: string }>();
  // Synchronous appends: once one returns, a kill of this process cannot undo it.
  const record = (entry: { row: number; thread: string; run?: string }) => runsFile && appendFileSync(runsFile, `${JSON.stringify(entry)}\n`);

  /** The run of a row recorded as submitted whose run id was not recorded: the first run on its thread. */
  const runOnThread = async (thread: string): Promise<string | undefined> => {
    try {
      const runs = await client.runs.list(thread, { limit: 10 });
      return runs.sort((a, b) => a.created_at.localeCompare(b.created_at))[0]?.run_id;
    } catch (error) {
      if (statusOf(error) === 404) return undefined; // the thread was never created: nothing was submitted
      throw error;
    }
  };

  return {
    pending: submitted.size,
    isFatal: (error) => {
      if (error instanceof RunFailedError) return false;
      const status = statusOf(error);
      // A 4xx about the row itself fails the row; no answer, a 5xx, a lost thread or run (404) stop the batch.
      return !(status !== undefined && status >= 400 && status < 500 && ![404, 408, 409, 429].includes(status));
    },
    execute: async (input, { row, signal }) => {
      const known = submitted.get(row);
      submitted.delete(row);
      const thread = known?.thread ?? rowThreadId(options.batchId, row);
      let run = known?.run ?? (known ? await runOnThread(thread) : undefined);
      if (!run) {
        record({ row, thread });
        // multitaskStrategy "reject": a second run on a thread that still has one is refused, not queued.
        run = (await client.runs.create(thread, assistant, { input, ifNotExists: "create", multitaskStrategy: "reject", signal })).run_id;
        record({ row, thread, run });
      }
      const values = (await client.runs.join(thread, run, { signal })) as Record<string, unknown> | null;
      if (values && "__error__" in values) throw new RunFailedError(runErrorMessage(values.__error__));
      if (values && "__interrupt__" in values) throw new RunFailedError("the run stopped at an interrupt (it waits for a human on the server); batch mode runs workflows that finish");
      return { output: pick(values ?? {}, options.outputChannels), extra: { run: { thread, id: run } } };
    },
  };
}
