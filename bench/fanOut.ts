/**
 * Section 1, fan-out: the bulkClassification workflow (through `runWorkflow`)
 * over N items vs the same model calls made with plain `Promise.all` (the
 * asyncio.gather in the sources' examples), unbounded and with a concurrency limit (baseline: a
 * plain promise pool). Both run in the same process on the same simulated
 * latencies (the simulated model keys each call's latency by its prompt).
 *
 * @module
 */
import { performance } from "node:perf_hooks";
import { classifyItem, DEFAULT_LABELS } from "../graphs/bulkClassification.js";
import { runWorkflow } from "../src/facade.js";
import { DEFAULT_MAX_WORKER_TASKS } from "../src/patterns/core/fanOut.js";
import {
  benchItems,
  fmt,
  median,
  ms,
  poolFloor,
  prepareProcess,
  promisePool,
  ratio,
  ratioSpread,
  reportProgress,
  spread,
  verdict,
  simulatedModel,
  timed,
  type BenchOptions,
  type SectionReport,
  type Table,
  type Target,
} from "./common.js";

/** Concurrency limits measured: null is unbounded. */
export const FAN_OUT_LIMITS: Array<number | null> = [null, 8, 64];
/** The target: the workflow at most this many times the baseline. */
export const FAN_OUT_TARGET = 1.05;
/** Largest growth of the time per item between the two largest N (at a fixed limit) still called linear. */
export const LINEAR_TOLERANCE = 1.15;

/** N and repetitions per mode. */
export function fanOutPlan(opts: BenchOptions): Array<{ n: number; reps: number }> {
  return opts.quick
    ? [
        { n: 10, reps: 2 },
        { n: 100, reps: 1 },
        { n: 200, reps: 1 },
      ]
    : [
        { n: 10, reps: 11 },
        { n: 100, reps: 9 },
        { n: 1_000, reps: 7 },
        { n: 10_000, reps: 3 },
      ];
}

/**
 * Time budget of one workflow run: twice the baseline's time, at least 30 s.
 * A run over it is stopped (its signal aborts) and reported as "over the
 * budget", a lower bound: the target is missed either way, and a quadratic run
 * at N = 10,000 would otherwise take the whole benchmark's time.
 */
export function runBudgetMs(baselineMs: number): number {
  return Math.ceil(Math.max(30_000, 2 * baselineMs));
}

/** One concurrency mode's figures for one N (`maxRssMiB` is filled in by the runner when it stops the process). */
export interface FanOutMode {
  limit: number | null;
  graphMs: number[];
  baselineMs: number[];
  /** Set when a workflow run went over its budget: `graphMs` then holds the budget (a lower bound). */
  overBudget?: boolean;
  /** Pure-latency floor of the drawn delays for this mode (no CPU time). */
  floorMs: number;
  calls: number;
  /** Whether the graph's calls drew exactly the baseline's delays. */
  sameLatencies: boolean;
  /** Peak heap used after the graph runs, MiB. */
  heapMiB: number;
  /** Peak RSS of the process (one process per mode in full mode), MiB. */
  maxRssMiB: number;
}

