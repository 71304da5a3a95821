/**
 * Prototype (not part of the suite): the fan-out workarounds of the README's
 * performance section, against the same baseline as section 1, in one process.
 *
 * ```sh
 * node --import tsx bench/prototypes/fanOutWorkarounds.ts N LIMIT|none [REPS] [--no-current]
 * MAX_LANES=64 ISOLATE=1 node --max-old-space-size=16000 --import tsx bench/prototypes/fanOutWorkarounds.ts 10000 none 1 --no-current
 * ```
 *
 * Cases: `baseline` (Promise.all / a promise pool), `current` (bulkClassification
 * through runWorkflow) and `currentInvoke` (its compiled graph), `lgMaxConcurrency`
 * (the compiled graph with LangGraph's run-level maxConcurrency = the limit, or
 * MAX_LANES when unbounded), `lanes` (at most min(N, limit ?? MAX_LANES) Send
 * tasks, each taking a strided share of the items: in order when limited,
 * with Promise.all otherwise; ISOLATE=1 gives each item call its own
 * AbortSignal.any([config.signal])).
 */
import { performance } from "node:perf_hooks";
import { END, Overwrite, START, Send, StateGraph, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { benchItems, median, prepareProcess, promisePool, simulatedModel } from "../common.js";
import { BulkInput, BulkOutput, BulkState, classifyItem, DEFAULT_LABELS, definition } from "../../graphs/bulkClassification.js";
import { runWorkflow } from "../../src/facade.js";
import { orderedResults } from "../../src/patterns/core/fanOut.js";
import { DEFAULT_RETRY_POLICY } from "../../src/runtime/retry.js";

prepareProcess();
const MAX_LANES = Number(process.env.MAX_LANES ?? 64);
const ISOLATE = process.env.ISOLATE === "1";

interface Lane {
  items: string[];
  indexes: number[];
  context: { labels: string[]; labelDescriptions: Record<string, string> };
  sequential: boolean;
}

function lanesGraph() {
  const g: any = new StateGraph(BulkState as any, { input: BulkInput, output: BulkOutput } as any);
  g.setNodeDefaults({ retryPolicy: DEFAULT_RETRY_POLICY });
  g.addNode("dispatch", () => ({ classified: new Overwrite([]) }));
  g.addNode("classify_lane", async (lane: Lane, config: LangGraphRunnableConfig) => {
    const run = (k: number) =>
      classifyItem(lane.items[k], lane.indexes[k], lane.context, ISOLATE && config.signal ? { ...config, signal: AbortSignal.any([config.signal]) } : config).then(
        (value) => ({ index: lane.indexes[k], value }),
      );
    const out = lane.sequential ? await promisePool(lane.items, 1, (_item, k) => run(k)) : await Promise.all(lane.items.map((_item, k) => run(k)));
    return { classified: out };
  });
  g.addNode("collect", (s: any) => ({ results: orderedResults(s.classified, s.items.length, "classify_lane") }));
  g.addEdge(START, "dispatch");
  g.addConditionalEdges(
    "dispatch",
    (s: any) => {
      const n = s.items.length;
      if (!n) return "collect";
      const lanes = Math.min(n, s.maxConcurrency ?? MAX_LANES);
      const context = { labels: s.labels, labelDescriptions: s.labelDescriptions };
      return Array.from({ length: lanes }, (_, l) => {
        const indexes: number[] = [];
        for (let i = l; i < n; i += lanes) indexes.push(i);
        return new Send("classify_lane", { items: indexes.map((i) => s.items[i]), indexes, context, sequential: s.maxConcurrency !== undefined } satisfies Lane);
      });
    },
    ["classify_lane", "collect"],
  );
  g.addEdge("classify_lane", "collect");
  g.addEdge("collect", END);
  return g.compile();
}

const [nArg, limitArg, repsArg] = process.argv.slice(2);
const withCurrent = !process.argv.includes("--no-current");
const n = Number(nArg);
const limit = limitArg === undefined || limitArg === "none" ? null : Number(limitArg);
const reps = Number(repsArg ?? 2);
const lanes = lanesGraph();
const model = simulatedModel({ quick: false, seed: 1 });
const configurable = { modelOverride: model };
const context = { labels: DEFAULT_LABELS, labelDescriptions: {} };
const call = (item: string, i: number) => classifyItem(item, i, context, { configurable } as any);
const items = benchItems(n);
const input = limit === null ? { items } : { items, maxConcurrency: limit };
await lanes.invoke({ items: benchItems(20) }, { configurable });
await runWorkflow("bulkClassification", { items: benchItems(20) }, { configurable });
const cases: Record<string, () => Promise<unknown>> = {
  baseline: () => (limit === null ? Promise.all(items.map(call)) : promisePool(items, limit, call)),
  ...(withCurrent
    ? {
        current: () => runWorkflow("bulkClassification", input, { configurable }),
        currentInvoke: () => definition.graph.invoke(input, { configurable }),
      }
    : {}),
  lgMaxConcurrency: () => definition.graph.invoke(input, { configurable, maxConcurrency: Math.max(2, limit ?? MAX_LANES) }),
  lanes: () => lanes.invoke(input, { configurable }),
};
const times: Record<string, number[]> = {};
for (let r = 0; r < reps; r++) {
  const names = Object.keys(cases);
  if (r % 2) names.reverse();
  for (const name of names) {
    model.reset();
    const started = performance.now();
    await cases[name]();
    (times[name] ??= []).push(performance.now() - started);
    if (model.stats.calls !== n) throw new Error(`${name} made ${model.stats.calls} calls for ${n} items`);
  }
}
const base = median(times.baseline);
console.log(`N=${n} limit=${limit ?? "none"} ` + Object.entries(times).map(([k, v]) => `${k}=${median(v).toFixed(0)} ms (${(median(v) / base).toFixed(2)}x)`).join(" "));
