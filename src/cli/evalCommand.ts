/**
 * `llm-workflows eval WORKFLOW --dataset NAME|FILE`: runs a workflow over a
 * labelled data set with the configured model and writes a report, markdown
 * and JSON: quality (accuracy, or precision/recall/F1, or what fits the
 * set), tokens and USD per row, p50 and p95 latency, and the failed rows.
 *
 * - Built-in data sets (`graphs/lib/datasets.ts`): `banking77`,
 *   `amazon-reviews`, `re3d`, `mbpp`, `requests-faq`, read from the data
 *   directory (`--data-dir`, else `LLM_WORKFLOWS_DATA`, else `../shared/data`).
 * - A file of your own (.csv, .tsv, .jsonl, .json): `--field INPUT=COLUMN`
 *   maps columns to the workflow's input (as in batch mode), `--label COLUMN`
 *   holds the expected value, `--predict FIELD` names the output field
 *   (dotted path) compared with it: accuracy, trimmed and case-insensitive.
 * - `--record FILE` / `--replay FILE` (`--replay-mode strict|record-missing`)
 *   record the eval's model calls once and replay them (docs/record-and-replay.md).
 *
 * Figures of the offline model are labelled as smoke figures in the report.
 * Exit code 3 when a row failed (a strict replay that misses a call fails its
 * row), so that a replayed eval in CI fails on a changed prompt.
 *
 * @module
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { basename, dirname, extname, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { Command, InvalidArgumentError, Option } from "commander";
import { BaseChatModel } from "@langchain/core/language_models/chat_models";
import pLimit from "p-limit";
import { streamWorkflow, type RunOptions } from "../facade.js";
import { resolveModelSettings } from "../models/configuration.js";
import { modelName } from "../models/fallback.js";
import { RECORDER_KEY, recorderForOptions, type ModelCallRecorder, type RecorderMode } from "../models/replay.js";
import { ConfigurationError, DataFileError } from "../runtime/errors.js";
import { addUsage, emptyUsage, type TokenUsage } from "../runtime/usage.js";
import type { WorkflowDefinition } from "../workflow.js";
import { EXIT_PARTIAL } from "./batchCommand.js";
import { readRows } from "./batchInput.js";
import { parseFieldMappings, parseJson, rowToInput, type Row } from "./io.js";
import { formatDuration, formatUsage } from "./render.js";
import { isGraphSpec, loadGraph } from "./targets.js";

// ------------------------------------------------------------------- types

/** Matched, predicted and gold counts of a set-overlap measure (micro-averaged over rows). */
export interface Overlap {
  matched: number;
  predicted: number;
  gold: number;
}

/** What one row scored; each kind is aggregated over the rows (see {@link EvalReport}). */
export interface RowScore {
  /** Whether the row's prediction is right (accuracy). */
  correct?: boolean;
  /** The predicted label (confusion table). */
  predicted?: string;
  /** The expected label (confusion table). */
  expected?: string;
  /** Set overlaps per measure, summed over rows for micro precision/recall/F1. */
  overlaps?: Record<string, Overlap>;
  /** Part of a whole per measure (tests passed of tests run), summed over rows. */
  ratios?: Record<string, { part: number; whole: number }>;
  /** A figure per measure (0-1), averaged over rows. */
  values?: Record<string, number>;
}

/** One labelled row: the workflow's input and what it should give. */
export interface EvalRow {
  /** Row id in the set (a row number, a document or task id). */
  id: string;
  /** What to show beside the id (an intent, a title). */
  note?: string;
  input: Record<string, unknown>;
  expected: unknown;
}

/** The figure a data set is judged by. */
export type PrimaryMeasure =
  | { kind: "accuracy"; name: string }
  | { kind: "f1"; name: string }
  | { kind: "ratio"; name: string }
  | { kind: "mean"; name: string };

/** A data set ready to run: its rows, how they are scored, and what the report says of them. */
export interface EvalDataset {
  name: string;
  /** The file or folder the rows came from. */
  source: string;
  /** Rows in the set (before `--limit`). */
  total: number;
  /** Which rows were taken, in words ("500 of 10,003 rows (evenly spaced)"). */
  selection: string;
  rows: EvalRow[];
  primary: PrimaryMeasure;
  /** How a row is scored, in words (printed in the report). */
  scoring: string;
  /** The main set-overlap measures, in report order; other measures follow, most gold first. */
  measures?: readonly string[];
  /** Labels to list first in the confusion table. */
  labels?: readonly string[];
  /** What figures of the offline model mean on this set (printed with the smoke label). */
  offlineNote?: string;
  /** Scores a row from the run's output (undefined when the run failed). */
  score(row: EvalRow, output: Record<string, unknown> | undefined): RowScore;
}

