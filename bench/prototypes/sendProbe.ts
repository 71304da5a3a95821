/** Probe: one pattern's graph at N, zero-latency vs 100 ms model, to split CPU from waiting. */
import { performance } from "node:perf_hooks";
import { SimulatedChatModel } from "../../src/models/simulated.js";
import { benchItems, prepareProcess } from "../common.js";
prepareProcess();
const { makeCaseForProbe } = await import("../sendPatterns.js");
const [pattern = "parallel map", n = "10", mean = "0"] = process.argv.slice(2);
const model = new SimulatedChatModel({ seed: 1, meanMs: Number(mean), spreadMs: 0, content: "fixed" });
const c = makeCaseForProbe(pattern as any, benchItems(Number(n)), model);
for (let i = 0; i < 3; i++) await c.graph.invoke(c.input);
for (let i = 0; i < 5; i++) {
  model.reset();
  let t = performance.now();
  await c.graph.invoke(c.input);
  const g = performance.now() - t;
  model.reset();
  t = performance.now();
  await c.baseline();
  console.log(`graph ${g.toFixed(1)} ms, baseline ${(performance.now() - t).toFixed(1)} ms`);
}
