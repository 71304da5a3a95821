/**
 * Resuming a batch: the output file is the progress. Records are written in
 * row order, one complete line per row, so the complete lines of `--out` are
 * exactly the rows done; a batch started again with the same `--out` skips
 * them. Beside the output, `OUT.batch.json` keeps what the batch was started
 * with (the workflow, a fingerprint of the input file, the `--field`,
 * `--input` and `--delimiter` settings); a run with a different input is
 * refused rather than mixed in.
 *
 * A process killed at any point (SIGKILL included) leaves at most one partly
 * written last line: it is cut off on resume and its row runs again. Rows
 * whose lines were written never run again, so their model calls are not
 * repeated; rows that were running when the process died are.
 *
 * @module
 */
import { createHash, randomUUID } from "node:crypto";
import { createReadStream, createWriteStream, existsSync, readFileSync, renameSync, rmSync, writeFileSync, type WriteStream } from "node:fs";
import { open, truncate } from "node:fs/promises";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { DataFileError, LlmWorkflowsError } from "../runtime/errors.js";
import { addUsage, emptyUsage, type TokenUsage } from "../runtime/usage.js";
import type { BatchRecord } from "./batch.js";
import type { Row } from "./io.js";

/** Suffix of the file beside `--out` that records what the batch was started with. */
export const STATE_SUFFIX = ".batch.json";
/** Suffix of the lock file beside `--out` while a batch writes it (it holds the writer's process id). */
export const LOCK_SUFFIX = ".lock";

/** A batch's output cannot be resumed: a different input, or a damaged output file. */
export class BatchResumeError extends LlmWorkflowsError {
  /** The `--out` file. */
  readonly out: string;

  constructor(out: string, problem: string) {
    super("BATCH_RESUME", `cannot resume ${out}: ${problem}`);
    this.out = out;
  }
}

/** Size and SHA-256 of a file. */
export interface FileFingerprint {
  bytes: number;
  /** Hex SHA-256 of the whole file. */
  sha256: string;
}

/** What a batch was started with (`OUT.batch.json`). */
export interface BatchState {
  version: 1;
  /** The workflow: its name, or `ABSOLUTE_PATH:export` for a graph file. */
  workflow: string;
  /** The input file: absolute path (informative: a moved file with the same content resumes) and fingerprint. */
  input: { file: string } & FileFingerprint;
  /** `--field` mappings (input field -> column). */
  fields: Record<string, string>;
  /** `--input` defaults. */
  defaults: Row;
  /** The CSV/TSV delimiter, when the input is one. */
  delimiter?: string;
  /** The LangGraph server the rows run on (`--server`, `--assistant`); absent for a batch run in process. */
  server?: { url: string; assistant: string };
  /** A random id of the batch, drawn when it starts (the server's thread ids derive from it). */
  batchId: string;
  /** ISO time the batch was first started. */
  startedAt: string;
}

/** The records already in an output file. */
export interface PreviousRecords {
  /** Complete records (rows 1 to `rows`). */
  rows: number;
  failures: number;
  /** The first failed records (at most `keepFailed`). */
  failed: BatchRecord[];
  /** Model calls and tokens of the records' runs. */
  usage: TokenUsage;
  /** Bytes of a partly written last line that were cut off. */
  cutBytes: number;
}

/** An output file ready for records. */
export interface PreparedOutput {
  stream: WriteStream;
  /** Whether the file already held rows of this batch (then `previous.rows > 0` or the batch had not written any). */
  resumed: boolean;
  previous: PreviousRecords;
  /** The state file's path. */
  stateFile: string;
  /** The batch's state: the one saved when it resumes, else the new one. */
  state: BatchState;
}

/**
 * Size and SHA-256 of `file`, read as a stream.
 * @throws {DataFileError} when it cannot be read.
 */