/** Job (a child process per N and limit in full mode): the given modes for one N. */
export async function fanOutJob(params: { n: number; reps: number; seed: number; limits?: Array<number | null> }): Promise<{ n: number; modes: FanOutMode[] }> {
  prepareProcess();
  const opts = { quick: false, seed: params.seed };
  const model = simulatedModel(opts);
  const configurable = { modelOverride: model };
  const context = { labels: DEFAULT_LABELS, labelDescriptions: {} };
  const call = (item: string, index: number) => classifyItem(item, index, context, { configurable } as any);
  const progress = (message: string) => process.stderr.write(`    N=${params.n} ${message}\n`);

  // Warm-up: module initialisation and JIT on a small fan-out of both kinds.
  const warm = benchItems(20);
  await Promise.all(warm.map(call));
  await runWorkflow("bulkClassification", { items: warm, maxConcurrency: 8 }, { configurable });
  await runWorkflow("bulkClassification", { items: warm }, { configurable });

  const items = benchItems(params.n);
  const modes: FanOutMode[] = [];
  for (const limit of params.limits ?? FAN_OUT_LIMITS) {
    const mode: FanOutMode = { limit, graphMs: [], baselineMs: [], floorMs: 0, calls: 0, sameLatencies: true, heapMiB: 0, maxRssMiB: 0 };
    let baselineDelay: number | undefined;
    // A limited run of many rounds is latency-bound and long (125 s at N = 10,000, limit 8): fewer repetitions.
    const reps = limit !== null && limit * 100 < params.n ? Math.min(params.reps, params.n >= 10_000 ? 1 : 3) : params.reps;
    for (let rep = 0; rep < reps && !mode.overBudget; rep++) {
      const order = rep % 2 === 0 ? (["baseline", "graph"] as const) : (["graph", "baseline"] as const);
      for (const kind of order) {
        model.reset();
        if (kind === "baseline") {
          const { ms: t } = await timed(() => (limit === null ? Promise.all(items.map(call)) : promisePool(items, limit, call)));
          mode.baselineMs.push(t);
          mode.floorMs = poolFloor(model.stats.delays, limit ?? items.length);
        } else {
          const input = limit === null ? { items } : { items, maxConcurrency: limit };
          const budget = runBudgetMs(mode.baselineMs.length ? median(mode.baselineMs) : 60_000);
          const signal = AbortSignal.timeout(budget);
          reportProgress(budget, { n: params.n, modes: [...modes, { ...mode, overBudget: true, graphMs: [...mode.graphMs, budget] }] });
          const started = performance.now();
          try {
            const value = await runWorkflow<{ results: unknown[] }>("bulkClassification", input, { configurable, signal });
            if (value.results.length !== items.length) throw new Error(`bulkClassification returned ${value.results.length} of ${items.length} results`);
            mode.graphMs.push(performance.now() - started);
            reportProgress(null);
          } catch (error) {
            if (!signal.aborted) throw error;
            mode.overBudget = true;
            mode.graphMs.push(budget);
            progress(`${limitLabel(limit)}: workflow stopped after its budget of ${(budget / 1000).toFixed(0)} s (${model.stats.calls} of ${items.length} calls done)`);
            break;
          }
          mode.heapMiB = Math.max(mode.heapMiB, process.memoryUsage().heapUsed / 2 ** 20);
        }
        progress(`${limitLabel(limit)} ${kind}: ${(kind === "baseline" ? mode.baselineMs : mode.graphMs).at(-1)!.toFixed(0)} ms`);
        if (model.stats.calls !== items.length) throw new Error(`${kind} made ${model.stats.calls} calls for ${items.length} items`);
        mode.calls = model.stats.calls;
        if (baselineDelay === undefined) baselineDelay = model.stats.totalDelayMs;
        else if (baselineDelay !== model.stats.totalDelayMs) mode.sameLatencies = false;
      }
    }
    mode.maxRssMiB = process.resourceUsage().maxRSS / 1024;
    modes.push(mode);
  }
  return { n: params.n, modes };
}

const limitLabel = (limit: number | null) => (limit === null ? "unbounded" : `maxConcurrency ${limit}`);

