/**
 * The labelled data sets `llm-workflows eval` runs the ready workflows on,
 * read in place from the public data directory (`--data-dir`, else
 * `LLM_WORKFLOWS_DATA`, else `../shared/data`; see `data.ts`), and how each
 * row is scored. Nothing is copied into the project.
 *
 * | name | folder | workflow | rows | quality |
 * | --- | --- | --- | --- | --- |
 * | `banking77` | `banking77/` | supportRouting | the 10,003 queries of train.csv, evenly spaced under `--limit` | agreement of the route with routes.json's route of the intent (fallback counts as disagreement) |
 * | `amazon-reviews` | `sentiment/` | feedbackAnalysis | the 1,000 labelled sentences, evenly spaced | accuracy of the sentiment against the label (neutral counts as wrong) |
 * | `re3d` | `re3d/Wikipedia/` | knowledgeGraph | the 13 documents, in file order | micro P/R/F1 of entities (text + type, text only) and relations (labelled, unlabelled) |
 * | `mbpp` | `mbpp/` | codeGeneration | the test split (task ids 11-510) of sanitized-mbpp.json, in task order | problems solved (every test passes), tests passed |
 * | `requests-faq` | `requests_docs/` | adaptiveQuestionAnswering | the entries of faq.rst, the other guides as the knowledge base | token F1 of the answer against the FAQ's answer |
 *
 * The scoring of re3d moved here from `scripts/evalKnowledgeGraph.ts`: the
 * same keys (`entityKey`), the same micro averages.
 *
 * @module
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DataFileError } from "../../src/runtime/errors.js";
import type { DatasetAdapter, EvalDataset, EvalRow, Overlap, RowScore } from "../../src/cli/evalCommand.js";
import { entityKey, proposeMentions, type Entity, type Relation } from "../knowledgeGraph.js";
import { loadBanking77, loadReviews, rstSections } from "./data.js";
import { evenlySpaced } from "./mainJob.js";

// ------------------------------------------------------------------ scoring

/** A fresh {@link Overlap}. */
export function emptyOverlap(): Overlap {
  return { matched: 0, predicted: 0, gold: 0 };
}

/** Adds the overlap of `predicted` with `gold` (both sets) to `into`; returns `into`. */
export function addSets(into: Overlap, predicted: Set<string>, gold: Set<string>): Overlap {
  into.predicted += predicted.size;
  into.gold += gold.size;
  for (const p of predicted) if (gold.has(p)) into.matched++;
  return into;
}

/** Precision, recall and F1 of an overlap (undefined when a denominator is 0; F1 0 when one of them is 0). */
export function prf(o: Overlap): { precision?: number; recall?: number; f1?: number } {
  const precision = o.predicted ? o.matched / o.predicted : undefined;
  const recall = o.gold ? o.matched / o.gold : undefined;
  const f1 =
    precision !== undefined && recall !== undefined && precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : precision === 0 || recall === 0 ? 0 : undefined;
  return { precision, recall, f1 };
}

/**
 * The words of an answer as SQuAD's evaluation counts them: lower case,
 * punctuation and the articles a/an/the removed, split on whitespace.
 */
export function answerTokens(text: string): string[] {
  return text
    .normalize("NFKC")
    .toLowerCase()
    .replace(/[\p{P}\p{S}]/gu, " ")
    .replace(/\b(a|an|the)\b/g, " ")
    .split(/\s+/)
    .filter(Boolean);
}

/** SQuAD's token F1 of `prediction` against `reference` (bags of {@link answerTokens}); 0 when either is empty. */
export function tokenF1(prediction: string, reference: string): number {
  const p = answerTokens(prediction);
  const r = answerTokens(reference);
  if (!p.length || !r.length) return 0;
  const counts = new Map<string, number>();
  for (const t of r) counts.set(t, (counts.get(t) ?? 0) + 1);
  let common = 0;
  for (const t of p) {
    const n = counts.get(t) ?? 0;
    if (n > 0) {
      common++;
      counts.set(t, n - 1);
    }
  }
  if (common === 0) return 0;
  const precision = common / p.length;
  const recall = common / r.length;
  return (2 * precision * recall) / (precision + recall);
}

