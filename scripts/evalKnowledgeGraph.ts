/**
 * Scores the `knowledgeGraph` workflow against re3d's gold annotations
 * (`../shared/data/re3d/Wikipedia`: documents.json, entities.json,
 * relations.json, read in place) and prints a table on stdout. Writes no file.
 *
 * Usage:
 *   npx tsx scripts/evalKnowledgeGraph.ts [--limit N] [--concurrency N]
 *     [--min-confidence X] [--data-dir DIR] [--dataset NAME]
 *
 * - `--limit N`: the first N documents (default: all 13);
 * - `--concurrency N`: documents run at once (default 4);
 * - `--min-confidence X`: gold annotations with re3d confidence ≥ X only
 *   (default 0: every annotation in the files);
 * - `--data-dir DIR`: the public data directory (default
 *   `$LLM_WORKFLOWS_DATA`, else `../shared/data` beside the project);
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
 * mean; "n/a" when a denominator is 0.
 *
 * The model is the offline model unless `OPENAI_API_KEY` / `OPENAI_BASE_URL`
 * are set (see the README's Models section); offline figures are a smoke
 * check of the plumbing, not a model's accuracy.
 */
import { setMaxListeners } from "node:events";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import pLimit from "p-limit";
import { definition, ENTITY_TYPES, entityKey, proposeMentions, RELATION_TYPES, type Entity, type Relation } from "../graphs/knowledgeGraph.js";
import { resolveModelSettings } from "../src/models/configuration.js";
import { DataFileError } from "../src/runtime/errors.js";
import { UsageTracker } from "../src/runtime/usage.js";

/** One re3d document. */
export interface Re3dDocument {
  _id: string;
  title: string;
  text: string;
}
/** One re3d entity annotation. */
export interface Re3dEntity {
  documentId: string;
  type: string;
  value: string;
  confidence: number;
}
/** One re3d relation annotation. */
export interface Re3dRelation {
  documentId: string;
  source: string;
  target: string;
  type: string;
  confidence: number;
}

/**
 * Reads a `mongoexport` file: one JSON object per line (a BOM allowed).
 * @throws {DataFileError} naming the file and line when a line is not JSON.
 */
export function readMongoExport<T>(file: string): T[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    throw new DataFileError(file, "no such file (is the re3d data set in the data directory?)");
  }
  return text
    .replace(/^\uFEFF/, "")
    .split("\n")
    .map((line, i) => ({ line: line.trim(), n: i + 1 }))
    .filter(({ line }) => line)
    .map(({ line, n }) => {
      try {
        return JSON.parse(line) as T;
      } catch (error) {
        throw new DataFileError(`${file}:${n}`, `invalid JSON (${(error as Error).message})`);
      }
    });
}

/** Matched, predicted and gold counts of one measure. */
export interface Score {
  matched: number;
  predicted: number;
  gold: number;
}

/** Adds the overlap of `predicted` with `gold` (both sets) to `score`. */
export function addSets(score: Score, predicted: Set<string>, gold: Set<string>): void {
  score.predicted += predicted.size;
  score.gold += gold.size;
  for (const p of predicted) if (gold.has(p)) score.matched++;
}

/** Precision, recall and F1 of a score (undefined when a denominator is 0). */
export function prf(score: Score): { precision?: number; recall?: number; f1?: number } {
  const precision = score.predicted ? score.matched / score.predicted : undefined;
  const recall = score.gold ? score.matched / score.gold : undefined;
  const f1 = precision !== undefined && recall !== undefined && precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : precision === 0 || recall === 0 ? 0 : undefined;
  return { precision, recall, f1 };
}

const empty = (): Score => ({ matched: 0, predicted: 0, gold: 0 });
const SEP = "\u0000";
const typed = (text: string, type: string) => `${entityKey(text)}${SEP}${type}`;
const labelled = (s: string, type: string, t: string) => `${entityKey(s)}${SEP}${type}${SEP}${entityKey(t)}`;
const unlabelled = (s: string, t: string) => [entityKey(s), entityKey(t)].sort().join(SEP);