/** The section's report from every N's job result. */
export function fanOutReport(results: Array<{ n: number; modes: FanOutMode[] }>, opts: BenchOptions): SectionReport {
  const rows: Table["rows"] = [];
  const targets: Target[] = [];
  for (const { n, modes } of results) {
    for (const m of modes) {
      const g = median(m.graphMs);
      const b = median(m.baselineMs);
      const pairs = spread(m.graphMs.map((x, i) => x / m.baselineMs[i]).filter(Number.isFinite));
      const r = pairs.median;
      const v = m.overBudget ? "missed" : verdict(pairs, FAN_OUT_TARGET);
      const over = m.overBudget ? "> " : "";
      rows.push([
        n.toLocaleString("en-US"),
        limitLabel(m.limit),
        ms(m.floorMs),
        ms(b),
        `${over}${ms(g)}`,
        `${over}${ratio(g / b)}`,
        `${over}${ratioSpread(pairs)}`,
        `${over}${ratio(Math.min(...m.graphMs) / Math.min(...m.baselineMs))}`,
        v,
        ratio(b / m.floorMs),
        m.overBudget ? "-" : m.sameLatencies ? "yes" : "NO",
        `${fmt(m.maxRssMiB, 0)} MiB`,
        m.graphMs.length,
      ]);
      targets.push({
        section: 1,
        what: `fan-out N=${n.toLocaleString("en-US")}, ${limitLabel(m.limit)}: workflow / baseline`,
        target: `<= ${FAN_OUT_TARGET}x`,
        value: `${over}${m.graphMs.length > 1 ? ratioSpread(pairs) : ratio(r)}${v === "undecided" ? ", undecided" : ""}${m.graphMs.length === 1 ? " (1 run)" : ""}`,
        met: v === "met",
      });
    }
  }
  // Linearity: time per item at a fixed limit, between the two largest N.
  const linearRows: Table["rows"] = [];
  const ns = results.map((r) => r.n);
  for (const limit of FAN_OUT_LIMITS.filter((l) => l !== null)) {
    const perItem = results.map((r) => {
      const m = r.modes.find((x) => x.limit === limit)!;
      return { n: r.n, graph: median(m.graphMs) / r.n, baseline: median(m.baselineMs) / r.n };
    });
    const [prev, last] = perItem.slice(-2);
    const growth = last.graph / prev.graph;
    const lastOver = results.at(-1)!.modes.find((x) => x.limit === limit)!.overBudget ? "> " : "";
    const baseGrowth = last.baseline / prev.baseline;
    // Below about 10 rounds of the limit a run is mostly its first and last round: not the linear regime.
    const inRegime = prev.n >= 10 * limit!;
    linearRows.push([
      limitLabel(limit),
      ...perItem.map((p, i) => `${i === perItem.length - 1 ? lastOver : ""}${fmt(p.graph, 2)} (${fmt(p.baseline, 2)})`),
      `${lastOver}${ratio(growth)}`,
      ratio(baseGrowth),
      inRegime ? (growth <= LINEAR_TOLERANCE ? "met" : "missed") : `n/a (N=${prev.n} < 10 x ${limit})`,
    ]);
    if (inRegime) {
      targets.push({
        section: 1,
        what: `fan-out ${limitLabel(limit)}: time per item, N=${prev.n.toLocaleString("en-US")} -> ${last.n.toLocaleString("en-US")} (linear in N)`,
        target: `growth <= ${LINEAR_TOLERANCE}x`,
        value: `${lastOver}${ratio(growth)}`,
        met: growth <= LINEAR_TOLERANCE,
      });
    }
  }
  const unbounded = results.map((r) => {
    const m = r.modes.find((x) => x.limit === null)!;
    return { n: r.n, over: m.overBudget ? "> " : "", graphPerItemMs: (median(m.graphMs) - m.floorMs) / r.n, baselinePerItemMs: (median(m.baselineMs) - m.floorMs) / r.n };
  });
  return {
    section: 1,
    title: "Fan-out: bulkClassification vs Promise.all / a promise pool",
    method:
      `bulkClassification through \`runWorkflow\` (at most ${DEFAULT_MAX_WORKER_TASKS} \`classify_item\` Send tasks, each a batch of items, under the project's per-fan-out limiter for maxConcurrency) ` +
      `against the same \`classifyItem\` calls made with plain \`Promise.all\` (unbounded) or a plain promise pool of the same size, ` +
      `in the same process, alternating which runs first; simulated model ${opts.quick ? "" : ""}100 ms +/- 30 ms per call (seed ${opts.seed}), fixed answers, ` +
      `500 input / 50 output tokens per call. Times are medians of the repetitions; each pair of runs gives a ratio, reported as median and interquartile range, and a target is met when the median and the upper quartile are both within it (undecided when only the median is; \`best runs\`: the fastest workflow run over the fastest baseline run); the latency floor is the drawn delays alone (max, or list scheduling for a pool). ` +
      `A workflow run is stopped after twice its baseline's time (at least 30 s): \`>\` marks such a lower bound. Peak RSS is the measuring process's.`,
    tables: [
      {
        title: "Wall time per run (ms)",
        columns: ["N", "concurrency", "latency floor", "baseline", "workflow", "medians' ratio", "workflow / baseline per pair (IQR)", "best runs", `target <= ${FAN_OUT_TARGET}x`, "baseline / floor", "same latencies", "peak RSS", "reps"],
        rows,
      },
      {
        title: `Time per item at a fixed limit, workflow (baseline), ms; growth between N=${ns.slice(-2).map((n) => n.toLocaleString("en-US")).join(" and ")}`,
        columns: ["concurrency", ...ns.map((n) => `N=${n.toLocaleString("en-US")}`), "workflow growth", "baseline growth", `linear (<= ${LINEAR_TOLERANCE}x)`],
        rows: linearRows,
      },
      {
        title: "Unbounded: CPU time per item above the latency floor (ms)",
        columns: ["N", "workflow", "baseline", "workflow - baseline per item"],
        rows: unbounded.map((u) => [u.n.toLocaleString("en-US"), u.over + fmt(u.graphPerItemMs, 3), fmt(u.baselinePerItemMs, 3), u.over + fmt(u.graphPerItemMs - u.baselinePerItemMs, 3)]),
      },
    ],
    notes: [],
    targets,
    raw: results,
  };
}
