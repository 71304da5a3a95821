/**
 * Batch mode: one workflow run per row, run concurrently with a bound
 * (`p-limit`), results written as JSON Lines in row order, and rows that fail
 * reported with their error without losing the others.
 *
 * Rows stream through a bounded window: at most `window` rows are read and
 * not yet written, so memory does not grow with the number of rows (a slow
 * row holds the rows after it in the window; reading waits until it is done).
 *
 * @module
 */
import { once, setMaxListeners } from "node:events";
import pLimit from "p-limit";

import { workflowResult, type RunOptions, type WorkflowTarget } from "../facade.js";
import { addUsage, emptyUsage, type TokenUsage } from "../runtime/usage.js";
import type { Row } from "./io.js";

/** Rows run at once unless told otherwise. */
export const DEFAULT_BATCH_CONCURRENCY = 8;

/** Rows read ahead of the oldest row not yet written, per row run at once (the window is this times the concurrency). */
export const WINDOW_PER_SLOT = 4;

/** Characters of a failed row's input kept in its record (about 1 KB); a longer input is cut. */
export const MAX_ERROR_INPUT_CHARS = 1024;

/** The record written for one row. */
export interface BatchRecord {
  /** 1-based row number in the input. */
  row: number;
  /**
   * The row's input. In a failed row's record: the input, or the text of a row
   * that could not be read; when its JSON is longer than
   * {@link MAX_ERROR_INPUT_CHARS}, a string of its first characters ending
   * with `…` (and `inputBytes` gives the whole size).
   */
  input: Row | string;
  /** UTF-8 bytes of the whole input, when `input` was cut. */
  inputBytes?: number;
  /** The input file's line on which a row that could not be read ends (CSV/TSV, JSON Lines). */
  line?: number;
  output?: Record<string, unknown>;
  /** Model calls and tokens of the row's run. */
  usage?: TokenUsage;
  /** The error message, when the row failed. */
  error?: string;
  /** More fields some runners add (e.g. `run`: the server's thread and run ids). */
  [more: string]: unknown;
}

/** One row of a batch: an input to run, or a row that could not be read (recorded as failed, not run). */
export interface BatchItem {
  /** Row number (default: the item's position, counted from `firstRow`). */
  row?: number;
  /** The workflow input. */
  input?: Row;
  /** Why the row cannot be run; then `raw` is what the record shows as its input. */
  invalid?: string;
  /** The text (or value) of a row that could not be read. */
  raw?: unknown;
  /** The input file's line on which the row ends. */
  line?: number;
}

/** Progress after each finished row. */
export interface BatchProgress {
  /** Rows finished in this batch (written or waiting for an earlier row). */
  done: number;
  /** Of them, failed. */
  failed: number;
  /** Rows written. */
  written: number;
}

/** Options of {@link runBatch}. */
export interface BatchOptions {
  /** The workflow each row runs: a name, a definition or a compiled graph (see `streamWorkflow`). */
  workflow: WorkflowTarget;
  /** Most rows running at once (default {@link DEFAULT_BATCH_CONCURRENCY}). */
  concurrency?: number;
  /** Most rows read and not yet written (default {@link WINDOW_PER_SLOT} × concurrency; at least the concurrency). */
  window?: number;
  /** Where JSON Lines go, one per row, in row order. Back-pressure is honoured; an error of the stream stops the batch. */
  out?: NodeJS.WritableStream;
  /** Called after each row finishes (`item` is the row's item, for {@link runBatchItems}). */
  onProgress?: (progress: BatchProgress, record: BatchRecord, item: BatchItem) => void;
  /** Called for each record once it is written (or, without `out`, once every earlier row is done), in row order. */
  onRecord?: (record: BatchRecord, item: BatchItem) => void;
  /** Options for each run (model, configurable, ...). Threads are not used in batch mode. */
  runOptions?: Omit<RunOptions, "threadId" | "checkpointer">;
  /**
   * Keep every record in the summary (default true). A batch of any size
   * passes false: then `records` stays empty and `failed` keeps the first
   * `keepFailed` failed records.
   */
  keepRecords?: boolean;
  /** Failed records kept in the summary when `keepRecords` is false (default 10). */
  keepFailed?: number;
  /** Number of the first row (default 1; a resumed batch starts after the rows already written). */
  firstRow?: number;
  /** When aborted, no new row is read; rows already taken run to their end and are written. */
  stop?: AbortSignal;
  /** When aborted, rows in flight are aborted and dropped (not written), and no row after them is written. */
  signal?: AbortSignal;
  /**
   * Runs one row instead of running `workflow` in this process (batch mode on
   * a LangGraph server, `batchServer.ts`): resolves to the row's output (and
   * usage, and fields added to its record), or throws for a failed row.
   */
  execute?: (input: Row, context: { row: number; signal: AbortSignal }) => Promise<RowResult>;
  /**
   * Whether an error of `execute` stops the batch instead of failing its row
   * (the server cannot be reached): the row and the rows after it are not
   * written, so that a resume runs them, and the error is thrown once the rows
   * in flight are done.
   */
  isFatal?: (error: unknown) => boolean;
}