/** Scores of one run over a set of documents. */
export interface Evaluation {
  entitiesTyped: Score;
  entitiesText: Score;
  candidatesText: Score;
  relationsLabelled: Score;
  relationsUnlabelled: Score;
  byType: Record<string, Score>;
}

/** A fresh {@link Evaluation}. */
export function newEvaluation(): Evaluation {
  return { entitiesTyped: empty(), entitiesText: empty(), candidatesText: empty(), relationsLabelled: empty(), relationsUnlabelled: empty(), byType: {} };
}

/** Adds one document's predictions and gold annotations to `into`. */
export function scoreDocument(
  into: Evaluation,
  predicted: { entities: Entity[]; relations: Relation[]; candidates: string[] },
  gold: { entities: Re3dEntity[]; relations: Re3dRelation[] },
): void {
  const goldTyped = new Set(gold.entities.map((e) => typed(e.value, e.type)));
  const predTyped = new Set(predicted.entities.map((e) => typed(e.text, e.type)));
  addSets(into.entitiesTyped, predTyped, goldTyped);
  const goldText = new Set(gold.entities.map((e) => entityKey(e.value)));
  addSets(into.entitiesText, new Set(predicted.entities.map((e) => entityKey(e.text))), goldText);
  addSets(into.candidatesText, new Set(predicted.candidates.map(entityKey)), goldText);
  addSets(into.relationsLabelled, new Set(predicted.relations.map((r) => labelled(r.source, r.relation, r.target))), new Set(gold.relations.map((r) => labelled(r.source, r.type, r.target))));
  addSets(into.relationsUnlabelled, new Set(predicted.relations.map((r) => unlabelled(r.source, r.target))), new Set(gold.relations.map((r) => unlabelled(r.source, r.target))));
  const types = new Set([...gold.entities.map((e) => e.type), ...predicted.entities.map((e) => e.type)]);
  for (const type of types) {
    into.byType[type] ??= empty();
    addSets(
      into.byType[type],
      new Set(predicted.entities.filter((e) => e.type === type).map((e) => typed(e.text, e.type))),
      new Set(gold.entities.filter((e) => e.type === type).map((e) => typed(e.value, e.type))),
    );
  }
}

const pct = (x: number | undefined) => (x === undefined ? "n/a" : `${(100 * x).toFixed(1)}%`);

/** The evaluation as a text table (rows of measures, then entities per type). */
export function formatTable(evaluation: Evaluation): string {
  const rows: string[][] = [["measure", "gold", "predicted", "matched", "precision", "recall", "F1"]];
  const add = (name: string, s: Score) => {
    const { precision, recall, f1 } = prf(s);
    rows.push([name, String(s.gold), String(s.predicted), String(s.matched), pct(precision), pct(recall), pct(f1)]);
  };
  add("entities (text + type)", evaluation.entitiesTyped);
  add("entities (text only)", evaluation.entitiesText);
  add("candidates, rules only (text only)", evaluation.candidatesText);
  add("relations (labelled, directed)", evaluation.relationsLabelled);
  add("relations (unlabelled, undirected)", evaluation.relationsUnlabelled);
  rows.push(["", "", "", "", "", "", ""]);
  const inScope = new Set<string>(Object.keys(ENTITY_TYPES));
  const types = Object.entries(evaluation.byType).sort((a, b) => b[1].gold - a[1].gold || a[0].localeCompare(b[0]));
  for (const [type, score] of types) add(`  ${type}${inScope.has(type) ? "" : " (not extracted)"}`, score);
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join("  ").trimEnd();
  return [line(rows[0]), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)].join("\n");
}

/** Command-line options. */
export interface EvalOptions {
  limit?: number;
  concurrency: number;
  minConfidence: number;
  dataDir: string;
  dataset: string;
}

