/**
 * Section 4, calls and wall time per run of each core pattern: a measured
 * version of *Lesson 05: Workflow Patterns*'s "Cost and Performance" table. Each workflow runs through
 * the facade on the simulated model with the offline model's answers (so it
 * takes its usual path: gates, routes, planned subtasks, refinement rounds),
 * against the same node functions called as plain async code in the same
 * process on the same latencies.
 *
 * @module
 */
import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import { classifyItem, definition as bulk } from "../graphs/bulkClassification.js";
import { contentGate, createOutline, definition as content, polishContent, writeDraft } from "../graphs/contentPipeline.js";
import { evaluateDraft, generateDraft, definition as refinement } from "../graphs/iterativeRefinement.js";
import { planSubtasks, researchSubtask, synthesizeFindings, definition as research } from "../graphs/researchAssistant.js";
import {
  CATEGORY_NAMES,
  classifyQuery,
  FALLBACK_ROUTE,
  handleBilling,
  handleFallback,
  handleGeneral,
  handleTechnical,
  definition as support,
} from "../graphs/supportRouting.js";
import { lastResult, streamWorkflow } from "../src/facade.js";
import { stopReasonOf } from "../src/patterns/workflow/evaluatorOptimizer.js";
import { DEFAULT_CONFIDENCE_THRESHOLD, selectRoute } from "../src/patterns/workflow/router.js";
import { benchItems, median, ms, prepareProcess, ratio, simulatedModel, timed, type BenchOptions, type SectionReport, type Table } from "./common.js";

/** Items of the bulkClassification run. */
export const PATTERN_ITEMS = 10;