/** What running one row gave (see {@link BatchOptions.execute}). */
export interface RowResult {
  output: Record<string, unknown>;
  usage?: TokenUsage;
  /** More fields for the row's record (e.g. the server's run and thread ids). */
  extra?: Record<string, unknown>;
}

/** What a batch did. */
export interface BatchSummary {
  /** Rows written (every row read, unless the batch was stopped or aborted). */
  total: number;
  succeeded: number;
  /** Failed rows written. */
  failures: number;
  /** Failed records, in row order (all of them, or the first `keepFailed` when `keepRecords` is false). */
  failed: BatchRecord[];
  /** Every record, in row order (empty when `keepRecords` is false). */
  records: BatchRecord[];
  /** Model calls and tokens of all rows run, written or not. */
  usage: TokenUsage;
  /** Whether reading stopped before the end of the input (`stop` or `signal`). */
  stopped: boolean;
  /** Rows read but not written (aborted by `signal`, or after one that was). */
  dropped: number;
}

/**
 * What a failed row's record shows of its input: the value, or its JSON (or
 * text) cut to {@link MAX_ERROR_INPUT_CHARS} characters with `inputBytes`.
 */
export function errorInput(value: unknown): Pick<BatchRecord, "input" | "inputBytes"> {
  const text = typeof value === "string" ? value : (JSON.stringify(value) ?? String(value));
  if (text.length <= MAX_ERROR_INPUT_CHARS) return { input: typeof value === "string" || isRow(value) ? (value as Row | string) : text };
  let end = MAX_ERROR_INPUT_CHARS;
  // Never cut a surrogate pair in two.
  if (/[\uD800-\uDBFF]/.test(text[end - 1])) end--;
  return { input: `${text.slice(0, end)}…`, inputBytes: Buffer.byteLength(text) };
}

