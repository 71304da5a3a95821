/**
 * Reading workflow inputs from files: JSON (one object, or an array of rows),
 * JSON Lines (one row per line) and CSV with a header row (parsed by
 * `csv-parse`). Rows are turned into inputs by {@link rowToInput}.
 *
 * @module
 */
import { parse } from "csv-parse";
import { accessSync, constants, createReadStream, readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { extname } from "node:path";
import { DataFileError } from "../runtime/errors.js";

/** One row of a data file: column name -> value. */
export type Row = Record<string, unknown>;

/** The kinds of input file the CLI reads. */
export type InputFileKind = "json" | "jsonl" | "csv";

/**
 * The kind of `file`, from its extension.
 * @throws {DataFileError} for another extension.
 */
export function inputFileKind(file: string): InputFileKind {
  const ext = extname(file).toLowerCase();
  if (ext === ".json") return "json";
  if (ext === ".jsonl" || ext === ".ndjson") return "jsonl";
  if (ext === ".csv") return "csv";
  throw new DataFileError(file, `unsupported extension "${ext}"; expected .json, .jsonl or .csv`);
}

/** Parses JSON text, naming the file and position on failure. */
export function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text.replace(/^\uFEFF/, ""));
  } catch (error) {
    throw new DataFileError(where, `invalid JSON (${(error as Error).message})`);
  }
}

/**
 * Reads a JSON file: an object is one input, an array is rows.
 * @throws {DataFileError} when it is missing, not JSON, or neither an object nor an array of objects.
 */
export function readJsonFile(file: string): { single: Row } | { rows: Row[] } {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new DataFileError(file, (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (error as Error).message);
  }
  const value = parseJson(text, file);
  if (Array.isArray(value)) {
    const bad = value.findIndex((v) => v === null || typeof v !== "object" || Array.isArray(v));
    if (bad >= 0) throw new DataFileError(file, `row ${bad + 1} is not a JSON object`);
    return { rows: value as Row[] };
  }
  if (value === null || typeof value !== "object") throw new DataFileError(file, "expected a JSON object or an array of objects");
  return { single: value as Row };
}

async function* jsonlRows(file: string): AsyncGenerator<Row> {
  const lines = createInterface({ input: createReadStream(file, "utf8"), crlfDelay: Infinity });
  let n = 0;
  for await (const line of lines) {
    n++;
    if (!line.trim()) continue;
    const value = parseJson(line, `${file}:${n}`);
    if (value === null || typeof value !== "object" || Array.isArray(value)) throw new DataFileError(`${file}:${n}`, "expected a JSON object");
    yield value as Row;
  }
}

async function* csvRows(file: string): AsyncGenerator<Row> {
  const parser = createReadStream(file).pipe(parse({ columns: true, skip_empty_lines: true, bom: true, trim: false }));
  try {
    for await (const record of parser) yield record as Row;
  } catch (error) {
    throw new DataFileError(file, (error as Error).message, { cause: error });
  }
}

/**
 * The rows of a JSONL or CSV file (streamed), or of a JSON array.
 * @throws {DataFileError} when the file cannot be opened or a row cannot be parsed.
 */
export async function* readRows(file: string): AsyncGenerator<Row> {
  const kind = inputFileKind(file);
  if (kind === "json") {
    const read = readJsonFile(file);
    yield* "rows" in read ? read.rows : [read.single];
    return;
  }
  try {
    accessSync(file, constants.R_OK);
  } catch (error) {
    throw new DataFileError(file, (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (error as Error).message);
  }
  yield* kind === "jsonl" ? jsonlRows(file) : csvRows(file);
}

/**
 * Parses `--field input=column` mappings.
 * @throws {DataFileError} for a mapping not of that form.
 */
export function parseFieldMappings(specs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const spec of specs) {
    const m = /^([^=\s]+)=(.+)$/.exec(spec);
    if (!m) throw new DataFileError("--field", `expected INPUT_FIELD=COLUMN, got "${spec}"`);
    out[m[1]] = m[2];
  }
  return out;
}

/**
 * The workflow input for one row: `defaults` (from `--input`), overlaid with the
 * row's columns, where `fields` renames columns (input field -> column). With
 * mappings, only mapped columns are taken.
 */
export function rowToInput(row: Row, fields: Record<string, string>, defaults: Row = {}): Row {
  if (Object.keys(fields).length === 0) return { ...defaults, ...row };
  const input: Row = { ...defaults };
  for (const [field, column] of Object.entries(fields)) input[field] = row[column];
  return input;
}