/** The value at a dotted `path` of `value` (`sentiment.sentiment`), undefined when a step is missing. */
export function valueAt(value: unknown, path: string): unknown {
  let at: unknown = value;
  for (const key of path.split(".")) {
    if (at === null || typeof at !== "object") return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}

function folderOf(dataDir: string, ...path: string[]): string {
  const dir = join(dataDir, ...path);
  if (!existsSync(dir)) throw new DataFileError(dir, "missing from the data directory (see --data-dir, docs/evaluation.md)");
  return dir;
}

function selection(kept: number, total: number, how: string): string {
  return kept === total ? `all ${total.toLocaleString("en-US")} rows` : `${kept.toLocaleString("en-US")} of ${total.toLocaleString("en-US")} rows (${how})`;
}

// ------------------------------------------------------------- banking77

/** The routes a support query can take (routes.json's, and the router's fallback). */
const ROUTES = ["billing", "technical", "general"] as const;

/** Banking77 routed by supportRouting, against the route routes.json gives each intent (the main job's agreement figure). */
export const banking77: DatasetAdapter = {
  name: "banking77",
  description: "Banking77 customer queries (train.csv), each intent mapped to billing/technical/general by routes.json",
  workflows: ["supportRouting"],
  folder: "banking77",
  load(dataDir, { limit }) {
    const folder = folderOf(dataDir, "banking77");
    const all = loadBanking77(dataDir);
    const kept = evenlySpaced(all, limit);
    const rows: EvalRow[] = kept.map((q) => ({ id: `${all.indexOf(q) + 1}`, input: { query: q.text }, expected: q.expected, note: q.intent }));
    return {
      name: "banking77",
      source: folder,
      total: all.length,
      selection: selection(kept.length, all.length, "evenly spaced, as the main job takes them"),
      rows,
      primary: { kind: "accuracy", name: "agreement with routes.json" },
      scoring: "the workflow's `route` against routes.json's route of the query's intent; the fallback route and a failed row count as disagreement",
      labels: [...ROUTES, "fallback"],
      offlineNote: "the offline model routes by lexical matching against the category definitions: a smoke figure, not a model's accuracy",
      score: (row, output) => {
        const predicted = typeof output?.route === "string" ? output.route : "failed";
        return { expected: String(row.expected), predicted, correct: predicted === row.expected };
      },
    };
  },
};

// --------------------------------------------------------- amazon reviews

/** The labelled Amazon review sentences through feedbackAnalysis: its step-1 sentiment against the label. */
export const amazonReviews: DatasetAdapter = {
  name: "amazon-reviews",
  aliases: ["sentiment"],
  description: "Amazon review sentences labelled positive/negative (sentiment/amazon_cells_labelled.txt, UCI Sentiment Labelled Sentences)",
  workflows: ["feedbackAnalysis"],
  folder: "sentiment",
  load(dataDir, { limit }) {
    const folder = folderOf(dataDir, "sentiment");
    const all = loadReviews(dataDir);
    const kept = evenlySpaced(all, limit);
    return {
      name: "amazon-reviews",
      source: join(folder, "amazon_cells_labelled.txt"),
      total: all.length,
      selection: selection(kept.length, all.length, "evenly spaced"),
      rows: kept.map((r) => ({ id: `${all.indexOf(r) + 1}`, input: { feedback: r.text }, expected: r.label })),
      primary: { kind: "accuracy", name: "sentiment accuracy" },
      scoring: "`sentiment.sentiment` against the sentence's label; neutral and a failed row count as wrong",
      labels: ["positive", "negative", "neutral"],
      offlineNote: "the offline model picks the sentiment by lexical matching against the sentiment definitions: a smoke figure, not a model's accuracy",
      score: (row, output) => {
        const got = valueAt(output, "sentiment.sentiment");
        const predicted = typeof got === "string" ? got : "failed";
        return {
          expected: String(row.expected),
          predicted,
          correct: predicted === row.expected,
          ratios: {
            "topics by the strong model (sentiment confidence < 0.7)": { part: output?.topicsModel === "strong" ? 1 : 0, whole: 1 },
            "escalations opened": { part: output?.escalationId ? 1 : 0, whole: 1 },
          },
        };
      },
    };
  },
};

// -------------------------------------------------------------------- re3d

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
 * Reads a `mongoexport` file (re3d's format): one JSON object per line, a BOM allowed.
 * @throws {DataFileError} naming the file (and line, when a line is not JSON).
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

const SEP = "\u0000";
const typed = (text: string, type: string) => `${entityKey(text)}${SEP}${type}`;
const labelled = (s: string, type: string, t: string) => `${entityKey(s)}${SEP}${type}${SEP}${entityKey(t)}`;
const unlabelled = (s: string, t: string) => [entityKey(s), entityKey(t)].sort().join(SEP);

/** The measures of re3d's scoring, in report order. */
export const RE3D_MEASURES = [
  "entities (text + type)",
  "entities (text only)",
  "candidates, rules only (text only)",
  "relations (labelled, directed)",
  "relations (unlabelled, undirected)",
] as const;

/**
 * One document's overlaps (see {@link RE3D_MEASURES}): entities as
 * (`entityKey(text)`, type) pairs and as keys alone, the rule candidates
 * (`proposeMentions`, no model) as keys, relations as (source, type, target)
 * with direction and as unordered pairs; plus entities per type
 * (`entities: TYPE`). Gold of types the workflow does not extract stays in
 * the gold sets (it counts against recall).
 */
export function scoreRe3dDocument(
  predicted: { entities: Entity[]; relations: Relation[]; candidates: string[] },
  gold: { entities: Re3dEntity[]; relations: Re3dRelation[] },
): Record<string, Overlap> {
  const goldText = new Set(gold.entities.map((e) => entityKey(e.value)));
  const out: Record<string, Overlap> = {
    [RE3D_MEASURES[0]]: addSets(emptyOverlap(), new Set(predicted.entities.map((e) => typed(e.text, e.type))), new Set(gold.entities.map((e) => typed(e.value, e.type)))),
    [RE3D_MEASURES[1]]: addSets(emptyOverlap(), new Set(predicted.entities.map((e) => entityKey(e.text))), goldText),
    [RE3D_MEASURES[2]]: addSets(emptyOverlap(), new Set(predicted.candidates.map(entityKey)), goldText),
    [RE3D_MEASURES[3]]: addSets(
      emptyOverlap(),
      new Set(predicted.relations.map((r) => labelled(r.source, r.relation, r.target))),
      new Set(gold.relations.map((r) => labelled(r.source, r.type, r.target))),
    ),
    [RE3D_MEASURES[4]]: addSets(emptyOverlap(), new Set(predicted.relations.map((r) => unlabelled(r.source, r.target))), new Set(gold.relations.map((r) => unlabelled(r.source, r.target)))),
  };
  const types = new Set([...gold.entities.map((e) => e.type), ...predicted.entities.map((e) => e.type)]);
  for (const type of [...types].sort()) {
    out[`entities: ${type}`] = addSets(
      emptyOverlap(),
      new Set(predicted.entities.filter((e) => e.type === type).map((e) => typed(e.text, e.type))),
      new Set(gold.entities.filter((e) => e.type === type).map((e) => typed(e.value, e.type))),
    );
  }
  return out;
}

/** The re3d part read when none is named. */
export const RE3D_PART = "Wikipedia";

/** Options of {@link re3dDataset}. */
export interface Re3dOptions {
  /** The first `limit` documents (default all). */
  limit?: number;
  /** Only gold annotations with re3d confidence >= this (default 0: all). */
  minConfidence?: number;
}

/**
 * A re3d part (`dir`: a folder of documents.json, entities.json and
 * relations.json, such as `re3d/Wikipedia`) as an eval data set for
 * knowledgeGraph, scored by {@link scoreRe3dDocument}.
 * @throws {DataFileError} when a file is missing or a line is not JSON.
 */
export function re3dDataset(dir: string, options: Re3dOptions = {}): EvalDataset {
  const minConfidence = options.minConfidence ?? 0;
  const docs = readMongoExport<Re3dDocument>(join(dir, "documents.json"));
  const entities = readMongoExport<Re3dEntity>(join(dir, "entities.json")).filter((e) => e.confidence >= minConfidence);
  const relations = readMongoExport<Re3dRelation>(join(dir, "relations.json")).filter((r) => r.confidence >= minConfidence);
  const kept = options.limit === undefined ? docs : docs.slice(0, options.limit);
  return {
    name: "re3d",
    source: dir,
    total: docs.length,
    selection: selection(kept.length, docs.length, "the first, in file order"),
    rows: kept.map((d) => ({
      id: d._id,
      note: d.title,
      input: { text: d.text, documentId: d._id },
      expected: { entities: entities.filter((e) => e.documentId === d._id), relations: relations.filter((r) => r.documentId === d._id), text: d.text },
    })),
    primary: { kind: "f1", name: RE3D_MEASURES[0] },
    measures: RE3D_MEASURES,
    scoring:
      "per document, the sets of predicted and gold keys (entityKey: lower case, whitespace collapsed, edge punctuation and a leading article dropped), summed over documents (micro average); " +
      `${minConfidence > 0 ? `gold annotations with confidence >= ${minConfidence}` : "every gold annotation counts, whatever its confidence"}; a failed document predicts nothing`,
    offlineNote:
      "the offline model keeps the rule candidates and types them by lexical matching against the type definitions; it cannot map relations: a smoke figure, not a model's quality",
    score: (row, output) => {
      const gold = row.expected as { entities: Re3dEntity[]; relations: Re3dRelation[]; text: string };
      const overlaps = scoreRe3dDocument(
        {
          entities: (output?.entities as Entity[] | undefined) ?? [],
          relations: (output?.relations as Relation[] | undefined) ?? [],
          candidates: proposeMentions(gold.text),
        },
        gold,
      );
      return { overlaps };
    },
  };
}

/** re3d (Dstl's relationship and entity extraction evaluation set) through knowledgeGraph, against its gold annotations. */
export const re3d: DatasetAdapter = {
  name: "re3d",
  description: "re3d's Wikipedia part: documents with gold entity and relation annotations (Dstl, re3d/Wikipedia)",
  workflows: ["knowledgeGraph"],
  folder: "re3d",
  defaultConcurrency: 4,
  load: (dataDir, { limit }) => re3dDataset(folderOf(dataDir, "re3d", RE3D_PART), { limit }),
};

// -------------------------------------------------------------------- MBPP

/** One MBPP problem as the workflow and the harness use it. */
export interface MbppProblem {
  taskId: number;
  task: string;
  tests: string[];
  setup: string;
  /** The dataset's reference solution: only ever given to the harness check, never to the workflow. */
  reference: string;
}

/** MBPP's test split (its README: "Task IDs 11-510 are used for testing"). */
export const MBPP_TEST_SPLIT = { first: 11, last: 510 };

/**
 * Every problem of an MBPP file in `dir` (the data directory's `mbpp/`), in
 * task id order: `sanitized` (sanitized-mbpp.json: `prompt`, `test_list`,
 * `test_imports` as setup) or `full` (mbpp.jsonl: `text`, `test_list`,
 * `test_setup_code`).
 * @throws {DataFileError} when the file is missing or not what it should be.
 */
export function loadMbpp(dir: string, file: "sanitized" | "full" = "sanitized"): MbppProblem[] {
  const path = join(dir, file === "sanitized" ? "sanitized-mbpp.json" : "mbpp.jsonl");
  if (!existsSync(path)) throw new DataFileError(path, "missing from the data directory");
  const text = readFileSync(path, "utf8");
  let problems: MbppProblem[];
  try {
    problems =
      file === "sanitized"
        ? (JSON.parse(text) as Array<{ task_id: number; prompt: string; code: string; test_list: string[]; test_imports: string[] }>).map((p) => ({
            taskId: p.task_id,
            task: p.prompt,
            tests: p.test_list,
            setup: (p.test_imports ?? []).join("\n"),
            reference: p.code,
          }))
        : text
            .split("\n")
            .filter((l) => l.trim())
            .map((l) => JSON.parse(l) as { task_id: number; text: string; code: string; test_list: string[]; test_setup_code: string })
            .map((p) => ({ taskId: p.task_id, task: p.text, tests: p.test_list, setup: p.test_setup_code ?? "", reference: p.code }));
  } catch (error) {
    throw new DataFileError(path, `not MBPP's format (${(error as Error).message})`);
  }
  return problems.sort((a, b) => a.taskId - b.taskId);
}

/** Options of {@link mbppDataset}. */
export interface MbppOptions {
  /** The first `limit` problems of the test split (default all 257 of the sanitized file). */
  limit?: number;
  /** Which file (default `sanitized`). */
  file?: "sanitized" | "full";
  /** Attempts per problem (the workflow's `maxIterations`; default the workflow's). */
  maxIterations?: number;
}

/**
 * MBPP's test split (task ids 11-510) from `dir` (the data directory's
 * `mbpp/`) as an eval data set for codeGeneration: the workflow gets the
 * task, the tests and the setup, never the reference code.
 * @throws {DataFileError} when the file is missing or not MBPP's format.
 */
export function mbppDataset(dir: string, options: MbppOptions = {}): EvalDataset {
  const file = options.file ?? "sanitized";
  const split = loadMbpp(dir, file).filter((p) => p.taskId >= MBPP_TEST_SPLIT.first && p.taskId <= MBPP_TEST_SPLIT.last);
  const kept = options.limit === undefined ? split : split.slice(0, options.limit);
  return {
    name: "mbpp",
    source: join(dir, file === "sanitized" ? "sanitized-mbpp.json" : "mbpp.jsonl"),
    total: split.length,
    selection: selection(kept.length, split.length, "the first of the test split, in task id order"),
    rows: kept.map((p) => ({
      id: `${p.taskId}`,
      note: p.task.length > 80 ? `${p.task.slice(0, 79)}…` : p.task,
      input: { task: p.task, tests: p.tests, setup: p.setup, ...(options.maxIterations !== undefined ? { maxIterations: options.maxIterations } : {}) },
      expected: p.tests.length,
    })),
    primary: { kind: "accuracy", name: "problems solved (every test passes)" },
    scoring: "the final code's `passed` of `total` tests (run with python3 by the workflow); a failed row passes none of its tests",
    offlineNote:
      "the offline model cannot write code (its drafts are extracts of the prompt), so no test passes: a smoke run of the loop and the test harness, not a model's quality",
    score: (row, output) => {
      const total = typeof output?.total === "number" && output.total > 0 ? output.total : (row.expected as number);
      const passed = typeof output?.passed === "number" ? output.passed : 0;
      return { correct: total > 0 && passed === total, ratios: { "tests passed": { part: passed, whole: total } } };
    },
  };
}

/** MBPP's test split through codeGeneration. */
export const mbpp: DatasetAdapter = {
  name: "mbpp",
  description: "MBPP (Mostly Basic Python Problems), sanitized-mbpp.json, test split (task ids 11-510)",
  workflows: ["codeGeneration"],
  folder: "mbpp",
  defaultConcurrency: 2,
  load: (dataDir, { limit }) => mbppDataset(folderOf(dataDir, "mbpp"), { limit }),
};

// ------------------------------------------------------------ Requests FAQ

/** The FAQ file of the Requests docs, the reference answers. */
export const FAQ_FILE = "faq.rst";

/** reStructuredText reduced to its words: roles, links and markup lines out. */
export function rstText(text: string): string {
  return text
    .split("\n")
    .filter((line) => !/^\s*\.\. /.test(line) && !/^([=\-~^*+#])\1{2,}\s*$/.test(line))
    .join("\n")
    .replace(/:\w+:`([^`<]*?)\s*(?:<[^>]*>)?`/g, "$1")
    .replace(/`([^`<]*?)\s*<[^>]*>`_+/g, "$1")
    .replace(/``([^`]*)``/g, "$1")
    .replace(/`([^`]*)`_*/g, "$1")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}

/**
 * The Requests FAQ (`requests_docs/faq.rst`: each section's title is a
 * question, its body the answer) and the knowledge base: every section of
 * the other guides (`*.rst` but faq.rst), titled `FILE: SECTION`.
 * @throws {DataFileError} when the folder or faq.rst is missing, or it has no entry.
 */
export function loadRequestsFaq(dataDir: string): { entries: Array<{ question: string; answer: string }>; documents: Array<{ title: string; content: string }>; source: string } {
  const dir = folderOf(dataDir, "requests_docs");
  const faqPath = join(dir, FAQ_FILE);
  if (!existsSync(faqPath)) throw new DataFileError(faqPath, "missing from the data directory");
  const entries = [...rstSections(readFileSync(faqPath, "utf8"))]
    .map(([question, body]) => ({ question, answer: rstText(body) }))
    .filter((e) => e.answer && e.question !== "Frequently Asked Questions");
  if (!entries.length) throw new DataFileError(faqPath, "no question sections");
  const documents = readdirSync(dir)
    .filter((f) => f.endsWith(".rst") && f !== FAQ_FILE)
    .sort()
    .flatMap((f) => [...rstSections(readFileSync(join(dir, f), "utf8"))].map(([title, body]) => ({ title: `${f.replace(/\.rst$/, "")}: ${title}`, content: rstText(body) })))
    .filter((d) => d.content);
  return { entries, documents, source: dir };
}

/** The Requests FAQ through adaptiveQuestionAnswering, the other Requests guides as its knowledge base. */
export const requestsFaq: DatasetAdapter = {
  name: "requests-faq",
  aliases: ["faq"],
  description: "The Requests library's FAQ (requests_docs/faq.rst), answered from the other Requests guides",
  workflows: ["adaptiveQuestionAnswering"],
  folder: "requests_docs",
  load(dataDir, { limit }) {
    const { entries, documents, source } = loadRequestsFaq(dataDir);
    const kept = limit === undefined ? entries : entries.slice(0, limit);
    return {
      name: "requests-faq",
      source: join(source, FAQ_FILE),
      total: entries.length,
      selection: selection(kept.length, entries.length, "the first, in file order"),
      rows: kept.map((e, i) => ({ id: `${i + 1}`, note: e.question, input: { question: e.question, documents }, expected: e.answer })),
      primary: { kind: "mean", name: "answer token F1" },
      scoring: `SQuAD's token F1 of \`answer\` against the FAQ's answer (lower case, punctuation and articles out); "answered" counts non-empty answers; the knowledge base is every section of the other ${documents.length ? "guides" : "files"} (${documents.length} sections), not faq.rst`,
      offlineNote: "the offline model answers with extracts of the retrieved passages: a smoke figure, not a model's quality",
      score: (row, output) => {
        const answer = typeof output?.answer === "string" ? output.answer : "";
        return {
          values: { "answer token F1": tokenF1(answer, String(row.expected)) },
          ratios: { answered: { part: answer.trim() ? 1 : 0, whole: 1 } },
        };
      },
    };
  },
};

/** The built-in data sets, by name. */
export const DATASETS: readonly DatasetAdapter[] = [banking77, amazonReviews, re3d, mbpp, requestsFaq];

/** The built-in data set called `name` (or one of its aliases), if any. */
export function findDataset(name: string): DatasetAdapter | undefined {
  return DATASETS.find((d) => d.name === name || d.aliases?.includes(name));
}

export type { EvalDataset };