/** A built-in data set: where it lives in the data directory and how it is loaded. */
export interface DatasetAdapter {
  name: string;
  aliases?: readonly string[];
  description: string;
  /** The workflows it fits. */
  workflows: readonly string[];
  /** Its folder in the data directory. */
  folder: string;
  /** Rows run at once unless `--concurrency` says otherwise (default 8). */
  defaultConcurrency?: number;
  /**
   * @throws {DataFileError} when its files are missing from `dataDir` or unreadable.
   */
  load(dataDir: string, options: { limit?: number }): EvalDataset;
}

/** One row's run and score, as the JSON report lists it. */
export interface EvalRowResult extends RowScore {
  id: string;
  note?: string;
  /** Wall time of the row's run, ms. */
  latencyMs: number;
  /** Model calls and tokens of the row (of the nodes that finished, for a failed row). */
  usage: TokenUsage;
  error?: string;
}

/** A measure with its precision, recall and F1 (null when a denominator is 0). */
export interface MeasureFigures extends Overlap {
  name: string;
  precision: number | null;
  recall: number | null;
  f1: number | null;
}

/** The report `eval` writes (`report.json`; `report.md` renders it). */
export interface EvalReport {
  workflow: string;
  dataset: { name: string; source: string; selection: string; rows: number; total: number; scoring: string };
  model: {
    /** `openai` or `offline`, as the settings resolve (a replay's answers come from its file), or `override` (`configurable.modelOverride`). */
    provider: string;
    default: string;
    strong: string;
    /** The models that answered, with their calls, when the eval recorded or replayed. */
    answeredBy?: Record<string, number>;
    /** Whether these are the offline model's figures (a smoke check, not a model's quality). */
    smoke: boolean;
  };
  recording?: { mode: RecorderMode; file: string; replayed: number; recorded: number };
  startedAt: string;
  durationMs: number;
  concurrency: number;
  quality: {
    primary: { name: string; value: number | null };
    accuracy?: { correct: number; rows: number; value: number };
    measures?: MeasureFigures[];
    ratios?: Array<{ name: string; part: number; whole: number; value: number | null }>;
    means?: Array<{ name: string; value: number | null; rows: number }>;
    /** expected -> predicted -> rows. */
    confusion?: { expected: string[]; predicted: string[]; counts: Record<string, Record<string, number>> };
  };
  usage: { total: TokenUsage; perRow: { calls: number; inputTokens: number; outputTokens: number; usd: number } };
  /** Over every row, failed ones included; ms. */
  latency: { p50Ms: number; p95Ms: number; meanMs: number; maxMs: number };
  failures: { count: number; rows: Array<{ id: string; note?: string; error: string }> };
  rows: EvalRowResult[];
}

// ------------------------------------------------------------- a user's file

/** Options of {@link userFileDataset}. */
export interface UserFileOptions {
  /** Workflow input field -> column (`--field`); without any, every column is an input field. */
  fields?: Record<string, string>;
  /** The column with the expected value (`--label`). */
  label: string;
  /** The output field compared with it, a dotted path (`--predict`). */
  predict: string;
  /** Input defaults for every row (`--input`). */
  defaults?: Row;
  limit?: number;
  delimiter?: string;
}

const normalizeLabel = (value: unknown) => (value === undefined || value === null ? "" : typeof value === "string" ? value : JSON.stringify(value)).trim().toLowerCase();

