/**
 * Scores the `knowledgeGraph` workflow against re3d's gold annotations
 * (`../shared/data/re3d/Wikipedia`: documents.json, entities.json,
 * relations.json, read in place) and prints a table on stdout. Writes no file.
 *
 * ```sh
 * npx tsx scripts/evalKnowledgeGraph.ts [--limit N] [--concurrency N] [--min-confidence X] [--data-dir DIR] [--dataset NAME]
 * ```
 *
 * - `--limit N`: the first N documents (default: all 13);
 * - `--concurrency N`: documents run at once (default 4);
 * - `--min-confidence X`: gold annotations with re3d confidence ≥ X only
 *   (default 0: every annotation in the files);
 * - `--data-dir DIR`: the public data directory (default
 *   `$LLM_WORKFLOWS_DATA`, else `../shared/data` beside the working
 *   directory or the project; docs/data.md);
 * - `--dataset NAME`: the re3d part (default `Wikipedia`).
 *
 * Scoring, per document, then summed over documents (micro average):
 * - entities, text + type: the set of (`entityKey(text)`, type) pairs
 *   predicted against the gold set (re3d's `value` and `type`); `entityKey`
 *   lower-cases, collapses whitespace, drops edge punctuation and a leading
 *   the/a/an. Gold of types the workflow does not extract stays in the gold
 *   set (it counts against recall);
 * - entities, text only: the same on `entityKey(text)` alone;
 * - candidates (rules only, no model): `proposeMentions`' hints, text only,
 *   to show what the model adds to them;
 * - relations, labelled: (source key, type, target key), direction kept;
 * - relations, unlabelled: the unordered pair of end keys.
 * Precision = matched / predicted, recall = matched / gold, F1 their harmonic
 * mean; "n/a" when a denominator is 0. The reading and scoring code is the
 * eval command's (`re3dDataset` in `graphs/lib/datasets.ts`; `llm-workflows
 * eval knowledgeGraph --dataset re3d` also writes a report, docs/evaluation.md):
 * this script runs it and prints the table.
 *
 * The model is the offline model unless `OPENAI_API_KEY` / `OPENAI_BASE_URL`
 * are set (see the README's Models section); offline figures are a smoke
 * check of the plumbing, not a model's accuracy.
 */
import { setMaxListeners } from "node:events";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { DataFileError } from "../src/runtime/errors.js";
import { dataDirHelp, DATA_DIR_OPTION, dataFolder, intOption, numberOption, parseCommandLine, runScript, UsageError } from "./lib/cli.js";
import type { MeasureFigures } from "../src/cli/evalCommand.js";

/** Command-line options. */
export interface EvalOptions {
  limit?: number;
  concurrency: number;
  minConfidence: number;
  /** The data directory's `re3d` folder. */
  re3dDir: string;
  dataset: string;
}

const HELP = `Usage: npx tsx scripts/evalKnowledgeGraph.ts [options]

Scores the knowledgeGraph workflow against re3d's gold annotations
(re3d/<dataset>/documents.json, entities.json, relations.json) and prints a table.

Options:
  --limit N            the first N documents (default: all)
  --concurrency N      documents run at once (default 4)
  --min-confidence X   only gold annotations with confidence >= X, 0 to 1 (default 0)
  --dataset NAME       the re3d part (default Wikipedia)
${dataDirHelp(23)}
  -h, --help           show this help`;

/**
 * Parses the command line (see the module doc); `--help` prints the help and exits.
 * @throws {UsageError} for an unknown option or a bad value.
 * @throws {DataFileError} when the data directory or its re3d folder is missing.
 */
export function parseOptions(argv: string[], env: Record<string, string | undefined> = process.env): EvalOptions {
  const { values } = parseCommandLine(
    HELP,
    { limit: { type: "string" }, concurrency: { type: "string" }, "min-confidence": { type: "string" }, dataset: { type: "string" }, ...DATA_DIR_OPTION },
    argv,
  );
  const dataset = values.dataset ?? "Wikipedia";
  if (!/^[\w.-]+$/.test(dataset)) throw new UsageError(`--dataset needs a folder name of re3d, got ${JSON.stringify(dataset)}`);
  return {
    limit: values.limit === undefined ? undefined : intOption("limit", values.limit, 0, 1),
    concurrency: intOption("concurrency", values.concurrency, 4, 1, 100),
    minConfidence: numberOption("min-confidence", values["min-confidence"], 0, 0, 1),
    re3dDir: dataFolder(values["data-dir"], "re3d", env),
    dataset,
  };
}

