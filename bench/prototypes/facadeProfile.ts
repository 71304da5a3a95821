/**
 * Profiling aid for section 6: runs one kind (`invoke` or `facade`) of the
 * 100-node chain or the 1,000-branch fan-out many times, to be run under
 * `node --cpu-prof --import tsx bench/prototypes/facadeProfile.ts KIND SHAPE [SAVER] [RUNS]`.
 */
import { randomUUID } from "node:crypto";
import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import { executeGraph, graphFor, lastResult } from "../../src/facade.js";
import { getWorkflow } from "../../graphs/index.js";
import { openCheckpointer } from "../../src/runtime/checkpointer.js";
import { chainWorkflow } from "../nodeOverhead.js";
import { benchItems, prepareProcess, simulatedModel } from "../common.js";

const [kind = "facade", shape = "chain", saverKind = "none", runsText = "40"] = process.argv.slice(2);
prepareProcess();
const model = simulatedModel({ quick: false, seed: 1 }, { meanMs: 0, spreadMs: 0 });
const configurable = { modelOverride: model };
const chain = chainWorkflow(100);
const bulk = getWorkflow("bulkClassification");
const definition = shape === "chain" ? chain.definition : bulk;
const input = shape === "chain" ? chain.definition.input!.parse({ topic: "t" }) : bulk.input.parse({ items: benchItems(1000) });
const saver = saverKind === "memory" ? (await openCheckpointer("memory")).saver : undefined;
const graph = graphFor(definition, saver);
const started = performance.now();
for (let i = 0; i < Number(runsText); i++) {
  model.reset();
  if (kind === "invoke") await graph.invoke(input, { configurable: { ...configurable, ...(saver ? { thread_id: randomUUID() } : {}) }, recursionLimit: 200 } as LangGraphRunnableConfig);
  else await lastResult(executeGraph(definition, input, { configurable, recursionLimit: 200, ...(saver ? { checkpointer: saver, threadId: randomUUID() } : {}) }));
}
console.log(`${kind} ${shape} ${saverKind}: ${((performance.now() - started) / Number(runsText)).toFixed(1)} ms per run`);