function isRow(value: unknown): value is Row {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

const DROPPED = Symbol("dropped");

/**
 * Runs `workflow` once per input, at most `concurrency` at a time. A row whose
 * input is invalid or whose run throws is recorded with its error; the others
 * go on. Records are written to `out` in row order as soon as every earlier row
 * is done; at most `window` rows are held.
 *
 * @throws the error of `out`, after the rows in flight have finished.
 */
export async function runBatch(inputs: Iterable<Row> | AsyncIterable<Row>, options: BatchOptions): Promise<BatchSummary> {
  async function* items(): AsyncGenerator<BatchItem> {
    for await (const input of inputs) yield { input };
  }
  return runBatchItems(items(), options);
}

/**
 * {@link runBatch} over items that may carry their row number and line, or
 * say that a row could not be read (it is recorded as failed, not run).
 *
 * @throws the error of `out` (or a fatal error of `execute`), after the rows in flight have finished.
 */
export async function runBatchItems(items: Iterable<BatchItem> | AsyncIterable<BatchItem>, options: BatchOptions): Promise<BatchSummary> {
  const concurrency = options.concurrency ?? DEFAULT_BATCH_CONCURRENCY;
  const window = Math.max(concurrency, options.window ?? concurrency * WINDOW_PER_SLOT);
  const limit = pLimit(concurrency);
  const keepRecords = options.keepRecords ?? true;
  const keepFailed = keepRecords ? Infinity : (options.keepFailed ?? 10);
  const firstRow = options.firstRow ?? 1;
  const out = options.out;
  // Each row's run gets a signal of its own, linked to the batch's and the caller's only while it
  // runs: a run may leave a listener on the signal it is given, and a batch of a million rows on
  // one shared signal would keep a million of them.
  const batchAbort = new AbortController();
  setMaxListeners(0, batchAbort.signal);
  const abortBatch = () => batchAbort.abort();
  for (const signal of [options.signal, options.runOptions?.signal]) {
    if (signal?.aborted) batchAbort.abort();
    else signal?.addEventListener("abort", abortBatch);
  }

  const summary: BatchSummary = { total: 0, succeeded: 0, failures: 0, failed: [], records: [], usage: emptyUsage(), stopped: false, dropped: 0 };
  /** Finished rows waiting for the rows before them, by position. */
  const finished = new Map<number, { record: BatchRecord | typeof DROPPED; item: BatchItem }>();
  const running = new Set<Promise<void>>();
  let read = 0;
  let nextToWrite = 0;
  let done = 0;
  let failedDone = 0;
  /** An error of the output stream: nothing more is written. */
  let outError: unknown;
  /** A fatal error of `execute`: no row is taken, the rows before it are still written. */
  let fatalError: unknown;
  let halted = false;
  let wake: (() => void) | undefined;
  const wakeReader = () => {
    wake?.();
    wake = undefined;
  };
  const onOutError = (error: unknown) => {
    outError ??= error;
    wakeReader();
  };
  out?.on("error", onOutError);
  options.stop?.addEventListener("abort", wakeReader);
  options.signal?.addEventListener("abort", wakeReader);

  const execute =
    options.execute ??
    (async (input: Row, { signal }: { signal: AbortSignal }): Promise<RowResult> => {
      // The result only: a row streams no task events (docs/performance.md, cause 7).
      const result = await workflowResult(options.workflow, input, { ...options.runOptions, signal });
      return { output: result.output, usage: result.usage };
    });

  const runRow = async (item: BatchItem, position: number): Promise<BatchRecord | typeof DROPPED> => {
    const row = item.row ?? firstRow + position;
    if (item.invalid !== undefined) return { row, ...errorInput(item.raw), ...(item.line !== undefined ? { line: item.line } : {}), error: item.invalid };
    if (options.signal?.aborted || fatalError !== undefined || outError !== undefined) return DROPPED;
    const input = item.input ?? {};
    const rowAbort = new AbortController();
    const abortRow = () => rowAbort.abort(options.signal?.reason ?? options.runOptions?.signal?.reason);
    batchAbort.signal.addEventListener("abort", abortRow);
    try {
      const result = await execute(input, { row, signal: rowAbort.signal });
      if (result.usage) addUsage(summary.usage, result.usage);
      return { row, input, output: result.output, ...(result.usage ? { usage: result.usage } : {}), ...result.extra };
    } catch (error) {
      if (options.signal?.aborted) return DROPPED;
      if (options.isFatal?.(error)) {
        fatalError ??= error;
        wakeReader();
        return DROPPED;
      }
      return { row, ...errorInput(input), error: error instanceof Error ? error.message : String(error) };
    } finally {
      batchAbort.signal.removeEventListener("abort", abortRow);
    }
  };

  // One writer loop at a time, in row order: rows that finish while it waits for `drain` are
  // taken by the same loop; a row that finishes when no loop runs starts one.
  let writerRunning = false;
  let writerIdle = Promise.resolve();
  const writeReady = (): void => {
    if (writerRunning) return;
    writerRunning = true;
    writerIdle = (async () => {
      try {
        while (!halted && finished.has(nextToWrite)) {
          const { record, item } = finished.get(nextToWrite)!;
          if (record === DROPPED || outError !== undefined) {
            halted = true;
            break;
          }
          finished.delete(nextToWrite);
          if (out && !out.write(`${JSON.stringify(record)}\n`)) {
            // `once` removes both of its listeners (drain, error) when it settles: none is left per write.
            await once(out as NodeJS.EventEmitter, "drain");
          }
          nextToWrite++;
          summary.total++;
          if (record.error === undefined) summary.succeeded++;
          else {
            summary.failures++;
            if (summary.failed.length < keepFailed) summary.failed.push(record);
          }
          if (keepRecords) summary.records.push(record);
          options.onRecord?.(record, item);
          wakeReader();
        }
      } catch (error) {
        outError ??= error;
        halted = true;
      } finally {
        writerRunning = false;
        if (halted) wakeReader();
      }
    })();
  };

  const shouldStop = () => options.stop?.aborted || options.signal?.aborted || fatalError !== undefined || outError !== undefined || halted;
  let cut = shouldStop();
  try {
    if (!cut) {
      for await (const item of items) {
        const position = read++;
        const task = limit(() => runRow(item, position)).then((record) => {
          done++;
          if (record !== DROPPED) {
            if (record.error !== undefined) failedDone++;
            options.onProgress?.({ done, failed: failedDone, written: nextToWrite }, record, item);
          }
          finished.set(position, { record, item });
          writeReady();
        });
        running.add(task);
        void task.finally(() => running.delete(task));
        while (read - nextToWrite >= window && !shouldStop()) await new Promise<void>((resolve) => (wake = resolve));
        if (shouldStop()) {
          cut = true;
          break;
        }
      }
    }
    summary.stopped = cut;
    await Promise.all(running);
    writeReady();
    await writerIdle;
  } finally {
    out?.off("error", onOutError);
    options.stop?.removeEventListener("abort", wakeReader);
    options.signal?.removeEventListener("abort", wakeReader);
    options.signal?.removeEventListener("abort", abortBatch);
    options.runOptions?.signal?.removeEventListener("abort", abortBatch);
  }
  summary.dropped = read - summary.total;
  if (outError !== undefined) throw outError;
  if (fatalError !== undefined) throw fatalError;
  return summary;
}
