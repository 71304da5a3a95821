/**
 * Section 7, every fan-out pattern against plain `Promise.all` over the same
 * calls: parallel map, orchestrator-workers, map-reduce (map, then one reduce
 * round over groups of 10), scatter-gather (`best` mode) and fork-join, each
 * built with its builder and run with the compiled graph's `.invoke`, against
 * the same model calls made with `Promise.all` in the same process, on the
 * same simulated latencies (100 ms +/- 30 ms), N = 10 ... 10,000, graph and
 * baseline alternating. Fork-join's branches are declared nodes (one task
 * each, not batchable): it runs up to N = 1,000.
 *
 * @module
 */
import { StateSchema, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import { buildParallelMap } from "../src/patterns/workflow/parallel.js";
import { buildOrchestratorWorkers } from "../src/patterns/workflow/orchestratorWorkers.js";
import { buildMapReduce, groupByTokens, mapReduceFields } from "../src/patterns/composition/mapReduce.js";
import { buildScatterGather, scatterGatherFields } from "../src/patterns/composition/scatterGather.js";
import { buildForkJoin, forkJoinFields } from "../src/patterns/composition/forkJoin.js";
import { indexedResults } from "../src/patterns/core/fanOut.js";
import type { SimulatedChatModel } from "../src/models/simulated.js";
import { benchItems, fmt, median, ms, prepareProcess, ratio, ratioSpread, reportProgress, simulatedModel, spread, timed, verdict, type BenchOptions, type SectionReport, type Table, type Target } from "./common.js";

export const SEND_TARGET = 1.05;
export const SEND_LINEAR_TOLERANCE = 1.15;
/** Largest N fork-join runs at (one LangGraph task per declared branch: quadratic beyond). */
export const FORK_JOIN_MAX_N = 1_000;
export const SEND_PATTERNS = ["parallel map", "orchestrator-workers", "map-reduce", "scatter-gather", "fork-join"] as const;
export type SendPattern = (typeof SEND_PATTERNS)[number];

/** N and repetitions. */
export function sendPatternsPlan(opts: BenchOptions): Array<{ n: number; reps: number }> {
  return opts.quick
    ? [
        { n: 10, reps: 3 },
        { n: 100, reps: 3 },
        { n: 1_000, reps: 2 },
      ]
    : [
        { n: 10, reps: 11 },
        { n: 100, reps: 9 },
        { n: 1_000, reps: 7 },
        { n: 10_000, reps: 3 },
      ];
}

export interface SendRow {
  pattern: SendPattern;
  n: number;
  graphMs: number[];
  baselineMs: number[];
  /** Latency floor: the longest drawn delay of the baseline's calls (map-reduce: map's longest + reduce's longest). */
  floorMs: number;
  calls: number;
  sameLatencies: boolean;
}

const text = (m: { content: unknown }) => (typeof m.content === "string" ? m.content : JSON.stringify(m.content));
const call = (model: SimulatedChatModel, prompt: string, config?: LangGraphRunnableConfig) => model.invoke(prompt, config?.signal ? { signal: config.signal } : undefined).then(text);
const GROUP = 10;

interface Case {
  graph: { invoke: (input: any, config?: any) => Promise<any> };
  input: unknown;
  baseline: () => Promise<unknown>;
  check: (out: any) => boolean;
  calls: number;
}

export { makeCase as makeCaseForProbe };
function makeCase(pattern: SendPattern, items: string[], model: SimulatedChatModel): Case {
  const n = items.length;
  const work = (item: string, config?: LangGraphRunnableConfig) => call(model, `Summarize: ${item}`, config);
  switch (pattern) {
    case "parallel map": {
      const State = new StateSchema({ items: z.array(z.string()), mapped: indexedResults(z.string()), results: z.array(z.string()).default(() => []) });
      const graph = buildParallelMap<typeof State.State, string, undefined, string>({
        state: State,
        items: (s) => s.items,
        worker: { name: "work", run: (item, _i, _c, config) => work(item, config) },
        resultsKey: "mapped",
        collect: (results) => ({ results }),
      }).compile();
      return { graph, input: { items }, baseline: () => Promise.all(items.map((i) => work(i))), check: (o) => o.results.length === n, calls: n };
    }
    case "orchestrator-workers": {
      const State = new StateSchema({ items: z.array(z.string()), subtasks: z.array(z.string()).default(() => []), findings: indexedResults(z.string()), count: z.number().default(0) });
      const graph = buildOrchestratorWorkers<typeof State.State, string, undefined, string>({
        state: State,
        orchestrator: { name: "plan", run: (s) => ({ subtasks: s.items }) },
        subtasks: (s) => s.subtasks,
        worker: { name: "research", run: (t, _i, _c, config) => work(t, config) },
        resultsKey: "findings",
        synthesizer: { name: "synthesize", run: (_s, results) => ({ count: results.length }) },
      }).compile();
      return { graph, input: { items }, baseline: async () => (await Promise.all(items.map((i) => work(i)))).length, check: (o) => o.count === n, calls: n };
    }
    case "map-reduce": {
      const State = new StateSchema({ items: z.array(z.string()), ...mapReduceFields });
      const reduce = (group: string[], config?: LangGraphRunnableConfig) => call(model, `Combine: ${group.join(" | ")}`, config);
      const graph = buildMapReduce<typeof State.State>({
        state: State,
        split: (s) => s.items,
        map: { name: "map_chunk", run: (chunk, _i, _c, config) => work(chunk, config) },
        reduce: { name: "reduce_group", run: (group, _i, _c, config) => reduce(group, config) },
        tokenBudget: () => Number.MAX_SAFE_INTEGER,
        groupTokenBudget: () => GROUP,
        countTokens: () => 1,
        maxRounds: () => 1,
      }).compile();
      const groups = Math.ceil(n / GROUP);
      return {
        graph,
        input: { items },
        baseline: async () => {
          const mapped = await Promise.all(items.map((i) => work(i)));
          return Promise.all(groupByTokens(mapped, GROUP, () => 1).map((g) => reduce(g)));
        },
        check: (o) => o.levels.length === 2 && o.levels[0] === n && o.levels[1] === groups,
        calls: n + (n > 1 ? groups : 0),
      };
    }
    case "scatter-gather": {
      const State = new StateSchema({ items: z.array(z.string()), answer: z.string().default(""), ...scatterGatherFields });
      const services = Object.fromEntries(items.map((item, i) => [`s${i}`, (_s: unknown, signal: AbortSignal) => model.invoke(`Summarize: ${item}`, { signal }).then(text)]));
      const graph = buildScatterGather<typeof State.State, string>({
        state: State,
        mode: "best",
        services,
        score: (r) => r.length,
        gather: (_s, outcome) => ({ answer: outcome.result }),
      }).compile();
      return {
        graph,
        input: { items },
        baseline: async () => {
          const settled = await Promise.allSettled(items.map((i) => work(i)));
          return settled.reduce((best, r) => (r.status === "fulfilled" && r.value.length > best.length ? r.value : best), "");
        },
        check: (o) => Object.keys(o.scatterScores).length === n,
        calls: n,
      };
    }
    case "fork-join": {
      const State = new StateSchema({ items: z.array(z.string()), count: z.number().default(0), ...forkJoinFields(z.string()) });
      const branches = Object.fromEntries(items.map((item, i) => [`b${i}`, (_s: unknown, config: LangGraphRunnableConfig) => work(item, config)]));
      const graph = buildForkJoin<typeof State.State, string>({
        state: State,
        branches,
        join: { name: "join", run: (_s, results) => ({ count: Object.keys(results).length }) },
      }).compile();
      return { graph, input: { items }, baseline: () => Promise.all(items.map((i) => work(i))), check: (o) => o.count === n, calls: n };
    }
  }
}

/** Job (a child process per N in full mode): every pattern at one N. */
export async function sendPatternsJob(params: { n: number; reps: number; seed: number; patterns?: SendPattern[] }): Promise<SendRow[]> {
  prepareProcess();
  const model = simulatedModel({ quick: false, seed: params.seed });
  const items = benchItems(params.n);
  const rows: SendRow[] = [];
  const progress = (message: string) => process.stderr.write(`    N=${params.n} ${message}\n`);
  for (const pattern of params.patterns ?? SEND_PATTERNS) {
    if (pattern === "fork-join" && params.n > FORK_JOIN_MAX_N) continue;
    const c = makeCase(pattern, items, model);
    // Warm-up on 20 items of the same shape (JIT), then the timed runs.
    const warm = makeCase(pattern, benchItems(20), model);
    await warm.graph.invoke(warm.input, { recursionLimit: 100 });
    await warm.baseline();
    const row: SendRow = { pattern, n: params.n, graphMs: [], baselineMs: [], floorMs: 0, calls: c.calls, sameLatencies: true };
    let delay: number | undefined;
    reportProgress(600_000 * Math.max(1, params.reps));
    for (let rep = 0; rep < params.reps; rep++) {
      const order = rep % 2 === 0 ? (["baseline", "graph"] as const) : (["graph", "baseline"] as const);
      for (const kind of order) {
        model.reset();
        if (kind === "baseline") {
          row.baselineMs.push((await timed(c.baseline)).ms);
          const d = model.stats.delays;
          row.floorMs = pattern === "map-reduce" ? Math.max(...d.slice(0, params.n)) + (d.length > params.n ? Math.max(...d.slice(params.n)) : 0) : Math.max(...d);
        } else {
          const { ms: t, value } = await timed(() => c.graph.invoke(c.input, { recursionLimit: 100 }));
          if (!c.check(value)) throw new Error(`${pattern} N=${params.n}: the graph's output is incomplete`);
          row.graphMs.push(t);
        }
        if (model.stats.calls !== c.calls) throw new Error(`${pattern} ${kind} made ${model.stats.calls} calls, expected ${c.calls}`);
        if (delay === undefined) delay = model.stats.totalDelayMs;
        else if (delay !== model.stats.totalDelayMs) row.sameLatencies = false;
      }
    }
    reportProgress(null);
    progress(`${pattern}: graph ${ms(median(row.graphMs))} ms, baseline ${ms(median(row.baselineMs))} ms`);
    rows.push(row);
  }
  return rows;
}

/** The section's report. */
export function sendPatternsReport(rows: SendRow[], opts: BenchOptions): SectionReport {
  const targets: Target[] = [];
  const table: Table["rows"] = [];
  for (const r of rows) {
    const ratios = r.graphMs.map((g, i) => g / r.baselineMs[i]);
    const s = spread(ratios);
    const v = verdict(s, SEND_TARGET);
    table.push([
      r.pattern,
      r.n.toLocaleString("en-US"),
      ms(r.floorMs),
      `${ms(median(r.baselineMs))} (${ms(Math.min(...r.baselineMs))}-${ms(Math.max(...r.baselineMs))})`,
      `${ms(median(r.graphMs))} (${ms(Math.min(...r.graphMs))}-${ms(Math.max(...r.graphMs))})`,
      ratioSpread(s),
      `${fmt(s.min)}-${fmt(s.max)}`,
      v,
      r.sameLatencies ? "yes" : "NO",
      r.graphMs.length,
    ]);
    targets.push({
      section: 7,
      what: `${r.pattern} N=${r.n.toLocaleString("en-US")}: graph / Promise.all`,
      target: `<= ${SEND_TARGET}x (median and upper quartile)`,
      value: `${ratioSpread(s)}${v === "undecided" ? ", undecided" : ""}`,
      met: v === "met",
    });
  }
  // Time per item above the latency floor, between the two largest N each pattern ran.
  const linear: Table["rows"] = [];
  for (const pattern of SEND_PATTERNS) {
    const mine = rows.filter((r) => r.pattern === pattern).sort((a, b) => a.n - b.n);
    if (mine.length < 2) continue;
    const [prev, last] = mine.slice(-2);
    const per = (r: SendRow, xs: number[]) => (median(xs) - r.floorMs) / r.n;
    const growth = per(last, last.graphMs) / per(prev, prev.graphMs);
    const baseGrowth = per(last, last.baselineMs) / per(prev, prev.baselineMs);
    const inRegime = prev.n >= 1_000;
    linear.push([
      pattern,
      `${prev.n.toLocaleString("en-US")} -> ${last.n.toLocaleString("en-US")}`,
      `${fmt(per(prev, prev.graphMs), 3)} -> ${fmt(per(last, last.graphMs), 3)}`,
      `${fmt(per(prev, prev.baselineMs), 3)} -> ${fmt(per(last, last.baselineMs), 3)}`,
      ratio(growth),
      ratio(baseGrowth),
      inRegime ? (growth <= SEND_LINEAR_TOLERANCE ? "met" : "missed") : "n/a (below N = 1,000)",
    ]);
    if (inRegime) {
      targets.push({
        section: 7,
        what: `${pattern}: time per item above the latency floor, N=${prev.n.toLocaleString("en-US")} -> ${last.n.toLocaleString("en-US")} (flat)`,
        target: `growth <= ${SEND_LINEAR_TOLERANCE}x`,
        value: ratio(growth),
        met: growth <= SEND_LINEAR_TOLERANCE,
      });
    }
  }
  return {
    section: 7,
    title: "Every fan-out pattern vs Promise.all",
    method:
      `Each pattern built with its builder and run with the compiled graph's \`.invoke\` (default options: the parallel map, orchestrator-workers and map-reduce send at most 64 tasks, each a batch of items beyond that), ` +
      `against the same model calls made with plain \`Promise.all\` (scatter-gather: \`Promise.allSettled\`, then the best score; map-reduce: the map calls, then one reduce call per group of ${GROUP}) in the same process, ` +
      `simulated model 100 ms +/- 30 ms per call (seed ${opts.seed}), fixed answers; graph and baseline alternate which runs first. ` +
      `Run times as median (min-max), ms; the ratio is per pair of runs, median and interquartile range; a target is met when the median and the upper quartile are both within it. ` +
      `The latency floor is the longest drawn delay (map-reduce: the longest map delay plus the longest reduce delay). ` +
      `Fork-join's branches are declared nodes, one LangGraph task each, which the builder cannot batch: it runs up to N = ${FORK_JOIN_MAX_N.toLocaleString("en-US")}. Scatter-gather calls its services inside one node.`,
    tables: [
      {
        title: "Wall time per run (ms)",
        columns: ["pattern", "N", "latency floor", "Promise.all", "graph", "graph / Promise.all", "min-max", `target <= ${SEND_TARGET}x`, "same latencies", "pairs"],
        rows: table,
      },
      {
        title: "Time per item above the latency floor (ms), between the two largest N",
        columns: ["pattern", "N", "graph", "Promise.all", "graph growth", "Promise.all growth", `flat (<= ${SEND_LINEAR_TOLERANCE}x)`],
        rows: linear,
      },
    ],
    notes: [],
    targets,
    raw: rows,
  };
}
