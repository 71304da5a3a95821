/**
 * Summarises a Project Gutenberg novel with the `summarization` workflow
 * (map-reduce) and prints the figures: characters, chunks, reduce rounds,
 * results and tokens per level, the summary's o200k_base token count against
 * the budget, why the reduction stopped and whether the summary was truncated,
 * model calls and tokens, and the wall time. Writes nothing but stdout/stderr.
 *
 * Usage:
 *   npx tsx scripts/summarizeNovel.ts [FILE] [--chunk-size N] [--chunk-overlap N]
 *     [--token-budget N] [--group-token-budget N] [--max-concurrency N] [--max-rounds N]
 *
 * FILE defaults to `../shared/data/gutenberg/pg84.txt` (Frankenstein), read in
 * place and decoded as UTF-8, or as Windows-1252 when it is not valid UTF-8
 * (pg84.txt is Windows-1252 with CRLF line ends). The Project Gutenberg header and licence (outside the `*** START OF` /
 * `*** END OF` lines) are dropped before splitting. The model is the offline
 * model unless `OPENAI_API_KEY` / `OPENAI_BASE_URL` are set (see the README's
 * Models section).
 */
import { setMaxListeners } from "node:events";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { definition } from "../graphs/summarization.js";
import { InvalidInputError, parseInput } from "../src/runtime/errors.js";
import { UsageTracker } from "../src/runtime/usage.js";

/** The novel read when no FILE is given, relative to the project root. */
export const DEFAULT_NOVEL = "../shared/data/gutenberg/pg84.txt";

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

/** Options from the command line: the file and the numeric workflow inputs given. */
export function parseArgs(argv: string[]): { file: string; inputs: Record<string, number> } {
  const flags: Record<string, string> = {
    "--chunk-size": "chunkSize",
    "--chunk-overlap": "chunkOverlap",
    "--token-budget": "tokenBudget",
    "--group-token-budget": "groupTokenBudget",
    "--max-concurrency": "maxConcurrency",
    "--max-rounds": "maxRounds",
  };
  const inputs: Record<string, number> = {};
  let file: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg in flags) {
      const value = Number(argv[++i]);
      if (!Number.isFinite(value)) throw new InvalidInputError("summarization", [{ path: flags[arg], message: `${arg} needs a number` }]);
      inputs[flags[arg]] = value;
    } else if (arg.startsWith("--")) {
      throw new InvalidInputError("summarization", [{ path: arg, message: `unknown option; expected one of ${Object.keys(flags).join(", ")}` }]);
    } else file = arg;
  }
  const root = fileURLToPath(new URL("../", import.meta.url));
  return { file: file ? resolve(file) : resolve(root, DEFAULT_NOVEL), inputs };
}

async function main(): Promise<void> {
  const { file, inputs } = parseArgs(process.argv.slice(2));
  setMaxListeners(0); // one abort listener per parallel task, as in the facade
  const text = gutenbergBody(decodeText(readFileSync(file)));
  const input = parseInput("summarization", definition.input, { text, ...inputs });
  const tracker = new UsageTracker();
  const started = performance.now();
  const out = await definition.graph.invoke(input, { callbacks: [tracker] });
  const seconds = (performance.now() - started) / 1000;
  const usage = tracker.total;
  const lines = [
    `summarization (map-reduce) on ${file}`,
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

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
