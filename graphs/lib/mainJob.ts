/**
 * The main job (`npm start` with no arguments): routes the Banking77 queries
 * through `supportRouting` in batch mode and prints the routing table against
 * `routes.json`, then runs each of the other workflows once on an input drawn
 * from the same data.
 *
 * @module
 */
import { performance } from "node:perf_hooks";
import { streamWorkflow, type RunOptions } from "../../src/facade.js";
import { resolveModelSettings } from "../../src/models/configuration.js";
import { emptyUsage, type TokenUsage } from "../../src/runtime/usage.js";
import { runBatch, DEFAULT_BATCH_CONCURRENCY } from "../../src/cli/batch.js";
import { CUSTOMER_MESSAGE_INTENTS, MULTI_INTENT_INTENTS, loadPublicData, loadSamples, resolveDataDir, type MainJobData, type SupportRoute } from "./data.js";
import { formatDuration, formatUsage, percent, renderTable } from "../../src/cli/render.js";

/** Queries routed with a real model when `--limit` is not given (a full Banking77 pass is 20,000 paid calls). */
export const PROVIDER_DEFAULT_LIMIT = 200;
/** Review sentences the bulk classification step takes. */
export const REVIEW_SAMPLE = 40;

/** Options of {@link runMainJob}. */
export interface MainJobOptions {
  dataDir?: string;
  /** Most support queries to route (evenly spaced over the file); default all offline, {@link PROVIDER_DEFAULT_LIMIT} with a provider. */
  limit?: number;
  concurrency?: number;
  runOptions?: RunOptions;
  /** Where the report goes (default stdout). */
  print?: (line: string) => void;
  /** Progress of the routing batch. */
  onProgress?: (done: number, total: number, failed: number) => void;
}

/** The routing table's figures. */
export interface RoutingReport {
  total: number;
  failed: number;
  /** expected route -> routed route -> count (routed includes `fallback`). */
  matrix: Record<SupportRoute, Record<string, number>>;
  perRoute: Record<string, number>;
  agreement: number;
  usage: TokenUsage;
  durationMs: number;
}

const ROUTES: SupportRoute[] = ["billing", "technical", "general"];
const ROUTED = [...ROUTES, "fallback"];

/** Every `k`-th item so that at most `limit` remain, spread over the whole list. */
export function evenlySpaced<T>(items: T[], limit: number | undefined): T[] {
  if (limit === undefined || limit >= items.length) return items;
  const step = items.length / limit;
  return Array.from({ length: limit }, (_, i) => items[Math.floor(i * step)]);
}

/** Routes `queries` in batch mode and tallies the routes against the expected ones. */
export async function routeQueries(
  queries: MainJobData["supportQueries"],
  options: Pick<MainJobOptions, "concurrency" | "runOptions" | "onProgress">,
): Promise<RoutingReport> {
  const started = performance.now();
  const summary = await runBatch(
    queries.map((q) => ({ query: q.text })),
    {
      workflow: "supportRouting",
      concurrency: options.concurrency ?? DEFAULT_BATCH_CONCURRENCY,
      runOptions: options.runOptions,
      onProgress: (p) => options.onProgress?.(p.done, queries.length, p.failed),
    },
  );
  const matrix = Object.fromEntries(ROUTES.map((r) => [r, Object.fromEntries(ROUTED.map((c) => [c, 0]))])) as RoutingReport["matrix"];
  const perRoute: Record<string, number> = Object.fromEntries(ROUTED.map((c) => [c, 0]));
  let agree = 0;
  summary.records.forEach((record, i) => {
    const routed = record.output?.route as string | undefined;
    if (!routed) return;
    matrix[queries[i].expected][routed] += 1;
    perRoute[routed] += 1;
    if (routed === queries[i].expected) agree++;
  });
  return {
    total: queries.length,
    failed: summary.failed.length,
    matrix,
    perRoute,
    agreement: queries.length ? agree / queries.length : 0,
    usage: summary.usage,
    durationMs: performance.now() - started,
  };
}

/** The routing table as text. */
export function renderRoutingReport(report: RoutingReport): string {
  const rows = ROUTES.map((expected) => {
    const row = report.matrix[expected];
    const n = Object.values(row).reduce((a, b) => a + b, 0);
    return [expected, ...ROUTED.map((c) => row[c]), n, percent(row[expected], n)];
  });
  rows.push(["all", ...ROUTED.map((c) => report.perRoute[c]), report.total - report.failed, percent(report.agreement * report.total, report.total)]);
  return renderTable(["expected \\ routed", ...ROUTED, "queries", "agreement"], rows as Array<Array<string | number>>);
}

async function runOnce(name: string, input: unknown, runOptions: RunOptions | undefined) {
  const started = performance.now();
  let output: Record<string, unknown> = {};
  let usage = emptyUsage();
  for await (const event of streamWorkflow(name, input, runOptions)) {
    if (event.type === "result") {
      output = event.output;
      usage = event.usage;
    }
  }
  return { output, usage, durationMs: performance.now() - started };
}

