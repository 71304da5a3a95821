/**
 * Batch mode's input: the rows of a CSV/TSV, JSON Lines or JSON-array file,
 * read as a stream (memory does not grow with the file). A row that cannot be
 * read (a malformed JSON line, a CSV row with the wrong number of fields, an
 * array element that is not an object) becomes an {@link InputRow} with
 * `invalid` set, and reading goes on; only a JSON array stops at a syntax
 * error, since nothing after it can be told apart.
 *
 * Text is decoded as UTF-8 with the WHATWG decoder (`TextDecoder`): a leading
 * byte-order mark is dropped, and each invalid byte sequence is replaced with
 * U+FFFD and counted ({@link InputStats.replacedUtf8}); the row still runs.
 * CSV is parsed by `csv-parse`, JSON arrays by `stream-json`, lines by
 * `node:readline`.
 *
 * @module
 */
import { parse as parseCsv, type Parser as CsvParser } from "csv-parse";
import { createReadStream, statSync } from "node:fs";
import { open } from "node:fs/promises";
import { createInterface } from "node:readline";
import { Readable } from "node:stream";
import { verifyFile } from "stream-json/file/verifier.js";
import { streamArray } from "stream-json/streamers/stream-array.js";
import { DataFileError } from "../runtime/errors.js";
import { inputFileKind, type InputFileKind, type Row } from "./io.js";

/** One row of an input file, or why it could not be read. */
export interface InputRow {
  /** 1-based number of the row among the file's rows (a CSV header and blank lines are not rows). */
  row: number;
  /** The row's columns (CSV/TSV: strings; JSON: any JSON values). Absent when `invalid` is set. */
  values?: Row;
  /** Why the row could not be read, e.g. `invalid JSON (Unexpected token ...)`. */
  invalid?: string;
  /** The text of a row that could not be read (or its value, for a JSON element that is not an object). */
  raw?: unknown;
  /** The file's line on which the row ends (CSV/TSV and JSON Lines; unknown in a JSON array). */
  line?: number;
}

/** What reading has found so far. */
export interface InputStats {
  /** Size of the file in bytes. */
  size: number;
  /** Bytes read so far. */
  bytesRead: number;
  /** Rows read so far (readable or not). */
  rows: number;
  /** Whether the whole file has been read. */
  ended: boolean;
  /** Invalid UTF-8 sequences replaced with U+FFFD so far. */
  replacedUtf8: number;
}

/** Options of {@link openBatchInput}. */
export interface BatchInputOptions {
  /** Field delimiter of a CSV/TSV file (default: `,` for .csv, a tab for .tsv). */
  delimiter?: string;
}

/** An input file opened for a batch. */
export interface BatchInput {
  kind: InputFileKind;
  /**
   * The columns: a CSV/TSV file's header, or the keys of the first readable
   * row of a JSON Lines file or JSON array (which have no header); undefined
   * when the file has no readable row.
   */
  columns?: string[];
  /** Whether `columns` comes from a header row (CSV/TSV) or from the first row (JSON). */
  columnsFrom: "header" | "first row";
  /** Counters, updated as rows are read. */
  stats: InputStats;
  /** The rows, in file order. Read it once. */
  rows: AsyncGenerator<InputRow>;
  /** Stops reading and closes the file (when `rows` is not read to its end). */
  close(): Promise<void>;
}

/** Bytes read from the file at a time. */
const READ_CHUNK_BYTES = 64 * 1024;
/** The bytes of U+FFFD in UTF-8. */
const REPLACEMENT_BYTES = Buffer.from([0xef, 0xbf, 0xbd]);
/**
 * stream-json's "no more input" value (stream-chain's `none`, a registered
 * symbol): the streamer flushes on it and reports a truncated array.
 */
const END_OF_INPUT = Symbol.for("object-stream.none");

/** The delimiter a file's extension implies. */
export function defaultDelimiter(kind: InputFileKind): string {
  return kind === "tsv" ? "\t" : ",";
}

/**
 * UTF-8 text of a byte stream, counting the invalid sequences the decoder
 * replaced: the U+FFFD it produced minus the U+FFFD the input held as such
 * (EF BF BD, which the decoder passes through).
 */
class CountingDecoder {
  private readonly decoder = new TextDecoder("utf-8");
  private produced = 0;
  private literal = 0;
  private tail = Buffer.alloc(0);

  /** Invalid sequences replaced so far. */
  get replaced(): number {
    return this.produced - this.literal;
  }

  decode(chunk?: Buffer): string {
    const text = chunk ? this.decoder.decode(chunk, { stream: true }) : this.decoder.decode();
    if (chunk) {
      this.literal += count(Buffer.concat([this.tail, chunk]), REPLACEMENT_BYTES, this.tail.length);
      this.tail = Buffer.from(chunk.subarray(Math.max(0, chunk.length - 2)));
    }
    if (text.includes("\uFFFD")) this.produced += text.split("\uFFFD").length - 1;
    return text;
  }
}

/**
 * Occurrences of `needle` in `haystack` that end past its first `carried`
 * bytes (the tail of the previous chunk: what ended there was counted then).
 */
