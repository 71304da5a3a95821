/**
 * Reading workflow inputs from files: JSON (one object, or an array of rows),
 * JSON Lines (one row per line) and CSV/TSV with a header row. Batch mode
 * streams the rows (`batchInput.ts`); a `.json` file holding one object is
 * read whole ({@link readJsonFile}). Rows are turned into inputs by
 * {@link rowToInput}.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { DataFileError } from "../runtime/errors.js";

/** One row of a data file: column name -> value. */
export type Row = Record<string, unknown>;

/** The kinds of input file the CLI reads (`tsv`: CSV with a tab delimiter). */
export type InputFileKind = "json" | "jsonl" | "csv" | "tsv";

/**
 * The kind of `file`, from its extension.
 * @throws {DataFileError} for another extension.
 */
export function inputFileKind(file: string): InputFileKind {
  const ext = extname(file).toLowerCase();
  if (ext === ".json") return "json";
  if (ext === ".jsonl" || ext === ".ndjson") return "jsonl";
  if (ext === ".csv") return "csv";
  if (ext === ".tsv" || ext === ".tab") return "tsv";
  throw new DataFileError(file, `unsupported extension "${ext}"; expected .json, .jsonl, .ndjson, .csv or .tsv`);
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

export { readRows } from "./batchInput.js";

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
