/**
 * Summarises a Project Gutenberg novel with the `summarization` workflow
 * (map-reduce) and prints the figures: characters, chunks, reduce rounds,
 * results and tokens per level, the summary's o200k_base token count against
 * the budget, why the reduction stopped and whether the summary was truncated,
 * model calls and tokens, and the wall time. Writes nothing but stdout/stderr.
 *
 * ```sh
 * npx tsx scripts/summarizeNovel.ts [FILE] [--data-dir DIR] [--chunk-size N] [--chunk-overlap N]
 *   [--token-budget N] [--group-token-budget N] [--max-concurrency N] [--max-rounds N] [--over-budget truncate|keep]
 * ```
 *
 * FILE is any plain-text file (a path); without it, `gutenberg/pg84.txt`
 * (Frankenstein) of the data directory (`--data-dir`, else
 * `LLM_WORKFLOWS_DATA`, else `../shared/data`; docs/data.md). It is read in
 * place and decoded as UTF-8, or as Windows-1252 when it is not valid UTF-8
 * (pg84.txt is Windows-1252 with CRLF line ends). A Project Gutenberg header
 * and licence (outside the `*** START OF` / `*** END OF` lines) are dropped
 * before splitting. The model is the offline model unless `OPENAI_API_KEY` /
 * `OPENAI_BASE_URL` are set (see the README's Models section).
 */
import { setMaxListeners } from "node:events";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { DataFileError } from "../src/runtime/errors.js";
import { dataDirHelp, DATA_DIR_OPTION, dataFolder, parseCommandLine, runScript, UsageError } from "./lib/cli.js";

/** The novel read when no FILE is given, in the data directory. */
export const DEFAULT_NOVEL = join("gutenberg", "pg84.txt");

/*
 * Windows-1252 bytes 0x80-0x9F (curly quotes, dashes, ...). Node 20's
 * TextDecoder("windows-1252") decodes them as Latin-1 C1 control characters,
 * so they are mapped here; the other bytes are Latin-1 in both.
 */
const CP1252_HIGH =
  "\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f" +
  "\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178";

/** Decodes a text file: UTF-8 when it is valid UTF-8, else Windows-1252 (older Project Gutenberg files such as pg84.txt). */
export function decodeText(bytes: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    let out = "";
    for (const byte of bytes) out += byte >= 0x80 && byte <= 0x9f ? CP1252_HIGH[byte - 0x80] : String.fromCharCode(byte);
    return out;
  }
}

/** The body of a Project Gutenberg text: what lies between the START and END marker lines (all of it when they are missing). */
export function gutenbergBody(raw: string): string {
  const text = raw.replace(/^\uFEFF/, "").replace(/\r\n/g, "\n");
  const start = text.search(/^\*\*\* ?START OF .*\*\*\*\s*$/m);
  const end = text.search(/^\s*\*\*\* ?END OF .*\*\*\*\s*$/m);
  const from = start >= 0 ? text.indexOf("\n", start) + 1 : 0;
  const to = end > from ? end : text.length;
  return text.slice(from, to).trim();
}

const HELP = `Usage: npx tsx scripts/summarizeNovel.ts [FILE] [options]

Summarises a long text with the summarization workflow (map-reduce) and prints
the figures and the summary.

  FILE                     a plain-text file, UTF-8 or Windows-1252; a Project Gutenberg
                           header and licence are dropped (default: gutenberg/pg84.txt,
                           Frankenstein, in the data directory)
Options (workflow inputs; defaults are the workflow's):
  --chunk-size N           characters per chunk (200-100000, default 4000)
  --chunk-overlap N        characters shared by consecutive chunks (default 200)
  --token-budget N         most tokens of the summary (20-100000, default 400)
  --group-token-budget N   most tokens one reduce call reads (default 2000)
  --max-concurrency N      model calls of one fan-out at once (default: all)
  --max-rounds N           most reduce rounds (0-10, default 8)
  --over-budget MODE       truncate (default) or keep a summary over the budget
${dataDirHelp(27)}
                           (read only when FILE is not given)
  -h, --help               show this help`;

/** Workflow inputs the numeric options set. */
const NUMERIC = {
  "chunk-size": "chunkSize",
  "chunk-overlap": "chunkOverlap",
  "token-budget": "tokenBudget",
  "group-token-budget": "groupTokenBudget",
  "max-concurrency": "maxConcurrency",
  "max-rounds": "maxRounds",
} as const;

/**
 * Options from the command line: the file (FILE, else the data directory's
 * {@link DEFAULT_NOVEL}) and the workflow inputs given. `--help` prints the
 * help and exits.
 * @throws {UsageError} for an unknown option, a bad value or more than one FILE.
 * `file` gives FILE, or the novel in the data directory.
 * @throws {DataFileError} from `file()`, when FILE is not given and the data directory or its gutenberg folder is missing.
 */
