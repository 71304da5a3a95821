/**
 * Batch mode: one workflow run per row, run concurrently with a bound
 * (`p-limit`), results written as JSON Lines in row order, and rows that fail
 * reported with their error without losing the others.
 *
 * @module
 */
import pLimit from "p-limit";

import { streamWorkflow, type RunOptions, type WorkflowTarget } from "../facade.js";
import { addUsage, emptyUsage, type TokenUsage } from "../runtime/usage.js";
import type { Row } from "./io.js";

/** Rows run at once unless told otherwise. */
export const DEFAULT_BATCH_CONCURRENCY = 8;

/** The record written for one row. */
export interface BatchRecord {
  /** 1-based row number in the input file. */
  row: number;
  input: Row;
  output?: Record<string, unknown>;
  /** Model calls and tokens of the row's run. */
  usage?: TokenUsage;
  /** The error message, when the row failed. */
  error?: string;
}

/** Progress after each finished row. */
export interface BatchProgress {
  done: number;
  failed: number;
}

/** Options of {@link runBatch}. */
export interface BatchOptions {
  /** The workflow each row runs: a name, a definition or a compiled graph (see `streamWorkflow`). */
  workflow: WorkflowTarget;
  /** Most rows running at once (default {@link DEFAULT_BATCH_CONCURRENCY}). */
  concurrency?: number;
  /** Where JSON Lines go, one per row, in row order. */
  out?: NodeJS.WritableStream;
  /** Called after each row finishes. */
  onProgress?: (progress: BatchProgress) => void;
  /** Options for each run (model, configurable, ...). Threads are not used in batch mode. */
  runOptions?: Omit<RunOptions, "threadId" | "checkpointer">;
}

/** What a batch did. */
export interface BatchSummary {
  total: number;
  succeeded: number;
  /** Failed rows with their errors, in row order. */
  failed: BatchRecord[];
  /** Every record, in row order. */
  records: BatchRecord[];
  /** Model calls and tokens of all rows. */
  usage: TokenUsage;
}

function write(out: NodeJS.WritableStream, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (out.write(line)) resolve();
    else out.once("drain", resolve).once("error", reject);
  });
}

/**
 * Runs `workflow` once per input, at most `concurrency` at a time. A row whose
 * input is invalid or whose run throws is recorded with its error; the others
 * go on. Records are written to `out` in row order as soon as every earlier row
 * is done.
 */
export async function runBatch(inputs: Iterable<Row> | AsyncIterable<Row>, options: BatchOptions): Promise<BatchSummary> {
  const limit = pLimit(options.concurrency ?? DEFAULT_BATCH_CONCURRENCY);
  const records: BatchRecord[] = [];
  const pending: Promise<void>[] = [];
  let nextToWrite = 0;
  let done = 0;
  let failed = 0;
  let writing = Promise.resolve();
  const usage = emptyUsage();

  const flush = () => {
    writing = writing.then(async () => {
      while (nextToWrite < records.length && records[nextToWrite]) {
        if (options.out) await write(options.out, `${JSON.stringify(records[nextToWrite])}\n`);
        nextToWrite++;
      }
    });
    return writing;
  };

  const inFlight = new Set<Promise<void>>();
  let index = 0;
  for await (const input of inputs) {
    const slot = index++;
    records.length = Math.max(records.length, slot + 1);
    const task = limit(async () => {
      let record: BatchRecord;
      try {
        record = { row: slot + 1, input };
        for await (const event of streamWorkflow(options.workflow, input, options.runOptions)) {
          if (event.type !== "result") continue;
          record.output = event.output;
          record.usage = event.usage;
          addUsage(usage, event.usage);
        }
      } catch (error) {
        failed++;
        record = { row: slot + 1, input, error: error instanceof Error ? error.message : String(error) };
      }
      records[slot] = record;
      done++;
      options.onProgress?.({ done, failed });
      await flush();
    });
    pending.push(task);
    inFlight.add(task);
    void task.finally(() => inFlight.delete(task));
    // Back-pressure: read at most a few rows ahead of those running.
    while (inFlight.size > limit.concurrency * 4) await Promise.race(inFlight);
  }
  await Promise.all(pending);
  await flush();
  const failedRecords = records.filter((r) => r.error !== undefined);
  return { total: records.length, succeeded: records.length - failedRecords.length, failed: failedRecords, records, usage };
}