type Plain = (config: LangGraphRunnableConfig) => Promise<unknown>;
interface PatternCase {
  pattern: string;
  workflow: string;
  input: Record<string, unknown>;
  plain: Plain;
  /** The critical path of the drawn delays, given in call order. */
  floor: (delays: number[]) => number;
  seedCalls: string;
  seedLatency: string;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

function cases(): PatternCase[] {
  const contentInput = content.input.parse(content.example) as any;
  const supportInput = support.input.parse(support.example) as any;
  const bulkInput = bulk.input.parse({ ...bulk.example, items: benchItems(PATTERN_ITEMS) }) as any;
  const researchInput = research.input.parse(research.example) as any;
  const refinementInput = refinement.input.parse(refinement.example) as any;
  return [
    {
      pattern: "Chaining",
      workflow: "contentPipeline",
      input: contentInput,
      seedCalls: "N sequential",
      seedLatency: "N x latency",
      floor: sum,
      plain: async (config) => {
        let s = { ...contentInput, outline: "", draft: "", final: "", stopReason: null, stoppedAfter: null };
        s = { ...s, ...(await createOutline(s, config)) };
        if (contentGate(s, "create_outline")) return s;
        s = { ...s, ...(await writeDraft(s, config)) };
        if (contentGate(s, "write_draft")) return s;
        return { ...s, ...(await polishContent(s, config)) };
      },
    },
    {
      pattern: "Routing",
      workflow: "supportRouting",
      input: supportInput,
      seedCalls: "1 + routed path",
      seedLatency: "router + path",
      floor: sum,
      plain: async (config) => {
        const base = { ...supportInput, category: null, confidence: null, route: null, fallbackReason: null, response: "" };
        const s = { ...base, ...(await classifyQuery(base, config)) };
        const { target, reason } = selectRoute({ route: s.category, confidence: s.confidence }, CATEGORY_NAMES, FALLBACK_ROUTE, DEFAULT_CONFIDENCE_THRESHOLD);
        const handlers = { technical: handleTechnical, billing: handleBilling, general: handleGeneral, fallback: handleFallback } as const;
        return handlers[target as keyof typeof handlers](s, config, reason);
      },
    },
    {
      pattern: "Parallelization",
      workflow: "bulkClassification",
      input: bulkInput,
      seedCalls: "N concurrent",
      seedLatency: "max(latencies)",
      floor: (d) => Math.max(...d),
      plain: (config) =>
        Promise.all(bulkInput.items.map((item: string, i: number) => classifyItem(item, i, { labels: bulkInput.labels, labelDescriptions: bulkInput.labelDescriptions }, config))),
    },
    {
      pattern: "Orchestrator-Workers",
      workflow: "researchAssistant",
      input: researchInput,
      seedCalls: "1 + N + 1",
      seedLatency: "orchestrator + max(workers) + synthesis",
      floor: (d) => d[0] + Math.max(...d.slice(1, -1)) + d[d.length - 1],
      plain: async (config) => {
        const base = { ...researchInput, subtasks: [], findings: [], synthesis: "", workerResults: [] };
        const s = { ...base, ...(await planSubtasks(base, config)) };
        const findings = await Promise.all(s.subtasks.map((t: string, i: number) => researchSubtask(t, i, { task: s.task, sources: s.sources }, config)));
        return synthesizeFindings(s, findings, config);
      },
    },
    {
      pattern: "Evaluator-Optimizer",
      workflow: "iterativeRefinement",
      input: refinementInput,
      seedCalls: "2-3 per iteration",
      seedLatency: "2-3 x latency per iteration",
      floor: sum,
      plain: async (config) => {
        let s = { ...refinementInput, iteration: 0, draft: "", score: null, feedback: "", attempts: [], final: "", finalScore: null, stopReason: null, revisedAfter: 0 };
        for (;;) {
          s = { ...s, ...(await generateDraft(s, config)), iteration: s.iteration + 1 };
          s = { ...s, ...(await evaluateDraft(s, config)) };
          if (stopReasonOf(s)) return s;
        }
      },
    },
  ];
}

export interface PatternRow {
  pattern: string;
  workflow: string;
  seedCalls: string;
  seedLatency: string;
  /** Model calls of a workflow run, as the facade's usage tracker counted them. */
  calls: number;
  /** Model calls of the plain run. */
  plainCalls: number;
  /** LangGraph tasks (node executions) of a workflow run. */
  nodes: number;
  inputTokens: number;
  outputTokens: number;
  floorMs: number;
  graphMs: number[];
  plainMs: number[];
  sameLatencies: boolean;
  detail: string;
}

/** Job (child process): each pattern, `reps` times each way. */
export async function patternsJob(params: { reps: number; seed: number }): Promise<PatternRow[]> {
  prepareProcess();
  const model = simulatedModel({ quick: false, seed: params.seed }, { content: "offline" });
  const configurable = { modelOverride: model };
  const config = { configurable } as LangGraphRunnableConfig;
  const rows: PatternRow[] = [];
  for (const c of cases()) {
    // Warm-up (first-call compilation of each code path), then reset the latency draws.
    await c.plain(config);
    await lastResult(streamWorkflow(c.workflow, c.input, { configurable }));
    const row: PatternRow = {
      pattern: c.pattern,
      workflow: c.workflow,
      seedCalls: c.seedCalls,
      seedLatency: c.seedLatency,
      calls: 0,
      plainCalls: 0,
      nodes: 0,
      inputTokens: 0,
      outputTokens: 0,
      floorMs: 0,
      graphMs: [],
      plainMs: [],
      sameLatencies: true,
      detail: "",
    };
    let totalDelay: number | undefined;
    for (let rep = 0; rep < params.reps; rep++) {
      const order = rep % 2 === 0 ? (["plain", "graph"] as const) : (["graph", "plain"] as const);
      for (const kind of order) {
        model.reset();
        if (kind === "plain") {
          row.plainMs.push((await timed(() => c.plain(config))).ms);
          row.plainCalls = model.stats.calls;
          row.floorMs = c.floor(model.stats.delays);
        } else {
          let nodes = 0;
          const { ms: t, value } = await timed(async () => {
            const events = streamWorkflow(c.workflow, c.input, { configurable });
            return lastResult(
              (async function* () {
                for await (const e of events) {
                  if (e.type === "node") nodes += 1;
                  yield e;
                }
              })(),
            );
          });
          row.graphMs.push(t);
          row.calls = value.usage.calls;
          row.inputTokens = value.usage.inputTokens;
          row.outputTokens = value.usage.outputTokens;
          row.nodes = nodes;
          row.detail = describe(c.workflow, value.output);
        }
        if (totalDelay === undefined) totalDelay = model.stats.totalDelayMs;
        else if (totalDelay !== model.stats.totalDelayMs) row.sameLatencies = false;
      }
    }
    rows.push(row);
  }
  return rows;
}

function describe(workflow: string, out: Record<string, any>): string {
  switch (workflow) {
    case "contentPipeline":
      return out.stopReason ? `stopped after ${out.stoppedAfter}` : "outline, draft, polish";
    case "supportRouting":
      return `routed to ${out.route}`;
    case "bulkClassification":
      return `${out.results?.length} items`;
    case "researchAssistant":
      return `${out.subtasks?.length} subtasks`;
    case "iterativeRefinement":
      return `${out.iteration ?? out.attempts?.length} iterations, stopped on ${out.stopReason}`;
    default:
      return "";
  }
}

export function patternsReport(rows: PatternRow[], opts: BenchOptions, reps: number): SectionReport {
  const table: Table = {
    title: "Per run (simulated 100 ms +/- 30 ms per call; 500 input / 50 output tokens per call)",
    columns: [
      "pattern (*Lesson 05: Workflow Patterns*)",
      "workflow",
      "path taken",
      "API calls (seed)",
      "API calls (measured)",
      "node executions",
      "tokens in / out",
      "latency (seed)",
      "critical path of the drawn latencies (ms)",
      "plain async (ms)",
      "workflow (ms)",
      "workflow / plain",
      "workflow / critical path",
    ],
    rows: rows.map((r) => [
      r.pattern,
      r.workflow,
      r.detail,
      r.seedCalls,
      r.calls === r.plainCalls ? String(r.calls) : `${r.calls} (plain: ${r.plainCalls})`,
      r.nodes,
      `${r.inputTokens.toLocaleString("en-US")} / ${r.outputTokens.toLocaleString("en-US")}`,
      r.seedLatency,
      ms(r.floorMs),
      ms(median(r.plainMs)),
      ms(median(r.graphMs)),
      ratio(median(r.graphMs) / median(r.plainMs)),
      ratio(median(r.graphMs) / r.floorMs),
    ]),
  };
  return {
    section: 4,
    title: "Calls and wall time per run of each core pattern (*Lesson 05: Workflow Patterns*'s 'Cost and Performance', measured)",
    method:
      `Each workflow runs through \`streamWorkflow\` on its example input (bulkClassification on ${PATTERN_ITEMS} items) with the simulated model answering like the offline model, ` +
      `so that it takes its usual path; calls and tokens are the facade's usage figures. The baseline is the same node functions as plain async code ` +
      `(sequential, or Promise.all where the workflow fans out), in the same process on the same latencies; the critical path is the drawn delays along the pattern's longest chain of calls. ` +
      `Medians of ${reps} repetitions.`,
    tables: [table],
    notes: rows.filter((r) => !r.sameLatencies || r.calls !== r.plainCalls).map((r) => `${r.workflow}: the workflow and the plain code did not make the same calls.`),
    targets: [],
    raw: rows,
  };
}