export function parseOptions(argv: string[], env: Record<string, string | undefined> = process.env): { file: () => string; inputs: Record<string, number | string> } {
  const string = { type: "string" } as const;
  const { values, positionals } = parseCommandLine(
    HELP,
    { ...Object.fromEntries(Object.keys(NUMERIC).map((k) => [k, string])), "over-budget": string, ...DATA_DIR_OPTION } as Record<keyof typeof NUMERIC | "over-budget" | "data-dir", typeof string>,
    argv,
    true,
  );
  if (positionals.length > 1) throw new UsageError(`expected at most one FILE, got ${positionals.length}: ${positionals.join(" ")}`);
  const inputs: Record<string, number | string> = {};
  for (const [flag, field] of Object.entries(NUMERIC)) {
    const value = values[flag as keyof typeof NUMERIC];
    if (value === undefined) continue;
    if (!/^\d+$/.test(value.trim())) throw new UsageError(`--${flag} needs a whole number, got ${JSON.stringify(value)}`);
    inputs[field] = Number(value); // its range is the workflow's input schema's (see optionsIssue)
  }
  const overBudget = values["over-budget"];
  if (overBudget !== undefined) {
    if (overBudget !== "truncate" && overBudget !== "keep") throw new UsageError(`--over-budget needs truncate or keep, got ${JSON.stringify(overBudget)}`);
    inputs.overBudget = overBudget;
  }
  // Resolved when read, after the options are checked: a bad option is reported whether or not the data is there.
  const file = () => (positionals[0] !== undefined ? resolve(positionals[0]) : join(dataFolder(values["data-dir"], "gutenberg", env), "pg84.txt"));
  return { file, inputs };
}

/** A usage error naming the options behind the workflow's input issues (`chunkSize` -> `--chunk-size`). */
function optionsIssue(issues: Array<{ path: string; message: string }>): UsageError {
  const flagOf = new Map<string, string>([...Object.entries(NUMERIC).map(([flag, field]) => [field, flag] as const), ["overBudget", "over-budget"]]);
  return new UsageError(issues.map((i) => `${flagOf.has(i.path) ? `--${flagOf.get(i.path)}` : i.path}: ${i.message}`).join("; "));
}

/**
 * The bytes of `file`.
 * @throws {DataFileError} when it cannot be read.
 */
function readBytes(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new DataFileError(file, code === "ENOENT" ? "no such file" : code === "EISDIR" ? "a directory, not a file" : (error as Error).message);
  }
}

async function main(): Promise<void> {
  const { file, inputs } = parseOptions(process.argv.slice(2));
  const { definition } = await import("../graphs/summarization.js");
  const { InvalidInputError, parseInput } = await import("../src/runtime/errors.js");
  const { UsageTracker } = await import("../src/runtime/usage.js");
  const parse = (text: string) => {
    try {
      return parseInput("summarization", definition.input, { text, ...inputs });
    } catch (error) {
      throw error instanceof InvalidInputError ? optionsIssue(error.issues) : error;
    }
  };
  // The options first, on a stand-in text: a bad option is a usage error (exit 2) whether or not the file can be read.
  const settings = parse("-");
  if (settings.chunkOverlap >= settings.chunkSize) throw new UsageError(`--chunk-overlap: must be smaller than the chunk size (${settings.chunkSize}), got ${settings.chunkOverlap}`);
  const path = file();
  const text = gutenbergBody(decodeText(readBytes(path)));
  const input = parse(text);
  setMaxListeners(0); // one abort listener per parallel task, as in the facade
  const tracker = new UsageTracker();
  const started = performance.now();
  const out = await definition.graph.invoke(input, { callbacks: [tracker] });
  const seconds = (performance.now() - started) / 1000;
  const usage = tracker.total;
  const lines = [
    `summarization (map-reduce) on ${path}`,
    `text:           ${text.length.toLocaleString("en")} characters (Gutenberg header and licence dropped)`,
    `settings:       chunkSize ${input.chunkSize} chars, overlap ${input.chunkOverlap}, tokenBudget ${input.tokenBudget}, groupTokenBudget ${input.groupTokenBudget}, maxConcurrency ${input.maxConcurrency ?? "unbounded"}, maxRounds ${input.maxRounds}, overBudget ${input.overBudget}`,
    `chunks:         ${out.chunks}`,
    `reduce rounds:  ${out.rounds} (results per level: ${out.levels.join(" -> ")}; tokens per level: ${out.levelTokens.join(" -> ")})`,
    `summary tokens: ${out.summaryTokens} of ${input.tokenBudget} (o200k_base); finish reason ${out.finishReason}${out.truncated ? ", truncated to the budget" : ""}`,
    `model calls:    ${usage.calls}, ${usage.inputTokens.toLocaleString("en")} in / ${usage.outputTokens.toLocaleString("en")} out tokens`,
    `wall time:      ${seconds.toFixed(2)} s`,
    "",
    "summary:",
    out.summary,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) runScript("summarizeNovel", main);
