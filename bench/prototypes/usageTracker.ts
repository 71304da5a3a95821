/**
 * Prototype (not part of the suite): what the facade's UsageTracker costs per
 * fan-out task on the run's callbacks, and attached to the model calls only.
 *
 * ```sh
 * node --import tsx bench/prototypes/usageTracker.ts [N]
 * ```
 */
import { performance } from "node:perf_hooks";
import { benchItems, median, prepareProcess, simulatedModel } from "../common.js";
import { classifyItem, DEFAULT_LABELS, definition } from "../../graphs/bulkClassification.js";
import { UsageTracker } from "../../src/runtime/usage.js";

prepareProcess();
const n = Number(process.argv[2] ?? 200);
const items = benchItems(n);
const context = { labels: DEFAULT_LABELS, labelDescriptions: {} };
const drain = async (s: AsyncIterable<unknown>) => {
  for await (const _ of s);
};
const model = simulatedModel({ quick: false, seed: 1 }, { meanMs: 0, spreadMs: 0 });
const stream = (m: unknown, callbacks?: unknown[]) =>
  definition.graph.stream({ items }, { configurable: { modelOverride: m }, streamMode: ["values", "tasks"], ...(callbacks ? { callbacks } : {}) } as any);
const cases: Record<string, () => Promise<unknown>> = {
  baseline: () => Promise.all(items.map((item, i) => classifyItem(item, i, context, { configurable: { modelOverride: model } } as any))),
  noTracker: async () => drain(await stream(model)),
  trackerOnRun: async () => {
    const tracker = new UsageTracker();
    await drain(await stream(model, [tracker]));
    if (tracker.total.calls !== n) throw new Error(`counted ${tracker.total.calls} calls`);
  },
  trackerOnModel: async () => {
    const tracker = new UsageTracker();
    const tracked = simulatedModel({ quick: false, seed: 1 }, { meanMs: 0, spreadMs: 0, callbacks: [tracker] });
    await drain(await stream(tracked));
    if (tracker.total.calls !== n || tracker.byTask.size !== n) throw new Error(`counted ${tracker.total.calls} calls in ${tracker.byTask.size} tasks`);
  },
};
const times: Record<string, number[]> = {};
for (let rep = 0; rep < 14; rep++) {
  const names = Object.keys(cases);
  if (rep % 2) names.reverse();
  for (const name of names) {
    const started = performance.now();
    await cases[name]();
    if (rep >= 2) (times[name] ??= []).push(performance.now() - started);
  }
}
const base = median(times.baseline);
for (const [k, v] of Object.entries(times)) console.log(`${k.padEnd(16)} ${median(v).toFixed(1).padStart(8)} ms ${(((median(v) - base) * 1000) / n).toFixed(0).padStart(6)} us per item over the baseline`);