export async function fingerprintFile(file: string): Promise<FileFingerprint> {
  const hash = createHash("sha256");
  let bytes = 0;
  try {
    for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
      hash.update(chunk);
      bytes += chunk.length;
    }
  } catch (error) {
    throw new DataFileError(file, (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (error as Error).message, { cause: error });
  }
  return { bytes, sha256: hash.digest("hex") };
}

function emptyPrevious(): PreviousRecords {
  return { rows: 0, failures: 0, failed: [], usage: emptyUsage(), cutBytes: 0 };
}

/** Bytes of `file` up to and including its last newline. */
async function completeBytes(file: string): Promise<{ size: number; complete: number }> {
  const handle = await open(file, "r");
  try {
    const { size } = await handle.stat();
    const block = Buffer.alloc(64 * 1024);
    for (let end = size; end > 0; ) {
      const start = Math.max(0, end - block.length);
      const { bytesRead } = await handle.read(block, 0, end - start, start);
      const at = block.subarray(0, bytesRead).lastIndexOf(0x0a);
      if (at >= 0) return { size, complete: start + at + 1 };
      end = start;
    }
    return { size, complete: 0 };
  } finally {
    await handle.close();
  }
}

/**
 * Reads the records of an output file, after cutting off a partly written
 * last line: they must be rows 1, 2, 3, ... in order.
 * @throws {BatchResumeError} when a complete line is not such a record.
 */
export async function readPreviousRecords(out: string, keepFailed = 10): Promise<PreviousRecords> {
  const previous = emptyPrevious();
  if (!existsSync(out)) return previous;
  const { size, complete } = await completeBytes(out);
  if (complete < size) {
    await truncate(out, complete);
    previous.cutBytes = size - complete;
  }
  if (complete === 0) return previous;
  const lines = createInterface({ input: createReadStream(out, { end: complete - 1 }), crlfDelay: Infinity });
  for await (const line of lines) {
    let record: BatchRecord;
    try {
      record = JSON.parse(line) as BatchRecord;
    } catch {
      throw new BatchResumeError(out, `line ${previous.rows + 1} is not a JSON record (the file was changed by hand?); give another --out, or --restart`);
    }
    if (record?.row !== previous.rows + 1) {
      throw new BatchResumeError(out, `line ${previous.rows + 1} holds row ${String(record?.row)}, expected row ${previous.rows + 1}; give another --out, or --restart`);
    }
    previous.rows++;
    if (record.error !== undefined) {
      previous.failures++;
      if (previous.failed.length < keepFailed) previous.failed.push(record);
    }
    if (record.usage) addUsage(previous.usage, record.usage);
  }
  return previous;
}

/** How `saved` differs from `current`, one phrase per difference (empty when they match). */
export function stateDifferences(saved: BatchState, current: BatchState): string[] {
  const differences: string[] = [];
  if (saved.input.sha256 !== current.input.sha256 || saved.input.bytes !== current.input.bytes) {
    differences.push(
      `the input differs from the one this batch started with (${saved.input.file}: ${saved.input.bytes} bytes, sha256 ${saved.input.sha256.slice(0, 12)}…; ` +
        `now ${current.input.file}: ${current.input.bytes} bytes, sha256 ${current.input.sha256.slice(0, 12)}…)`,
    );
  }
  if (saved.workflow !== current.workflow) differences.push(`it was started with workflow ${saved.workflow}, not ${current.workflow}`);
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  if (!same(saved.fields, current.fields)) differences.push(`it was started with ${describeFields(saved.fields)}, not ${describeFields(current.fields)}`);
  if (!same(saved.defaults, current.defaults)) differences.push(`it was started with --input ${JSON.stringify(saved.defaults)}, not ${JSON.stringify(current.defaults)}`);
  if ((saved.delimiter ?? null) !== (current.delimiter ?? null)) differences.push(`it was started with --delimiter ${JSON.stringify(saved.delimiter)}, not ${JSON.stringify(current.delimiter)}`);
  if (!same(saved.server ?? null, current.server ?? null)) differences.push(`it was started ${describeServer(saved.server)}, not ${describeServer(current.server)}`);
  return differences;
}

