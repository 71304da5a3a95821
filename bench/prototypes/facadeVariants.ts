/**
 * Which part of the facade costs what (section 6): the same compiled graph
 * run as `.invoke`, as `.stream` with stream mode values (+ tasks), with and
 * without the usage tracker in `configurable`, interleaved, zero-latency model.
 * `node --import tsx bench/prototypes/facadeVariants.ts [chain|fan-out] [REPS]`
 */
import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import { graphFor } from "../../src/facade.js";
import { getWorkflow } from "../../graphs/index.js";
import { USAGE_HANDLER_KEY } from "../../src/models/factory.js";
import { UsageTracker } from "../../src/runtime/usage.js";
import { chainWorkflow } from "../nodeOverhead.js";
import { benchItems, median, prepareProcess, simulatedModel, timed } from "../common.js";

const [shape = "chain", repsText = "15"] = process.argv.slice(2);
prepareProcess();
const model = simulatedModel({ quick: false, seed: 1 }, { meanMs: 0, spreadMs: 0 });
const chain = chainWorkflow(100);
const bulk = getWorkflow("bulkClassification");
const definition = shape === "chain" ? chain.definition : bulk;
const input = shape === "chain" ? chain.definition.input!.parse({ topic: "t" }) : bulk.input.parse({ items: benchItems(1000) });
const graph = graphFor(definition);
const drain = async (stream: AsyncIterable<unknown>) => {
  for await (const _ of stream) void _;
};
const variants: Record<string, () => Promise<unknown>> = {
  invoke: () => graph.invoke(input, { configurable: { modelOverride: model }, recursionLimit: 200 } as LangGraphRunnableConfig),
  "stream values": async () => drain(await graph.stream(input, { configurable: { modelOverride: model }, recursionLimit: 200, streamMode: ["values"] } as any)),
  "stream values+tasks": async () => drain(await graph.stream(input, { configurable: { modelOverride: model }, recursionLimit: 200, streamMode: ["values", "tasks"] } as any)),
  "invoke + tracker": () => graph.invoke(input, { configurable: { modelOverride: model, [USAGE_HANDLER_KEY]: new UsageTracker() }, recursionLimit: 200 } as LangGraphRunnableConfig),
  "stream values+tasks + tracker": async () =>
    drain(await graph.stream(input, { configurable: { modelOverride: model, [USAGE_HANDLER_KEY]: new UsageTracker() }, recursionLimit: 200, streamMode: ["values", "tasks"] } as any)),
};
const times: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
for (const v of Object.values(variants)) await v();
const names = Object.keys(variants);
for (let rep = 0; rep < Number(repsText); rep++) {
  const order = rep % 2 ? [...names].reverse() : names;
  for (const k of order) {
    model.reset();
    times[k].push((await timed(variants[k])).ms);
  }
}
const base = median(times.invoke);
for (const k of names) console.log(`${k.padEnd(32)} ${median(times[k]).toFixed(1).padStart(8)} ms  ${(median(times[k]) / base).toFixed(3)}x`);
