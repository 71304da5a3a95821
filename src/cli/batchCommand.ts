/**
 * Batch mode of `llm-workflows run`: the options it adds to the command, and
 * running every row of a file, writing JSON Lines, with a progress bar,
 * resume after a crash and a clean stop on SIGINT/SIGTERM.
 *
 * @module
 */
import { SingleBar } from "cli-progress";
import { InvalidArgumentError, type Command } from "commander";
import { performance } from "node:perf_hooks";
import type { RunOptions } from "../facade.js";
import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { resolve } from "node:path";
import { DataFileError, LlmWorkflowsError } from "../runtime/errors.js";
import { addUsage, emptyUsage } from "../runtime/usage.js";
import type { WorkflowDefinition } from "../workflow.js";
import { runBatchItems, DEFAULT_BATCH_CONCURRENCY, type BatchItem, type BatchRecord, type BatchSummary } from "./batch.js";
import { defaultDelimiter, jsonTopLevel, openBatchInput, type BatchInput, type InputStats } from "./batchInput.js";
import { batchState, lockOutput, prepareOutput, type PreviousRecords } from "./batchResume.js";
import { connectServer, openServerRunner, RUNS_SUFFIX, type ServerRunner } from "./batchServer.js";
import { inputFileKind, parseFieldMappings, parseJson, readJsonFile, rowToInput, type Row } from "./io.js";
import { formatUsage } from "./render.js";

/** Exit code of a batch that finished with failed rows. */
export const EXIT_PARTIAL = 3;
/** Exit code of a batch stopped by SIGINT (128 + 2). */
export const EXIT_SIGINT = 130;
/** Exit code of a batch stopped by SIGTERM (128 + 15). */
export const EXIT_SIGTERM = 143;

/** A batch stopped by an error of its output or of its server (the rows written are kept; it can be resumed). */
export class BatchStoppedError extends LlmWorkflowsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("BATCH_STOPPED", message, options);
  }
}

/** Failed rows listed on stderr at the end (the output file has them all). */
const FAILURES_LISTED = 10;