function count(haystack: Buffer, needle: Buffer, carried: number): number {
  let n = 0;
  for (let at = haystack.indexOf(needle); at >= 0; at = haystack.indexOf(needle, at + 1)) {
    if (at + needle.length > carried) n++;
  }
  return n;
}

/** The file's text in chunks, with `stats.bytesRead` and `stats.replacedUtf8` kept up to date. */
async function* decodedText(file: string, stats: InputStats): AsyncGenerator<string> {
  const decoder = new CountingDecoder();
  const stream = createReadStream(file, { highWaterMark: READ_CHUNK_BYTES });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      stats.bytesRead += chunk.length;
      const text = decoder.decode(chunk);
      stats.replacedUtf8 = decoder.replaced;
      if (text) yield text;
    }
    const rest = decoder.decode();
    stats.replacedUtf8 = decoder.replaced;
    if (rest) yield rest;
  } catch (error) {
    throw new DataFileError(file, (error as Error).message, { cause: error });
  } finally {
    stream.destroy();
  }
}

function isObject(value: unknown): value is Row {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function describe(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "an array" : `a ${typeof value}`;
}

async function* jsonlRows(file: string, stats: InputStats): AsyncGenerator<InputRow> {
  const lines = createInterface({ input: Readable.from(decodedText(file, stats)), crlfDelay: Infinity });
  let line = 0;
  let row = 0;
  try {
    for await (const text of lines) {
      line++;
      if (!text.trim()) continue;
      row++;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (error) {
        yield { row, line, invalid: `invalid JSON (${(error as Error).message})`, raw: text };
        continue;
      }
      yield isObject(value)
        ? { row, line, values: value }
        : { row, line, invalid: `expected a JSON object, got ${describe(value)}`, raw: text };
    }
  } finally {
    lines.close();
  }
}

/** A CSV parse error csv-parse skipped (with `skip_records_with_error`), passed along in order with the records. */
interface SkippedRecord {
  skipped: Error & { code?: string; lines?: number };
  raw?: string;
}

async function* csvRows(file: string, stats: InputStats, delimiter: string, header: { columns?: string[] }): AsyncGenerator<InputRow> {
  // csv-parse reports a record it cannot parse to on_skip, synchronously while parsing: pushing it
  // into the parser's own output keeps it in order with the records around it.
  let parser: CsvParser | undefined = undefined;
  parser = parseCsv({
    delimiter,
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    info: true,
    raw: true,
    on_skip: (error: Error | undefined, raw?: string) => {
      if (error) parser!.push({ skipped: error, raw } satisfies SkippedRecord);
    },
  });
  const text = Readable.from(decodedText(file, stats));
  text.on("error", (error) => parser!.destroy(error));
  text.pipe(parser);
  let row = 0;
  try {
    for await (const item of parser as AsyncIterable<{ record: string[]; info: { lines: number }; raw: string } | SkippedRecord>) {
      if ("skipped" in item) {
        row++;
        yield { row, line: item.skipped.lines, invalid: `malformed CSV (${item.skipped.message})`, raw: item.raw };
        continue;
      }
      if (!header.columns) {
        header.columns = item.record;
        continue;
      }
      row++;
      const columns = header.columns;
      if (item.record.length !== columns.length) {
        yield {
          row,
          line: item.info.lines,
          invalid: `${item.record.length} field${item.record.length === 1 ? "" : "s"} where the header has ${columns.length} (${columns.join(", ")})`,
          raw: item.raw.replace(/\r?\n$/, ""),
        };
        continue;
      }
      const values: Row = {};
      columns.forEach((column, i) => (values[column] = item.record[i]));
      yield { row, line: item.info.lines, values };
    }
  } catch (error) {
    if (error instanceof DataFileError) throw error;
    throw new DataFileError(file, `malformed CSV (${(error as Error).message})`, { cause: error });
  } finally {
    text.destroy();
    parser.destroy();
  }
}

async function* jsonArrayRows(file: string, stats: InputStats): AsyncGenerator<InputRow> {
  let row = 0;
  const item = (value: unknown): InputRow =>
    isObject(value) ? { row, values: value } : { row, invalid: `expected a JSON object, got ${describe(value)}`, raw: value };
  try {
    const elements = arrayElements();
    for await (const text of decodedText(file, stats)) {
      for await (const { value } of elements(text)) {
        row++;
        yield item(value);
      }
    }
    for await (const { value } of elements(END_OF_INPUT)) {
      row++;
      yield item(value);
    }
  } catch (error) {
    if (error instanceof DataFileError) throw error;
    // stream-json drops the elements it completed in the chunk where it met the error. The
    // verifier finds where the error is; a second parse up to there yields those elements.
    const at = await verifyFile(file).then(
      () => undefined,
      (found: { offset?: number; line?: number; pos?: number }) => found,
    );
    if (typeof at?.offset === "number") {
      const elements = arrayElements();
      let fed = 0;
      let index = 0;
      for await (const text of decodedText(file, { ...stats })) {
        const piece = text.slice(0, at.offset - fed);
        fed += piece.length;
        for await (const { value } of elements(piece)) {
          if (++index <= row) continue;
          row++;
          yield item(value);
        }
        if (fed >= at.offset) break;
      }
    }
    // Past a syntax error a JSON array cannot be read on: one record says where it stopped.
    row++;
    const where = at?.line !== undefined ? ` at line ${at.line}, column ${at.pos}` : "";
    yield { row, invalid: `invalid JSON${where} (${(error as Error).message}); the rest of the file cannot be read`, raw: "" };
  }
}

/** stream-json's parser and array streamer, as a function of text chunks (and {@link END_OF_INPUT}). */
function arrayElements(): (chunk: unknown) => AsyncIterable<{ key: number; value: unknown }> {
  return streamArray.withParser() as unknown as (chunk: unknown) => AsyncIterable<{ key: number; value: unknown }>;
}

/**
 * What a `.json` file holds at its top level, from its first non-blank
 * character: `object` (one input), `array` (rows) or `other`.
 * @throws {DataFileError} when the file cannot be read.
 */
export async function jsonTopLevel(file: string): Promise<"object" | "array" | "other"> {
  const handle = await open(file, "r").catch((error: NodeJS.ErrnoException) => {
    throw new DataFileError(file, error.code === "ENOENT" ? "no such file" : error.message);
  });
  try {
    const buffer = Buffer.alloc(READ_CHUNK_BYTES);
    for (let position = 0; ; ) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) return "other";
      let text = buffer.subarray(0, bytesRead).toString("latin1");
      if (position === 0) text = text.replace(/^\xEF\xBB\xBF/, "");
      const first = /\S/.exec(text)?.[0];
      if (first) return first === "{" ? "object" : first === "[" ? "array" : "other";
      position += bytesRead;
    }
  } finally {
    await handle.close();
  }
}