/**
 * Parses the command line (see the module doc).
 * @throws {DataFileError} for an unknown option or a bad value.
 */
export function parseArgs(argv: string[], env: Record<string, string | undefined> = process.env): EvalOptions {
  const root = fileURLToPath(new URL("../", import.meta.url));
  const options: EvalOptions = { concurrency: 4, minConfidence: 0, dataDir: resolve(env.LLM_WORKFLOWS_DATA ?? resolve(root, "../shared/data")), dataset: "Wikipedia" };
  const number = (flag: string, value: string | undefined, min: number, integer: boolean) => {
    const n = Number(value);
    if (value === undefined || !Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
      throw new DataFileError(flag, `expected ${integer ? "a whole number" : "a number"} of at least ${min}, got ${JSON.stringify(value)}`);
    }
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === "--limit") options.limit = number(flag, argv[++i], 1, true);
    else if (flag === "--concurrency") options.concurrency = number(flag, argv[++i], 1, true);
    else if (flag === "--min-confidence") options.minConfidence = number(flag, argv[++i], 0, false);
    else if (flag === "--data-dir") options.dataDir = resolve(argv[++i] ?? "");
    else if (flag === "--dataset") options.dataset = argv[++i] ?? "";
    else throw new DataFileError(flag, "unknown option; expected --limit, --concurrency, --min-confidence, --data-dir or --dataset");
  }
  return options;
}

async function main(): Promise<void> {
  setMaxListeners(0); // one abort listener per parallel task, as in the facade
  const options = parseArgs(process.argv.slice(2));
  const dir = join(options.dataDir, "re3d", options.dataset);
  if (!existsSync(dir)) throw new DataFileError(dir, "no such directory (use --data-dir or LLM_WORKFLOWS_DATA)");
  const allDocs = readMongoExport<Re3dDocument>(join(dir, "documents.json"));
  const docs = options.limit ? allDocs.slice(0, options.limit) : allDocs;
  const entities = readMongoExport<Re3dEntity>(join(dir, "entities.json")).filter((e) => e.confidence >= options.minConfidence);
  const relations = readMongoExport<Re3dRelation>(join(dir, "relations.json")).filter((r) => r.confidence >= options.minConfidence);
  const evaluation = newEvaluation();
  const tracker = new UsageTracker();
  const limit = pLimit(options.concurrency);
  const started = performance.now();
  let failed = 0;
  await Promise.all(
    docs.map((doc) =>
      limit(async () => {
        try {
          const input = definition.input.parse({ text: doc.text, documentId: doc._id });
          const out = await definition.graph.invoke(input, { callbacks: [tracker] });
          scoreDocument(
            evaluation,
            { entities: out.entities, relations: out.relations, candidates: proposeMentions(doc.text) },
            { entities: entities.filter((e) => e.documentId === doc._id), relations: relations.filter((r) => r.documentId === doc._id) },
          );
        } catch (error) {
          failed++;
          process.stderr.write(`document ${doc._id} (${doc.title}) failed: ${error instanceof Error ? error.message : String(error)}\n`);
        }
      }),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  const model = resolveModelSettings("default");
  const usage = tracker.total;
  process.stdout.write(
    [
      `knowledgeGraph (DAG) on re3d/${options.dataset}: ${docs.length - failed} of ${docs.length} documents (${allDocs.length} in the set), ` +
        `gold annotations with confidence >= ${options.minConfidence}: ${entities.filter((e) => docs.some((d) => d._id === e.documentId)).length} entities, ` +
        `${relations.filter((r) => docs.some((d) => d._id === r.documentId)).length} relations`,
      `model: ${model.provider === "offline" ? "offline" : `${model.provider} ${model.model}`}; extracted types: ${Object.keys(ENTITY_TYPES).join(", ")}; relation types: ${Object.keys(RELATION_TYPES).join(", ")}`,
      "",
      formatTable(evaluation),
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

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