function clip(text: unknown, max = 160): string {
  const s = String(text ?? "").replace(/\s+/g, " ").trim();
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** Runs the main job and prints its report (see the module doc). */
export async function runMainJob(options: MainJobOptions = {}): Promise<{ routing: RoutingReport; data: MainJobData }> {
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const dir = resolveDataDir(options.dataDir);
  const data = dir ? loadPublicData(dir) : loadSamples();
  const provider = resolveModelSettings("default", { configurable: options.runOptions?.configurable ?? {} }).provider;
  const limit = options.limit ?? (provider === "offline" ? undefined : PROVIDER_DEFAULT_LIMIT);
  print(
    data.samples
      ? `llm-workflows main job: no data directory found (set --data-dir or LLM_WORKFLOWS_DATA); running on the shipped sample set ${data.source}`
      : `llm-workflows main job on the public data in ${data.source} (model: ${provider})`,
  );

  const queries = evenlySpaced(data.supportQueries, limit);
  print(`\n1. supportRouting (routing) on ${queries.length} of ${data.supportQueries.length} ${data.samples ? "sample" : "Banking77"} queries, batch mode, concurrency ${options.concurrency ?? DEFAULT_BATCH_CONCURRENCY}`);
  const routing = await routeQueries(queries, options);
  print(renderRoutingReport(routing));
  print(
    `agreement with routes.json: ${percent(routing.agreement * routing.total, routing.total)} (fallback counts as disagreement); ` +
      `${routing.failed} failed; ${formatDuration(routing.durationMs)}, ${formatUsage(routing.usage)}` +
      (provider === "offline" ? "\n(offline model: lexical matching against the category definitions, a smoke figure, not a model's accuracy)" : ""),
  );

  const reviews = evenlySpaced(data.reviews, REVIEW_SAMPLE);
  const labels = {
    positive: "praise: good, great, excellent, love, works well, recommend, happy",
    negative: "complaint: bad, poor, broken, waste, disappointed, fails, stopped working",
  };
  const steps: Array<{ title: string; name: string; input: Record<string, unknown>; show: (o: Record<string, unknown>) => string[] }> = [
    {
      title: `contentPipeline (prompt chaining) on "${data.article.topic}"`,
      name: "contentPipeline",
      input: data.article,
      show: (o) => (o.stopReason ? [`stopped after ${o.stoppedAfter}: ${o.stopReason}`] : [`final: ${clip(o.final, 300)}`]),
    },
    {
      title: `bulkClassification (parallelization) on ${reviews.length} Amazon review sentences`,
      name: "bulkClassification",
      input: { items: reviews.map((r) => r.text), labels: Object.keys(labels), labelDescriptions: labels },
      show: (o) => {
        const results = o.results as Array<{ label: string }>;
        const agree = results.filter((r, i) => r.label === reviews[i].label).length;
        return [`agreement with the sentiment labels: ${agree}/${results.length} (${percent(agree, results.length)})`];
      },
    },
    {
      title: data.samples
        ? "sectionedAnalysis (parallelization: sectioning) on a sample customer message"
        : `sectionedAnalysis (parallelization: sectioning) on a customer message made of the first Bitext requests of intents ${CUSTOMER_MESSAGE_INTENTS.join(", ")}`,
      name: "sectionedAnalysis",
      input: { text: data.customerMessage },
      show: (o) => [`message: ${clip(data.customerMessage)}`, `report: ${clip(o.report, 300)}`],
    },
    {
      title: "votingClassification (parallelization: voting) on one review sentence",
      name: "votingClassification",
      input: { text: reviews[0]?.text ?? "", labels: Object.keys(labels), labelDescriptions: labels, voters: 5 },
      show: (o) => [`"${clip(reviews[0]?.text)}" (labelled ${reviews[0]?.label}): winner ${o.winner}, votes ${JSON.stringify(o.counts)}`],
    },
    {
      title: "researchAssistant (orchestrator-workers) on the Requests docs",
      name: "researchAssistant",
      input: data.research,
      show: (o) => [`task: ${data.research.task}`, `subtasks: ${JSON.stringify(o.subtasks)}`, `synthesis: ${clip(o.synthesis, 300)}`],
    },
    {
      title: data.samples
        ? "multiIntentSupport (orchestrator-workers, typed workers) on a sample multi-request message"
        : `multiIntentSupport (orchestrator-workers, typed workers) on a message made of the first Bitext requests with an entity of intents ${MULTI_INTENT_INTENTS.join(", ")}`,
      name: "multiIntentSupport",
      input: { message: data.multiIntentMessage, reviewBeforeSend: false },
      show: (o) => {
        const outcomes = o.outcomes as Array<{ type: string; status: string; detail: string }>;
        return [
          `message: ${clip(data.multiIntentMessage)}`,
          ...outcomes.map((t) => `${t.type} -> ${t.status}: ${clip(t.detail, 120)}`),
          `unhandled: ${JSON.stringify(o.unhandled)}; sent: ${JSON.stringify(o.sent)}`,
        ];
      },
    },
    {
      title: "iterativeRefinement (evaluator-optimizer) on the Requests timeout docs",
      name: "iterativeRefinement",
      input: data.refinement,
      show: (o) => [
        `scores by iteration: ${JSON.stringify((o.attempts as Array<{ score: number }>).map((a) => a.score))}; stopped on ${o.stopReason}`,
        `final: ${clip(o.final, 300)}`,
      ],
    },
  ];
  let n = 2;
  for (const step of steps) {
    print(`\n${n++}. ${step.title}`);
    const { output, usage, durationMs } = await runOnce(step.name, step.input, options.runOptions);
    for (const line of step.show(output)) print(`   ${line}`);
    print(`   ${formatDuration(durationMs)}, ${formatUsage(usage)}`);
  }
  return { routing, data };
}