/**
 * Opens `file` for a batch: reads up to its first readable row (and a CSV
 * header), so that the columns are known before anything runs, and returns
 * the rows as a stream.
 *
 * @throws {DataFileError} for a missing file, an unsupported extension, a
 *   delimiter given for a file that is not CSV/TSV, or a `.json` file that is
 *   not an array.
 */
export async function openBatchInput(file: string, options: BatchInputOptions = {}): Promise<BatchInput> {
  const kind = inputFileKind(file);
  if (options.delimiter !== undefined && kind !== "csv" && kind !== "tsv") {
    throw new DataFileError(file, "--delimiter applies to .csv and .tsv files only");
  }
  let size: number;
  try {
    size = statSync(file).size;
  } catch (error) {
    throw new DataFileError(file, (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (error as Error).message);
  }
  if (kind === "json" && (await jsonTopLevel(file)) !== "array") throw new DataFileError(file, "expected a JSON array of objects (rows)");
  const stats: InputStats = { size, bytesRead: 0, rows: 0, ended: false, replacedUtf8: 0 };
  const header: { columns?: string[] } = {};
  const source =
    kind === "jsonl" ? jsonlRows(file, stats) : kind === "json" ? jsonArrayRows(file, stats) : csvRows(file, stats, options.delimiter ?? defaultDelimiter(kind), header);
  const primed: InputRow[] = [];
  let first: InputRow | undefined;
  for (;;) {
    const next = await source.next();
    if (next.done) {
      stats.ended = true;
      break;
    }
    primed.push(next.value);
    if (next.value.values) {
      first = next.value;
      break;
    }
  }
  const columns = kind === "csv" || kind === "tsv" ? header.columns : first ? Object.keys(first.values!) : undefined;
  async function* rows(): AsyncGenerator<InputRow> {
    try {
      for (const row of primed.splice(0)) {
        stats.rows++;
        yield row;
      }
      if (stats.ended) return;
      for await (const row of source) {
        stats.rows++;
        yield row;
      }
      stats.ended = true;
    } finally {
      await source.return(undefined);
    }
  }
  const generator = rows();
  return {
    kind,
    columns,
    columnsFrom: kind === "csv" || kind === "tsv" ? "header" : "first row",
    stats,
    rows: generator,
    close: async () => {
      await generator.return(undefined);
      await source.return(undefined);
    },
  };
}

/**
 * The rows of a CSV/TSV, JSON Lines or JSON-array file as objects, read as a
 * stream, for callers that want every row or none.
 * @throws {DataFileError} at the first row that cannot be read, naming `file:line` (or the row of a JSON array).
 */
export async function* readRows(file: string, options: BatchInputOptions = {}): AsyncGenerator<Row> {
  const input = await openBatchInput(file, options);
  try {
    for await (const row of input.rows) {
      if (row.values) yield row.values;
      else if (row.line !== undefined) throw new DataFileError(`${file}:${row.line}`, row.invalid!);
      else throw new DataFileError(file, row.invalid!.startsWith("expected a JSON object") ? `row ${row.row} is not a JSON object` : `row ${row.row}: ${row.invalid}`);
    }
  } finally {
    await input.close();
  }
}
