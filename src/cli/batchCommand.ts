/**
 * Batch mode of `llm-workflows run`: the options it adds to the command, and
 * reading a file of rows, running each, writing JSON Lines.
 *
 * @module
 */
import { SingleBar } from "cli-progress";
import type { Command } from "commander";
import { createWriteStream } from "node:fs";
import { performance } from "node:perf_hooks";
import type { RunOptions } from "../facade.js";
import { DataFileError } from "../runtime/errors.js";
import type { WorkflowDefinition } from "../workflow.js";
import { runBatch, DEFAULT_BATCH_CONCURRENCY } from "./batch.js";
import { inputFileKind, parseFieldMappings, parseJson, readJsonFile, readRows, rowToInput, type Row } from "./io.js";
import { formatUsage } from "./render.js";

/** Exit code of a batch that finished with failed rows. */
export const EXIT_PARTIAL = 3;

/** The `run` command's flags that batch mode reads. */
export interface BatchFlags {
  input?: string;
  inputFile?: string;
  field: string[];
  out?: string;
  concurrency: number;
  thread?: string;
  progress: boolean;
  /** Options of every row's run (model, budget, call log), from the other flags. */
  runOptions: RunOptions;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Adds batch mode's options to the `run` command. */
export function addBatchOptions(command: Command, positiveInt: (value: string) => number): Command {
  return command
    .option("--input-file <file>", "a .json input, or rows in .csv, .jsonl or a .json array (batch mode)")
    .option("--field <input=column>", "batch mode: fill input field from a column (repeatable)", collect, [])
    .option("--out <file>", "batch mode: write one JSON line per row here (default stdout)")
    .option("--concurrency <n>", "batch mode: rows run at once", positiveInt, DEFAULT_BATCH_CONCURRENCY)
    .option("--no-progress", "batch mode: no progress bar");
}

/**
 * `run WORKFLOW --input-file FILE`: a `.json` file holding one object is one
 * run (`runSingle`); otherwise every row of the file is a run (batch mode),
 * with results written as JSON Lines in row order.
 *
 * @returns the exit code: 0, or {@link EXIT_PARTIAL} when some rows failed.
 * @throws {DataFileError} for an unreadable file or a batch with `--thread`.
 */
export async function runFromFile(
  workflow: WorkflowDefinition<any>,
  flags: BatchFlags,
  stdout: NodeJS.WritableStream,
  stderr: NodeJS.WritableStream,
  runSingle: (input: Row) => Promise<number>,
): Promise<number> {
  const file = flags.inputFile!;
  const name = workflow.name;
  if (inputFileKind(file) === "json") {
    const read = readJsonFile(file);
    if ("single" in read) return runSingle(rowToInput(read.single, parseFieldMappings(flags.field), defaultsOf(flags)));
  }
  if (flags.thread) throw new DataFileError(file, "--thread applies to one input, not to a batch of rows");
  const fields = parseFieldMappings(flags.field);
  const defaults = defaultsOf(flags);
  const rows: Row[] = [];
  for await (const row of readRows(file)) rows.push(rowToInput(row, fields, defaults));
  const out = flags.out ? await openOutput(flags.out) : stdout;
  const bar = new SingleBar(
    {
      stream: stderr as NodeJS.WriteStream,
      format: `${name} {bar} {value}/{total} rows | {rate} rows/s | {failed} failed | eta {eta_formatted}`,
      noTTYOutput: false,
      hideCursor: true,
    },
  );
  const started = performance.now();
  if (flags.progress) bar.start(rows.length, 0, { rate: "0.0", failed: 0 });
  const summary = await runBatch(rows, {
    workflow,
    concurrency: flags.concurrency,
    out,
    runOptions: flags.runOptions,
    onProgress: ({ done, failed }) => {
      if (flags.progress) bar.update(done, { rate: (done / ((performance.now() - started) / 1000)).toFixed(1), failed });
    },
  });
  if (flags.progress) bar.stop();
  if (flags.out) await new Promise<void>((resolve, reject) => (out as ReturnType<typeof createWriteStream>).end((err?: Error | null) => (err ? reject(err) : resolve())));
  const seconds = (performance.now() - started) / 1000;
  stderr.write(
    `${summary.succeeded}/${summary.total} rows succeeded in ${seconds.toFixed(1)} s (${(summary.total / seconds).toFixed(1)} rows/s), ${formatUsage(summary.usage)}` +
      `${flags.out ? `; results in ${flags.out}` : ""}\n`,
  );
  for (const failed of summary.failed) stderr.write(`  row ${failed.row} failed: ${failed.error}\n`);
  return summary.failed.length ? EXIT_PARTIAL : 0;
}

/**
 * Opens `file` for writing, waiting until it is open.
 * @throws {DataFileError} when it cannot be created.
 */
async function openOutput(file: string): Promise<ReturnType<typeof createWriteStream>> {
  const stream = createWriteStream(file);
  await new Promise<void>((resolve, reject) => {
    stream.once("open", () => resolve());
    stream.once("error", (error) => reject(new DataFileError(file, `cannot write the output file (${(error as NodeJS.ErrnoException).code ?? error.message})`)));
  });
  return stream;
}

function defaultsOf(flags: BatchFlags): Row {
  if (!flags.input) return {};
  const value = parseJson(flags.input, "--input");
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new DataFileError("--input", "expected a JSON object");
  return value as Row;
}