const pct = (x: number | null) => (x === null ? "n/a" : `${(100 * x).toFixed(1)}%`);

/** The measures as a text table: the main ones, a blank line, then entities per type (most gold first). */
export function formatTable(measures: MeasureFigures[], extracted: ReadonlySet<string>): string {
  const rows: string[][] = [["measure", "gold", "predicted", "matched", "precision", "recall", "F1"]];
  const add = (name: string, m: MeasureFigures) => rows.push([name, String(m.gold), String(m.predicted), String(m.matched), pct(m.precision), pct(m.recall), pct(m.f1)]);
  const byType = measures.filter((m) => m.name.startsWith("entities: "));
  for (const m of measures) if (!byType.includes(m)) add(m.name, m);
  rows.push(["", "", "", "", "", "", ""]);
  for (const m of byType) {
    const type = m.name.slice("entities: ".length);
    add(`  ${type}${extracted.has(type) ? "" : " (not extracted)"}`, m);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join("  ").trimEnd();
  return [line(rows[0]), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)].join("\n");
}

async function main(): Promise<void> {
  setMaxListeners(0); // one abort listener per parallel task, as in the facade
  const options = parseOptions(process.argv.slice(2));
  const { re3dDataset } = await import("../graphs/lib/datasets.js");
  const { runEval, summarizeQuality } = await import("../src/cli/evalCommand.js");
  const { definition, ENTITY_TYPES, RELATION_TYPES } = await import("../graphs/knowledgeGraph.js");
  const { resolveModelSettings } = await import("../src/models/configuration.js");
  const { addUsage, emptyUsage } = await import("../src/runtime/usage.js");
  const dir = join(options.re3dDir, options.dataset);
  if (!existsSync(dir)) throw new DataFileError(dir, "no such re3d part (see --dataset)");
  const dataset = re3dDataset(dir, { limit: options.limit, minConfidence: options.minConfidence });
  const started = performance.now();
  const rows = await runEval(definition, dataset, {
    concurrency: options.concurrency,
    onRow: (row, result) => {
      if (result.error !== undefined) process.stderr.write(`document ${row.id} (${row.note}) failed: ${result.error}\n`);
    },
  });
  const seconds = (performance.now() - started) / 1000;
  const failed = rows.filter((r) => r.error !== undefined).length;
  const gold = dataset.rows.map((r) => r.expected as { entities: unknown[]; relations: unknown[] });
  const model = resolveModelSettings("default");
  const usage = emptyUsage();
  for (const row of rows) addUsage(usage, row.usage);
  process.stdout.write(
    [
      `knowledgeGraph (DAG) on re3d/${options.dataset}: ${rows.length - failed} of ${rows.length} documents (${dataset.total} in the set), ` +
        `gold annotations with confidence >= ${options.minConfidence}: ${gold.reduce((n, g) => n + g.entities.length, 0)} entities, ` +
        `${gold.reduce((n, g) => n + g.relations.length, 0)} relations`,
      `model: ${model.provider === "offline" ? "offline" : `${model.provider} ${model.model}`}; extracted types: ${Object.keys(ENTITY_TYPES).join(", ")}; relation types: ${Object.keys(RELATION_TYPES).join(", ")}`,
      "",
      formatTable(summarizeQuality(dataset, rows).measures ?? [], new Set(Object.keys(ENTITY_TYPES))),
      "",
      `${seconds.toFixed(2)} s, ${usage.calls} model calls, ${usage.inputTokens.toLocaleString("en")} in / ${usage.outputTokens.toLocaleString("en")} out tokens; ${failed} failed`,
      ...(model.provider === "offline"
        ? ["(offline model: entities are the rule candidates it keeps, typed by lexical matching against the type definitions; it cannot map relations between them. A smoke check, not a model's accuracy.)"]
        : []),
      "",
    ].join("\n"),
  );
  if (failed) process.exitCode = 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) runScript("evalKnowledgeGraph", main);