function valueAt(value: unknown, path: string): unknown {
  let at: unknown = value;
  for (const key of path.split(".")) {
    if (at === null || typeof at !== "object") return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}

/**
 * A data set from a CSV/TSV, JSON Lines or JSON-array file: the first
 * `limit` rows, scored by accuracy of `predict` against `label`.
 * @throws {DataFileError} for a file that cannot be read.
 * @throws {ConfigurationError} when the label or a `--field` column is not a column of the file.
 */
export async function userFileDataset(file: string, options: UserFileOptions): Promise<EvalDataset> {
  const rows: Row[] = [];
  for await (const row of readRows(file, { delimiter: options.delimiter })) {
    if (options.limit !== undefined && rows.length >= options.limit) break;
    rows.push(row);
  }
  if (rows.length === 0) throw new DataFileError(file, "no rows");
  const columns = Object.keys(rows[0]);
  const missing = (column: string) => !rows.some((r) => column in r);
  if (missing(options.label)) throw new ConfigurationError("--label", `a column of ${file} (${columns.join(", ")})`, options.label);
  for (const [field, column] of Object.entries(options.fields ?? {})) {
    if (missing(column)) throw new ConfigurationError(`--field ${field}`, `a column of ${file} (${columns.join(", ")})`, column);
  }
  const fields = options.fields ?? {};
  const withoutLabel = (row: Row): Row => {
    if (Object.keys(fields).length) return row;
    const { [options.label]: _label, ...rest } = row;
    return rest;
  };
  return {
    name: basename(file, extname(file)),
    source: resolve(file),
    total: rows.length,
    selection: options.limit !== undefined ? `the first ${rows.length} rows` : `all ${rows.length} rows`,
    rows: rows.map((row, i) => ({ id: `${i + 1}`, input: rowToInput(withoutLabel(row), fields, options.defaults), expected: row[options.label] })),
    primary: { kind: "accuracy", name: `accuracy of ${options.predict} against ${options.label}` },
    scoring: `the output's \`${options.predict}\` against the column \`${options.label}\`, trimmed and case-insensitive; a failed row counts as wrong`,
    score: (row, output) => {
      const expected = normalizeLabel(row.expected);
      const got = output === undefined ? undefined : valueAt(output, options.predict);
      const predicted = output === undefined ? "failed" : normalizeLabel(got);
      return { expected, predicted, correct: output !== undefined && predicted === expected };
    },
  };
}

// ------------------------------------------------------------------ running

/** Options of {@link runEval}. */
export interface RunEvalOptions {
  /** Rows run at once (default 8). */
  concurrency?: number;
  /** Options of each row's run: model, configurable (with a recorder under `RECORDER_KEY`), call log. */
  runOptions?: RunOptions;
  /** Called after each row. */
  onProgress?: (done: number, total: number, failed: number) => void;
  /** Called with each row's result and output (undefined when it failed) as it finishes. */
  onRow?: (row: EvalRow, result: EvalRowResult, output: Record<string, unknown> | undefined) => void;
  /** Stops starting rows; rows in flight finish. */
  signal?: AbortSignal;
}

/** The value at `p` (0-1) of sorted `values`: nearest rank. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

/** Runs `workflow` on every row of `dataset` (at most `concurrency` at once) and scores each. Rows keep the set's order. */
export async function runEval(workflow: WorkflowDefinition<any>, dataset: EvalDataset, options: RunEvalOptions = {}): Promise<EvalRowResult[]> {
  const limit = pLimit(options.concurrency ?? 8);
  let done = 0;
  let failed = 0;
  return Promise.all(
    dataset.rows.map((row) =>
      limit(async (): Promise<EvalRowResult> => {
        const started = performance.now();
        const usage = emptyUsage();
        let output: Record<string, unknown> | undefined;
        let error: string | undefined;
        if (options.signal?.aborted) error = "not run: the eval was stopped";
        else {
          try {
            for await (const event of streamWorkflow(workflow, row.input, options.runOptions)) {
              if (event.type === "node") addUsage(usage, event.usage);
              else {
                output = event.output;
                Object.assign(usage, event.usage);
              }
            }
          } catch (e) {
            error = e instanceof Error ? e.message : String(e);
            output = undefined;
          }
        }
        const latencyMs = performance.now() - started;
        if (error) failed++;
        const result: EvalRowResult = { id: row.id, ...(row.note ? { note: row.note } : {}), latencyMs, usage, ...dataset.score(row, output), ...(error ? { error } : {}) };
        options.onRow?.(row, result, output);
        options.onProgress?.(++done, dataset.rows.length, failed);
        return result;
      }),
    ),
  );
}

function measureFigures(name: string, o: Overlap): MeasureFigures {
  const precision = o.predicted ? o.matched / o.predicted : null;
  const recall = o.gold ? o.matched / o.gold : null;
  const f1 = precision !== null && recall !== null && precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : precision === 0 || recall === 0 ? 0 : null;
  return { name, ...o, precision, recall, f1 };
}

/** The quality section of a report from the scored rows. */
export function summarizeQuality(dataset: EvalDataset, rows: readonly EvalRowResult[]): EvalReport["quality"] {
  const quality: EvalReport["quality"] = { primary: { name: dataset.primary.name, value: null } };
  const scored = rows.filter((r) => r.correct !== undefined);
  if (scored.length) {
    const correct = scored.filter((r) => r.correct).length;
    quality.accuracy = { correct, rows: scored.length, value: correct / scored.length };
  }
  const overlaps = new Map<string, Overlap>();
  const ratios = new Map<string, { part: number; whole: number }>();
  const values = new Map<string, number[]>();
  for (const row of rows) {
    for (const [name, o] of Object.entries(row.overlaps ?? {})) {
      const sum = overlaps.get(name) ?? { matched: 0, predicted: 0, gold: 0 };
      overlaps.set(name, { matched: sum.matched + o.matched, predicted: sum.predicted + o.predicted, gold: sum.gold + o.gold });
    }
    for (const [name, r] of Object.entries(row.ratios ?? {})) {
      const sum = ratios.get(name) ?? { part: 0, whole: 0 };
      ratios.set(name, { part: sum.part + r.part, whole: sum.whole + r.whole });
    }
    for (const [name, v] of Object.entries(row.values ?? {})) values.set(name, [...(values.get(name) ?? []), v]);
  }
  if (overlaps.size) {
    const main = dataset.measures ?? [];
    const rank = (name: string) => (main.includes(name) ? main.indexOf(name) : main.length);
    quality.measures = [...overlaps]
      .map(([name, o]) => measureFigures(name, o))
      .sort((a, b) => rank(a.name) - rank(b.name) || (rank(a.name) === main.length ? b.gold - a.gold || a.name.localeCompare(b.name) : 0));
  }
  if (ratios.size) quality.ratios = [...ratios].map(([name, r]) => ({ name, ...r, value: r.whole ? r.part / r.whole : null }));
  if (values.size) quality.means = [...values].map(([name, v]) => ({ name, value: v.length ? v.reduce((a, b) => a + b, 0) / v.length : null, rows: v.length }));
  const labelled = rows.filter((r) => r.expected !== undefined && r.predicted !== undefined);
  if (labelled.length) {
    const first = dataset.labels ?? [];
    const expected = [...new Set([...first.filter((l) => labelled.some((r) => r.expected === l)), ...labelled.map((r) => r.expected!)])];
    const predicted = [...new Set([...first, ...labelled.map((r) => r.predicted!)])];
    if (expected.length <= 30 && predicted.length <= 30) {
      const counts: Record<string, Record<string, number>> = {};
      for (const r of labelled) {
        counts[r.expected!] ??= {};
        counts[r.expected!][r.predicted!] = (counts[r.expected!][r.predicted!] ?? 0) + 1;
      }
      quality.confusion = { expected, predicted, counts };
    }
  }
  const primary = dataset.primary;
  quality.primary.value =
    primary.kind === "accuracy"
      ? (quality.accuracy?.value ?? null)
      : primary.kind === "f1"
        ? (quality.measures?.find((m) => m.name === primary.name)?.f1 ?? null)
        : primary.kind === "ratio"
          ? (quality.ratios?.find((m) => m.name === primary.name)?.value ?? null)
          : (quality.means?.find((m) => m.name === primary.name)?.value ?? null);
  return quality;
}

/** What {@link buildReport} needs besides the rows. */
export interface ReportContext {
  workflow: string;
  dataset: EvalDataset;
  runOptions?: RunOptions;
  recorder?: ModelCallRecorder;
  startedAt: Date;
  durationMs: number;
  concurrency: number;
}

/** The report of an eval (see {@link EvalReport}). */
export function buildReport(context: ReportContext, rows: EvalRowResult[]): EvalReport {
  const configurable: Record<string, unknown> = { ...(context.runOptions?.configurable ?? {}), ...(context.runOptions?.model ? { model: context.runOptions.model } : {}) };
  const override = configurable.modelOverride;
  let model: Pick<EvalReport["model"], "provider" | "default" | "strong">;
  if (override instanceof BaseChatModel) {
    // The factory's one substitution hook (`configurable.modelOverride`): every role uses it.
    const name = modelName(override);
    model = { provider: "override", default: name, strong: name };
  } else {
    const settings = resolveModelSettings("default", { configurable });
    model = { provider: settings.provider, default: settings.model, strong: resolveModelSettings("strong", { configurable }).model };
  }
  const answeredBy = context.recorder?.answeredBy();
  const answered = answeredBy ? Object.keys(answeredBy) : [];
  const smoke = answered.length ? answered.every((m) => m === "offline") : model.default === "offline";
  const total = emptyUsage();
  for (const row of rows) addUsage(total, row.usage);
  const n = rows.length || 1;
  const latencies = rows.map((r) => r.latencyMs).sort((a, b) => a - b);
  const failed = rows.filter((r) => r.error !== undefined);
  const stats = context.recorder?.stats;
  return {
    workflow: context.workflow,
    dataset: {
      name: context.dataset.name,
      source: context.dataset.source,
      selection: context.dataset.selection,
      rows: rows.length,
      total: context.dataset.total,
      scoring: context.dataset.scoring,
    },
    model: { ...model, ...(answeredBy ? { answeredBy } : {}), smoke },
    ...(context.recorder && stats ? { recording: { mode: context.recorder.mode, file: context.recorder.file, replayed: stats.replayed, recorded: stats.recorded } } : {}),
    startedAt: context.startedAt.toISOString(),
    durationMs: context.durationMs,
    concurrency: context.concurrency,
    quality: summarizeQuality(context.dataset, rows),
    usage: { total, perRow: { calls: total.calls / n, inputTokens: total.inputTokens / n, outputTokens: total.outputTokens / n, usd: total.usd / n } },
    latency: {
      p50Ms: percentile(latencies, 0.5),
      p95Ms: percentile(latencies, 0.95),
      meanMs: latencies.reduce((a, b) => a + b, 0) / n,
      maxMs: latencies.at(-1) ?? 0,
    },
    failures: { count: failed.length, rows: failed.map((r) => ({ id: r.id, ...(r.note ? { note: r.note } : {}), error: r.error! })) },
    rows,
  };
}

// --------------------------------------------------------------- rendering

const pct = (x: number | null | undefined) => (x === null || x === undefined ? "n/a" : `${(100 * x).toFixed(1)}%`);
const cell = (value: unknown) => String(value).replace(/\|/g, "\\|").replace(/\s+/g, " ");
const int = (n: number) => n.toLocaleString("en-US");

function table(header: string[], rows: Array<Array<string | number>>, numeric = header.map((_, i) => i > 0)): string {
  const align = header.map((_, i) => (numeric[i] ? "---:" : "---"));
  return [`| ${header.map(cell).join(" | ")} |`, `| ${align.join(" | ")} |`, ...rows.map((r) => `| ${r.map(cell).join(" | ")} |`)].join("\n");
}

/** Characters of a failed row's error shown in the markdown report (the JSON has it whole). */
const ERROR_CHARS = 300;
/** Failed rows listed in the markdown report. */
const FAILURES_SHOWN = 20;

/** The report as markdown (`report.md`). */
export function renderReport(report: EvalReport, offlineNote?: string): string {
  const q = report.quality;
  const lines: string[] = [`# ${report.workflow} on ${report.dataset.name}`, ""];
  if (report.model.smoke) {
    lines.push(
      `> **Smoke figures.** The embedded offline model answered: it is deterministic and extractive, not a language model. These figures show that the workflow, the data and the scoring run end to end; they are not a model's quality${offlineNote ? ` (${offlineNote})` : ""}. Set OPENAI_API_KEY or OPENAI_BASE_URL to measure a model.`,
      "",
    );
  }
  const model = report.model.answeredBy
    ? Object.entries(report.model.answeredBy)
        .map(([m, calls]) => `${m} (${int(calls)} calls)`)
        .join(", ") || "no call"
    : report.model.provider === "offline"
      ? "offline (the embedded offline model)"
      : `${report.model.default} (default role), ${report.model.strong} (strong role)`;
  lines.push(
    table(
      ["", ""],
      [
        ["workflow", report.workflow],
        ["data set", `${report.dataset.name}: ${report.dataset.selection}, from ${report.dataset.source}`],
        ["model", model],
        ...(report.recording
          ? [[report.recording.mode === "record" ? "recorded to" : "replayed from", `${report.recording.file} (${report.recording.mode}; ${int(report.recording.replayed)} calls replayed, ${int(report.recording.recorded)} recorded)`]]
          : []),
        ["run", `${report.startedAt}, ${formatDuration(report.durationMs)}, ${report.concurrency} rows at once`],
      ],
      [false, false],
    ),
    "",
    "## Quality",
    "",
    `**${q.primary.name}: ${pct(q.primary.value)}**${q.accuracy && report.quality.primary.name === q.primary.name && q.accuracy.rows ? ` (${int(q.accuracy.correct)} of ${int(q.accuracy.rows)} rows)` : ""}`,
    "",
    `Scoring: ${report.dataset.scoring}.`,
    "",
  );
  if (q.accuracy && !(report.quality.primary.name === q.primary.name)) lines.push(`Rows right: ${int(q.accuracy.correct)} of ${int(q.accuracy.rows)} (${pct(q.accuracy.value)}).`, "");
  if (q.measures?.length) {
    lines.push(table(["measure", "gold", "predicted", "matched", "precision", "recall", "F1"], q.measures.map((m) => [m.name, int(m.gold), int(m.predicted), int(m.matched), pct(m.precision), pct(m.recall), pct(m.f1)])), "");
  }
  if (q.ratios?.length) lines.push(table(["measure", "part", "of", "share"], q.ratios.map((r) => [r.name, int(r.part), int(r.whole), pct(r.value)])), "");
  if (q.means?.length) lines.push(table(["measure", "mean over rows", "rows"], q.means.map((m) => [m.name, pct(m.value), int(m.rows)])), "");
  if (q.confusion) {
    const { expected, predicted, counts } = q.confusion;
    lines.push(
      "Expected (rows) against predicted (columns):",
      "",
      table(
        ["expected \\ predicted", ...predicted, "rows", "right"],
        expected.map((e) => {
          const row = counts[e] ?? {};
          const n = Object.values(row).reduce((a, b) => a + b, 0);
          return [e, ...predicted.map((p) => int(row[p] ?? 0)), int(n), pct(n ? (row[e] ?? 0) / n : null)];
        }),
      ),
      "",
    );
  }
  const u = report.usage;
  lines.push(
    "## Tokens and cost",
    "",
    table(
      ["", "total", "per row"],
      [
        ["model calls", int(u.total.calls), u.perRow.calls.toFixed(2)],
        ["input tokens", int(u.total.inputTokens), u.perRow.inputTokens.toFixed(1)],
        ["output tokens", int(u.total.outputTokens), u.perRow.outputTokens.toFixed(1)],
        ["USD", u.total.usd.toFixed(6), u.perRow.usd.toFixed(6)],
      ],
    ),
    "",
    `USD from the run's price table (0 for the offline model and for unpriced models)${report.recording && report.recording.mode !== "record" ? "; replayed calls count the tokens recorded with them" : ""}.`,
    "",
    "## Latency",
    "",
    table(["p50", "p95", "mean", "max"], [[formatDuration(report.latency.p50Ms), formatDuration(report.latency.p95Ms), formatDuration(report.latency.meanMs), formatDuration(report.latency.maxMs)]], [true, true, true, true]),
    "",
    `Wall time of each row's run, failed rows included${report.recording && report.recording.mode !== "record" ? " (replayed calls take no model time)" : ""}.`,
    "",
    "## Failures",
    "",
  );
  if (report.failures.count === 0) lines.push("None.");
  else {
    lines.push(`${int(report.failures.count)} of ${int(report.dataset.rows)} rows failed${report.failures.count > FAILURES_SHOWN ? ` (the first ${FAILURES_SHOWN}; report.json lists them all)` : ""}:`, "");
    for (const f of report.failures.rows.slice(0, FAILURES_SHOWN)) {
      const error = f.error.length > ERROR_CHARS ? `${f.error.slice(0, ERROR_CHARS - 1)}…` : f.error;
      lines.push(`- row ${f.id}${f.note ? ` (${cell(f.note)})` : ""}: ${cell(error)}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

/** Where the JSON report goes beside markdown `out`: `report.md` -> `report.json`. */
export function jsonReportPath(out: string): string {
  return extname(out).toLowerCase() === ".md" ? `${out.slice(0, -3)}.json` : `${out}.json`;
}

// ----------------------------------------------------------------- command

/** What `addEvalCommand` writes to, and how it finds a workflow. */
export interface EvalIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** The workflow a name or `path:export` stands for (the CLI's own lookup, `--config` included); default: graph files and the ready workflows. */
  resolveWorkflow?: (target: string) => Promise<WorkflowDefinition<any>>;
}

interface EvalFlags {
  dataset: string;
  limit?: number;
  out?: string;
  dataDir?: string;
  concurrency?: number;
  field: string[];
  label?: string;
  predict?: string;
  input?: string;
  delimiter?: string;
  model?: string;
  callLog?: string;
  record?: string;
  replay?: string;
  replayMode?: "strict" | "record-missing";
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("expected a whole number of at least 1");
  return n;
}

async function defaultResolve(target: string): Promise<WorkflowDefinition<any>> {
  if (isGraphSpec(target)) return loadGraph(target);
  return (await import("../../graphs/index.js")).readyWorkflows.get(target);
}

/** Everything `eval` needs before it runs: the workflow, the rows, and the run options. */
export interface PreparedEval {
  workflow: WorkflowDefinition<any>;
  dataset: EvalDataset;
  offlineNote?: string;
  concurrency: number;
  runOptions: RunOptions;
  recorder?: ModelCallRecorder;
}

/**
 * Resolves the workflow and data set of an `eval` command line.
 * @throws {ConfigurationError} for a data set that is neither built in nor a file, one that does not fit the workflow, or missing `--label` / `--predict`.
 * @throws {DataFileError} when the data directory or a data file is missing or unreadable.
 */
export async function prepareEval(target: string, flags: EvalFlags, resolveWorkflow: (target: string) => Promise<WorkflowDefinition<any>> = defaultResolve): Promise<PreparedEval> {
  const workflow = await resolveWorkflow(target);
  const { findDataset, DATASETS } = await import("../../graphs/lib/datasets.js");
  const { resolveDataDir } = await import("../../graphs/lib/data.js");
  const adapter = findDataset(flags.dataset);
  let dataset: EvalDataset;
  let concurrency = flags.concurrency;
  if (adapter) {
    if (!adapter.workflows.includes(workflow.name)) {
      const fitting = DATASETS.filter((d) => d.workflows.includes(workflow.name)).map((d) => d.name);
      throw new ConfigurationError("--dataset", `a data set for ${workflow.name} (${fitting.length ? `built in: ${fitting.join(", ")}; ` : ""}or a file of your own with --label and --predict); ${adapter.name} is for ${adapter.workflows.join(", ")}`, flags.dataset);
    }
    const dir = resolveDataDir(flags.dataDir);
    if (!dir) throw new DataFileError("the data directory", "not found: give --data-dir DIR or set LLM_WORKFLOWS_DATA (the folder that holds banking77/, sentiment/, re3d/, mbpp/, requests_docs/)");
    dataset = adapter.load(dir, { limit: flags.limit });
    concurrency ??= adapter.defaultConcurrency;
  } else {
    if (!/\.(csv|tsv|tab|jsonl|ndjson|json)$/i.test(flags.dataset)) {
      throw new ConfigurationError("--dataset", `a built-in data set (${DATASETS.map((d) => d.name).join(", ")}) or a .csv, .tsv, .jsonl or .json file`, flags.dataset);
    }
    if (!flags.label) throw new ConfigurationError("--label", "the column that holds the expected value, with a file of your own", undefined);
    if (!flags.predict) throw new ConfigurationError("--predict", "the output field compared with --label (a dotted path, e.g. route or sentiment.sentiment)", undefined);
    const defaults = flags.input === undefined ? undefined : parseJson(flags.input, "--input");
    if (defaults !== undefined && (defaults === null || typeof defaults !== "object" || Array.isArray(defaults))) throw new DataFileError("--input", "expected a JSON object of input defaults");
    dataset = await userFileDataset(flags.dataset, {
      fields: parseFieldMappings(flags.field),
      label: flags.label,
      predict: flags.predict,
      defaults: defaults as Row | undefined,
      limit: flags.limit,
      delimiter: flags.delimiter,
    });
  }
  const recorder = recorderForOptions({ record: flags.record, replay: flags.replay, replayMode: flags.replayMode });
  const runOptions: RunOptions = {
    ...(flags.model ? { model: flags.model } : {}),
    ...(flags.callLog ? { callLog: flags.callLog } : {}),
    ...(recorder ? { configurable: { [RECORDER_KEY]: recorder } } : {}),
  };
  return { workflow, dataset, offlineNote: adapter ? dataset.offlineNote : undefined, concurrency: concurrency ?? 8, runOptions, recorder };
}

/**
 * Adds `eval` to `program` (see the module doc). Sets the program's
 * `exitCode` option: 0, or 3 when a row failed.
 */
export function addEvalCommand(program: Command, io: EvalIo): Command {
  return program
    .command("eval")
    .description("run a workflow over a labelled data set and write a report (quality, tokens and USD per row, p50/p95 latency, failures) as markdown and JSON")
    .argument("<workflow>", "workflow name, or a graph file as path:export")
    .requiredOption("--dataset <name|file>", "banking77 | amazon-reviews | re3d | mbpp | requests-faq, or a .csv/.tsv/.jsonl/.json file of your own (with --label and --predict)")
    .option("--limit <n>", "at most this many rows", positiveInt)
    .option("--out <file>", "the markdown report; the JSON report is written beside it (.json) (default: eval-WORKFLOW-DATASET.md)")
    .option("--data-dir <dir>", "the public data directory (default: $LLM_WORKFLOWS_DATA or ../shared/data)")
    .option("--concurrency <n>", "rows run at once (default 8; re3d 4, mbpp 2)", positiveInt)
    .option("--field <input=column>", "your file: map a column to an input field (repeatable; default: every column but the label)", (v: string, all: string[]) => [...all, v], [] as string[])
    .option("--label <column>", "your file: the column with the expected value")
    .option("--predict <field>", "your file: the output field compared with the label (dotted path, e.g. sentiment.sentiment)")
    .option("--input <json>", "your file: input defaults for every row (a JSON object)")
    .option("--delimiter <char>", "your file: CSV field delimiter")
    .option("--model <name>", "model name for the default role (`offline` for the offline model)")
    .option("--call-log <file>", "append one JSON line per model call (secrets redacted)")
    .option("--record <file>", "record every model call and its answer to this JSON Lines file")
    .option("--replay <file>", "answer every model call from this recording (no network, no key)")
    .addOption(new Option("--replay-mode <mode>", "what a replay does with a call not in the recording").choices(["strict", "record-missing"]).default("strict"))
    .action(async (target: string, flags: EvalFlags) => {
      const prepared = await prepareEval(target, flags, io.resolveWorkflow);
      const { workflow, dataset } = prepared;
      io.stderr.write(`eval ${workflow.name} on ${dataset.name}: ${dataset.selection}, ${prepared.concurrency} at once\n`);
      const startedAt = new Date();
      const started = performance.now();
      const step = Math.max(1, Math.ceil(dataset.rows.length / 10));
      const rows = await runEval(workflow, dataset, {
        concurrency: prepared.concurrency,
        runOptions: prepared.runOptions,
        onProgress: (done, total, failed) => {
          if (done === total || done % step === 0) io.stderr.write(`  ${done}/${total} rows${failed ? `, ${failed} failed` : ""}\n`);
        },
      });
      const report = buildReport(
        { workflow: workflow.name, dataset, runOptions: prepared.runOptions, recorder: prepared.recorder, startedAt, durationMs: performance.now() - started, concurrency: prepared.concurrency },
        rows,
      );
      const out = resolve(flags.out ?? `eval-${workflow.name}-${dataset.name}.md`);
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, renderReport(report, prepared.offlineNote));
      writeFileSync(jsonReportPath(out), `${JSON.stringify(report, null, 2)}\n`);
      io.stdout.write(
        `${report.quality.primary.name}: ${pct(report.quality.primary.value)}${report.model.smoke ? " (offline model: smoke figure)" : ""}; ` +
          `${report.failures.count} of ${report.dataset.rows} rows failed; p50 ${formatDuration(report.latency.p50Ms)}, p95 ${formatDuration(report.latency.p95Ms)}; ${formatUsage(report.usage.total)}\n` +
          `report: ${out} and ${jsonReportPath(out)}\n`,
      );
      program.setOptionValue("exitCode", report.failures.count ? EXIT_PARTIAL : 0);
    });
}