/** The `run` command's flags that batch mode reads. */
export interface BatchFlags {
  input?: string;
  inputFile?: string;
  field: string[];
  out?: string;
  concurrency: number;
  thread?: string;
  progress: boolean;
  /** CSV/TSV field delimiter (default from the extension). */
  delimiter?: string;
  /** Start again from row 1 even if `out` holds rows of a batch. */
  restart?: boolean;
  /** Run each row on this LangGraph server instead of in process. */
  server?: string;
  /** The server's assistant (id or graph id) for the rows (default: the workflow's name). */
  assistant?: string;
  /**
   * The command line that started the batch, without the program name (for
   * the resume hint after a stop, which leaves out `--restart`); rebuilt from
   * these flags when absent.
   */
  command?: readonly string[];
  /** Options of every row's run (model, budget, call log), from the other flags. */
  runOptions: RunOptions;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/**
 * A `--delimiter` value: one character, or `\t` / `tab` for a tab.
 * @throws {InvalidArgumentError} for anything else (a usage error: exit 2).
 */
export function parseDelimiter(value: string): string {
  const delimiter = value === "\\t" || value.toLowerCase() === "tab" ? "\t" : value;
  if ([...delimiter].length !== 1 || /["\r\n]/.test(delimiter)) throw new InvalidArgumentError('expected one character (or "\\t" or "tab" for a tab), not a quote or a newline');
  return delimiter;
}

/** Adds batch mode's options to the `run` command. */
export function addBatchOptions(command: Command, positiveInt: (value: string) => number): Command {
  return command
    .option("--input-file <file>", "a .json input, or rows in .csv, .tsv, .jsonl or a .json array (batch mode)")
    .option("--field <input=column>", "batch mode: fill input field from a column (repeatable)", collect, [])
    .option("--out <file>", "batch mode: write one JSON line per row here (default stdout); run again to resume after a stop")
    .option("--concurrency <n>", "batch mode: rows run at once", positiveInt, DEFAULT_BATCH_CONCURRENCY)
    .option("--delimiter <char>", 'batch mode: CSV field delimiter (default "," for .csv, tab for .tsv; "\\t" or "tab" for a tab)', parseDelimiter)
    .option("--restart", "batch mode: start again from row 1 even if --out holds rows of this batch")
    .option("--server <url>", "batch mode: run each row on this LangGraph server (through @langchain/langgraph-sdk)")
    .option("--assistant <id>", "batch mode with --server: the assistant or graph id (default: the workflow's name)")
    .option("--no-progress", "batch mode: no progress bar");
}

/** What the progress bar shows after a row. */
export interface ProgressFigures {
  /** Rows done (written or finished), including rows of an earlier run that this one resumed. */
  done: number;
  failed: number;
  /** Rows in the file: exact once it has been read to its end, else estimated from the bytes read. */
  total: number;
  estimated: boolean;
  /** Rows per second in this run. */
  rate: number;
  /** Seconds left at this rate; undefined before the first row. */
  etaSeconds?: number;
}

/** The figures of the progress bar from the input's counters and this run's rows. */
export function progressFigures(stats: InputStats, doneBefore: number, doneNow: number, failed: number, elapsedMs: number): ProgressFigures {
  const done = doneBefore + doneNow;
  const total = stats.ended || stats.bytesRead === 0 ? stats.rows : Math.max(stats.rows, Math.round((stats.rows * stats.size) / stats.bytesRead));
  const rate = elapsedMs > 0 ? (doneNow * 1000) / elapsedMs : 0;
  const left = Math.max(0, total - done);
  return { done, failed, total: Math.max(total, done), estimated: !stats.ended, rate, etaSeconds: rate > 0 ? left / rate : left === 0 ? 0 : undefined };
}

/** `42s`, `3m05s`, `2h14m`, or `?` when unknown. */
export function formatEta(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** The progress line after the bar: `1,234/≈10,000 rows | 41.3 rows/s | 2 failed | eta 3m38s`. */
export function formatProgress(figures: ProgressFigures): string {
  const n = (x: number) => x.toLocaleString("en-US");
  return `${n(figures.done)}/${figures.estimated ? "≈" : ""}${n(figures.total)} rows | ${figures.rate.toFixed(1)} rows/s | ${n(figures.failed)} failed | eta ${formatEta(figures.etaSeconds)}`;
}

/** A command-line argument quoted for a POSIX shell when it needs to be. */
function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** The command that resumes this batch. */
export function resumeCommand(workflow: WorkflowDefinition<any>, flags: BatchFlags): string {
  // The same command without --restart, which would start the batch again instead of resuming it.
  if (flags.command) return ["llm-workflows", ...flags.command.filter((arg) => arg !== "--restart")].map(shellQuote).join(" ");
  const args = ["run", workflow.source ?? workflow.name, "--input-file", flags.inputFile!];
  for (const field of flags.field) args.push("--field", field);
  if (flags.input) args.push("--input", flags.input);
  if (flags.delimiter !== undefined) args.push("--delimiter", flags.delimiter === "\t" ? "tab" : flags.delimiter);
  args.push("--out", flags.out!);
  if (flags.server) args.push("--server", flags.server);
  if (flags.assistant) args.push("--assistant", flags.assistant);
  if (flags.concurrency !== DEFAULT_BATCH_CONCURRENCY) args.push("--concurrency", String(flags.concurrency));
  const options = flags.runOptions;
  if (options.model) args.push("--model", options.model);
  if (options.budget?.maxUsd !== undefined) args.push("--budget-usd", String(options.budget.maxUsd));
  if (options.budget?.maxTokens !== undefined) args.push("--budget-tokens", String(options.budget.maxTokens));
  if (options.callLog) args.push("--call-log", options.callLog);
  if (!flags.progress) args.push("--no-progress");
  return ["llm-workflows", ...args].map(shellQuote).join(" ");
}

/**
 * Checks that every `--field` column is in `columns` (the header, or the first
 * row's keys): one error before anything runs rather than one per row.
 * @throws {DataFileError} naming the missing columns and listing those present.
 */
export function checkFieldColumns(file: string, fields: Record<string, string>, input: Pick<BatchInput, "columns" | "columnsFrom">): void {
  if (!input.columns) return;
  const present = new Set(input.columns);
  const missing = Object.entries(fields).filter(([, column]) => !present.has(column));
  if (!missing.length) return;
  const what = input.columnsFrom === "header" ? "its header has" : "its first row has";
  throw new DataFileError(
    file,
    `${missing.map(([field, column]) => `--field ${field}=${column}: no column "${column}"`).join("; ")}; ${what}: ${input.columns.map((c) => JSON.stringify(c)).join(", ") || "(none)"}`,
  );
}

/** The batch's items from the file's rows: mapped to inputs, past the rows already written. */
async function* itemsOf(input: BatchInput, skip: number, fields: Record<string, string>, defaults: Row): AsyncGenerator<BatchItem> {
  const mapped = Object.values(fields);
  for await (const row of input.rows) {
    if (row.row <= skip) continue;
    if (!row.values) {
      yield { row: row.row, invalid: row.invalid, raw: row.raw, ...(row.line !== undefined ? { line: row.line } : {}) };
      continue;
    }
    const absent = mapped.filter((column) => !(column in row.values!));
    if (absent.length) {
      yield { row: row.row, invalid: `no column ${absent.map((c) => JSON.stringify(c)).join(", ")} in this row (see --field)`, raw: row.values, ...(row.line !== undefined ? { line: row.line } : {}) };
      continue;
    }
    yield { row: row.row, input: rowToInput(row.values, fields, defaults) };
  }
}

/**
 * `run WORKFLOW --input-file FILE`: a `.json` file holding one object is one
 * run (`runSingle`); otherwise every row of the file is a run (batch mode),
 * with results written as JSON Lines in row order. With `--out`, running the
 * same command again resumes after the rows already written.
 *
 * @returns the exit code: 0; {@link EXIT_PARTIAL} when some rows failed;
 *   {@link EXIT_SIGINT} / {@link EXIT_SIGTERM} when a signal stopped the batch.
 * @throws {DataFileError} for an unreadable file, a `--field` column the file
 *   does not have, or a batch with `--thread`.
 * @throws {BatchResumeError} when `--out` holds a batch of another input.
 */
export async function runFromFile(
  workflow: WorkflowDefinition<any>,
  flags: BatchFlags,
  stdout: NodeJS.WritableStream,
  stderr: NodeJS.WritableStream,
  runSingle: (input: Row) => Promise<number>,
): Promise<number> {
  const file = flags.inputFile!;
  const kind = inputFileKind(file);
  if (kind === "json" && (await jsonTopLevel(file)) === "object") {
    const read = readJsonFile(file);
    if ("single" in read) return runSingle(rowToInput(read.single, parseFieldMappings(flags.field), defaultsOf(flags)));
  }
  if (flags.thread) throw new DataFileError(file, "--thread applies to one input, not to a batch of rows");
  if (flags.assistant && !flags.server) throw new DataFileError("--assistant", "applies with --server only");
  const fields = parseFieldMappings(flags.field);
  const defaults = defaultsOf(flags);
  if (flags.out && resolve(flags.out) === resolve(file)) throw new DataFileError(file, "--out names the input file itself; give another --out");
  const input = await openBatchInput(file, { delimiter: flags.delimiter });
  let release: (() => void) | undefined;
  try {
    checkFieldColumns(file, fields, input);
    release = flags.out ? lockOutput(flags.out) : undefined;
    return await runRows(workflow, flags, input, fields, defaults, stdout, stderr);
  } finally {
    release?.();
    await input.close();
  }
}

async function runRows(
  workflow: WorkflowDefinition<any>,
  flags: BatchFlags,
  input: BatchInput,
  fields: Record<string, string>,
  defaults: Row,
  stdout: NodeJS.WritableStream,
  stderr: NodeJS.WritableStream,
): Promise<number> {
  const file = flags.inputFile!;
  const name = workflow.name;
  let previous: PreviousRecords = { rows: 0, failures: 0, failed: [], usage: emptyUsage(), cutBytes: 0 };
  let out: NodeJS.WritableStream = stdout;
  let fileOut: import("node:fs").WriteStream | undefined;
  const server = flags.server ? { url: flags.server.replace(/\/+$/, ""), assistant: flags.assistant ?? workflow.name } : undefined;
  let batchId: string = randomUUID();
  let resumed = false;
  // The server is checked before the output is touched: a wrong --server or --assistant leaves no batch behind.
  const connection = server ? await connectServer(server) : undefined;
  if (flags.out) {
    const state = await batchState(file, {
      workflow: workflow.source ?? workflow.name,
      fields,
      defaults,
      ...(input.kind === "csv" || input.kind === "tsv" ? { delimiter: flags.delimiter ?? defaultDelimiter(input.kind) } : {}),
      ...(server ? { server } : {}),
    });
    const prepared = await prepareOutput(flags.out, state, { restart: flags.restart, keepFailed: FAILURES_LISTED });
    previous = prepared.previous;
    fileOut = prepared.stream;
    out = fileOut;
    batchId = prepared.state.batchId;
    resumed = prepared.resumed;
    // A new batch forgets the runs of an earlier one (its threads derive from another batch id).
    if (!resumed) rmSync(`${flags.out}${RUNS_SUFFIX}`, { force: true });
  }
  let runner: ServerRunner | undefined;
  try {
    if (server) {
      runner = await openServerRunner(
        {
          ...server,
          batchId,
          runsFile: flags.out ? `${flags.out}${RUNS_SUFFIX}` : undefined,
          rowsWritten: previous.rows,
          outputChannels: workflow.graph.outputChannels as string | string[] | undefined,
        },
        connection,
      );
    }
  } catch (error) {
    if (fileOut) await new Promise<void>((resolve) => fileOut!.end(() => resolve()));
    throw error;
  }
  if (resumed) {
    const cut = previous.cutBytes ? ` (a partly written last line of ${previous.cutBytes} bytes was cut off)` : "";
    const joined = runner?.pending ? `; ${runner.pending} run${runner.pending === 1 ? "" : "s"} submitted before to be joined, not submitted again` : "";
    stderr.write(`resuming ${flags.out}: ${previous.rows.toLocaleString("en-US")} row${previous.rows === 1 ? "" : "s"} already written${cut}${joined}; going on from row ${previous.rows + 1}\n`);
  }

  // SIGINT/SIGTERM: the first stops taking rows (those in flight finish and are written), the second drops those in flight.
  const stop = new AbortController();
  const abort = new AbortController();
  let stoppedBy: NodeJS.Signals | undefined;
  const bar = new SingleBar({
    stream: stderr as NodeJS.WriteStream,
    format: `${name} {bar} {percentage}% | {figures}`,
    noTTYOutput: false,
    hideCursor: true,
  });
  let barOn = false;
  const stopBar = () => {
    if (barOn) bar.stop();
    barOn = false;
  };
  let doneNow = 0;
  let failedNow = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    stopBar();
    if (!stop.signal.aborted) {
      stoppedBy = signal;
      stop.abort(signal);
      const taken = Math.max(0, input.stats.rows - previous.rows - doneNow);
      stderr.write(`\n${signal}: taking no new rows; finishing the ${taken} already taken (${signal} again drops those in flight)\n`);
    } else if (!abort.signal.aborted) {
      abort.abort(signal);
      stderr.write(`${signal}: dropping the rows in flight\n`);
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  const started = performance.now();
  const update = () => {
    if (!barOn) return;
    const figures = progressFigures(input.stats, previous.rows, doneNow, previous.failures + failedNow, performance.now() - started);
    bar.setTotal(Math.max(1, figures.total));
    bar.update(figures.done, { figures: formatProgress(figures) });
  };
  if (flags.progress && !stop.signal.aborted) {
    const figures = progressFigures(input.stats, previous.rows, 0, previous.failures, 0);
    bar.start(Math.max(1, figures.total), figures.done, { figures: formatProgress(figures) });
    barOn = true;
  }
  let summary: BatchSummary | undefined;
  let fatal: unknown;
  try {
    summary = await runBatchItems(itemsOf(input, previous.rows, fields, defaults), {
      workflow,
      concurrency: flags.concurrency,
      out,
      runOptions: flags.runOptions,
      keepRecords: false,
      keepFailed: Math.max(0, FAILURES_LISTED - previous.failed.length),
      stop: stop.signal,
      signal: abort.signal,
      ...(runner ? { execute: runner.execute, isFatal: runner.isFatal } : {}),
      onProgress: ({ done, failed }) => {
        doneNow = done;
        failedNow = failed;
        update();
      },
    });
  } catch (error) {
    fatal = error;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    stopBar();
    if (fileOut) await new Promise<void>((resolve, reject) => fileOut!.end((error?: Error | null) => (error ? reject(error) : resolve())));
  }
  if (!summary) {
    const message = fatal instanceof Error ? fatal.message : String(fatal);
    const hint = flags.out ? `; the rows written are kept in ${flags.out}; resume with: ${resumeCommand(workflow, flags)}` : "";
    throw new BatchStoppedError(`the batch stopped: ${message}${hint}`, { cause: fatal });
  }
  const seconds = (performance.now() - started) / 1000;
  const total = previous.rows + summary.total;
  const failures = previous.failures + summary.failures;
  const usage = addUsage(addUsage(emptyUsage(), previous.usage), summary.usage);
  const failed: BatchRecord[] = [...previous.failed, ...summary.failed].slice(0, FAILURES_LISTED);
  for (const record of failed) stderr.write(`  row ${record.row} failed: ${record.error}\n`);
  if (failures > failed.length) stderr.write(`  … and ${(failures - failed.length).toLocaleString("en-US")} more failed rows (records with an "error" in ${flags.out ?? "the output"})\n`);
  if (summary.stopped && stoppedBy) {
    if (flags.out) stderr.write(`stopped by ${stoppedBy} after row ${total}${summary.dropped ? ` (${summary.dropped} row${summary.dropped === 1 ? "" : "s"} in flight dropped)` : ""}; resume with:\n  ${resumeCommand(workflow, flags)}\n`);
    else stderr.write(`stopped by ${stoppedBy} after row ${total}; without --out the batch cannot be resumed\n`);
  }
  const parts = [`${(total - failures).toLocaleString("en-US")}/${total.toLocaleString("en-US")} rows succeeded, ${failures.toLocaleString("en-US")} failed`];
  if (previous.rows) parts[0] += ` (${previous.rows.toLocaleString("en-US")} from the earlier run)`;
  if (input.stats.replacedUtf8) parts.push(`${input.stats.replacedUtf8} invalid UTF-8 sequence${input.stats.replacedUtf8 === 1 ? "" : "s"} replaced with U+FFFD`);
  const rate = summary.total / seconds;
  stderr.write(
    `${parts.join(", ")} in ${seconds.toFixed(1)} s (${rate.toFixed(1)} rows/s); ` +
      (server ? `model calls made on ${server.url} (not counted here)` : `${formatUsage(usage)}${previous.rows ? ` (this run: ${formatUsage(summary.usage)})` : ""}`) +
      `${flags.out ? `; results in ${flags.out}` : ""}\n`,
  );
  if (summary.stopped && stoppedBy) return stoppedBy === "SIGINT" ? EXIT_SIGINT : EXIT_SIGTERM;
  return failures ? EXIT_PARTIAL : 0;
}

function defaultsOf(flags: BatchFlags): Row {
  if (!flags.input) return {};
  const value = parseJson(flags.input, "--input");
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new DataFileError("--input", "expected a JSON object");
  return value as Row;
}
