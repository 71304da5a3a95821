/**
 * LangGraph's own run option `maxConcurrency` with 10 `Send` tasks: how many results come back
 * (1.4.18 and 1.7.3: none at 1). `node --import tsx bench/prototypes/langgraphMaxConcurrency.ts LABEL`.
 */
import { StateGraph, StateSchema, Send, START, END, ReducedValue } from "@langchain/langgraph";
import { z } from "zod";
const State = new StateSchema({ n: z.number(), out: new ReducedValue(z.array(z.number()).default(() => []), { reducer: (a: number[], b: number[]) => a.concat(b) }) });
const g = new StateGraph(State)
  .addNode("w", async (p: any) => ({ out: [p.i] }))
  .addConditionalEdges(START, (s: any) => Array.from({ length: s.n }, (_, i) => new Send("w", { i })), ["w"])
  .addEdge("w", END)
  .compile();
for (const mc of [1, 2, undefined]) {
  const r: any = await g.invoke({ n: 10 }, mc ? { maxConcurrency: mc } : {});
  console.log(process.argv[2] ?? "installed", "maxConcurrency", mc, "->", r.out.length, "results");
}