function describeServer(server: BatchState["server"]): string {
  return server ? `on the server ${server.url} (assistant ${server.assistant})` : "in process (no --server)";
}

function describeFields(fields: Record<string, string>): string {
  const specs = Object.entries(fields).map(([field, column]) => `--field ${field}=${column}`);
  return specs.length ? specs.join(" ") : "no --field";
}

function readState(stateFile: string): BatchState | undefined {
  try {
    const state = JSON.parse(readFileSync(stateFile, "utf8")) as BatchState;
    return state?.version === 1 && state.input?.sha256 && state.batchId ? state : undefined;
  } catch {
    return undefined;
  }
}

/** Writes `state` so that a reader never sees half of it (a temporary file, then a rename). */
export function writeState(stateFile: string, state: BatchState): void {
  const temporary = `${stateFile}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(temporary, stateFile);
}

/** Whether a process with this id runs (a lock left by a killed process is stale). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Takes `OUT.lock` so that two batches never write the same output at once;
 * a lock whose process is gone (killed) is taken over.
 * @returns a function that releases it.
 * @throws {BatchResumeError} when another running process holds it.
 */
export function lockOutput(out: string): () => void {
  const lock = `${out}${LOCK_SUFFIX}`;
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(lock, `${process.pid}\n`, { flag: "wx" });
      return () => rmSync(lock, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw error;
      const pid = Number(readFileSync(lock, "utf8").trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) {
        throw new BatchResumeError(out, `another batch (process ${pid}) is writing it; wait for it to end, or stop it (${lock} names it)`);
      }
      rmSync(lock, { force: true });
    }
  }
}

async function openStream(file: string, flags: "w" | "a"): Promise<WriteStream> {
  const stream = createWriteStream(file, { flags });
  await new Promise<void>((resolvePromise, reject) => {
    stream.once("open", () => resolvePromise());
    stream.once("error", (error) => reject(new DataFileError(file, `cannot write the output file (${(error as NodeJS.ErrnoException).code ?? error.message})`)));
  });
  return stream;
}

/**
 * Opens `out` for a batch started with `state`: to go on after its records
 * when it holds this batch's (same input fingerprint, workflow and row
 * settings), else empty. With `restart`, always empty.
 *
 * @throws {BatchResumeError} when `out` holds a batch started differently (without `restart`), or is damaged.
 * @throws {DataFileError} when it cannot be written.
 */
export async function prepareOutput(out: string, state: BatchState, options: { restart?: boolean; keepFailed?: number } = {}): Promise<PreparedOutput> {
  const stateFile = `${out}${STATE_SUFFIX}`;
  const saved = existsSync(stateFile) ? readState(stateFile) : undefined;
  if (saved && existsSync(out) && !options.restart) {
    const differences = stateDifferences(saved, state);
    if (differences.length) {
      throw new BatchResumeError(out, `${differences.join("; ")}. Give another --out, or --restart to start this batch again (the file is then overwritten)`);
    }
    const previous = await readPreviousRecords(out, options.keepFailed);
    return { stream: await openStream(out, "a"), resumed: true, previous, stateFile, state: saved };
  }
  // Empty the output before recording the new batch: a crash in between must not leave old rows under a new state.
  const stream = await openStream(out, "w");
  writeState(stateFile, state);
  return { stream, resumed: false, previous: emptyPrevious(), stateFile, state };
}

/** The state of a batch started now on `file`. */
export async function batchState(file: string, spec: Omit<BatchState, "version" | "input" | "startedAt" | "batchId">): Promise<BatchState> {
  const fingerprint = await fingerprintFile(file);
  return { version: 1, ...spec, input: { file: resolve(file), ...fingerprint }, batchId: randomUUID(), startedAt: new Date().toISOString() };
}
