/** The core builders' `fallback` option: once retries are spent, the node's fallback update replaces its error. */
import { describe, expect, it } from "vitest";
import { StateSchema } from "@langchain/langgraph";
import { z } from "zod";
import { buildPromptChain, chainFields } from "../../src/patterns/workflow/promptChain.js";
import { buildRouter } from "../../src/patterns/workflow/router.js";
import { buildParallelMap } from "../../src/patterns/workflow/parallel.js";
import { FanOutFailedError, indexedResults } from "../../src/patterns/core/fanOut.js";
import { buildDag } from "../../src/patterns/composition/dag.js";
import { buildSectioning, keyedResults } from "../../src/patterns/workflow/parallel.js";
import { ReducedValue } from "@langchain/langgraph";

const State = new StateSchema({ text: z.string().default(""), out: z.string().default(""), ...chainFields });
type S = typeof State.State;

describe("fallback option of the core builders", () => {
  it("a chain step that keeps failing writes its fallback, and the chain goes on", async () => {
    let attempts = 0;
    const graph = buildPromptChain<S>({
      state: State,
      retryPolicy: { maxAttempts: 3, initialInterval: 1, jitter: false, retryOn: () => true, logWarning: false },
      steps: [
        { name: "flaky", run: () => { attempts++; throw new Error("provider down"); } },
        { name: "next", run: (s) => ({ out: `${s.text}+next` }) },
      ],
      fallback: (error, _state, node) => ({ text: `fallback of ${node}: ${error.message}` }),
    }).compile();
    const out = await graph.invoke({});
    expect(attempts).toBe(3); // the retries come first
    expect(out.out).toBe("fallback of flaky: provider down+next");
  });

  it("without a fallback the error fails the run", async () => {
    const graph = buildPromptChain<S>({ state: State, retryPolicy: false, steps: [{ name: "bad", run: () => { throw new Error("nope"); } }] }).compile();
    await expect(graph.invoke({})).rejects.toThrow("nope");
  });

  it("a router's node fallback covers its classifier and handlers", async () => {
    const graph = buildRouter<S>({
      state: State,
      retryPolicy: false,
      classifier: { name: "classify", run: () => { throw new Error("classifier down"); } },
      decision: (s) => ({ route: s.text === "x" ? "x" : null }),
      routes: { x: () => ({ out: "x" }) },
      fallback: { name: "fallback_route", run: (_s, _c, reason) => ({ out: `fallback route: ${reason}` }) },
      nodeFallback: () => ({ text: "" }),
    }).compile();
    expect((await graph.invoke({})).out).toBe("fallback route: the classifier returned no route");
  });

  it("after a fallback, a join waits for the failed node's other parents (a DAG node fed by two depths)", async () => {
    // a -> c and b -> d -> c: a fails in the first superstep, d finishes in the second; c must see both.
    const Log = new StateSchema({ log: new ReducedValue(z.array(z.string()).default(() => []), { inputSchema: z.array(z.string()), reducer: (a: string[], b: string[]) => a.concat(b) }) });
    const ran: string[] = [];
    const graph = buildDag<typeof Log.State>({
      state: Log,
      retryPolicy: false,
      nodes: {
        a: { run: () => { throw new Error("a is down"); } },
        b: { run: () => ({ log: ["b"] }) },
        d: { run: () => ({ log: ["d"] }), dependsOn: ["b"] },
        c: { run: (s) => (ran.push(`c saw ${[...s.log].sort().join(",")}`), { log: ["c"] }), dependsOn: ["a", "d"] },
      },
      fallback: (error, _s, node) => ({ log: [`${node} fell back: ${error.message}`] }),
    }).compile();
    const out = await graph.invoke({});
    expect(ran).toEqual(["c saw a fell back: a is down,b,d"]);
    expect(out.log).toContain("c");
  });

  it("a section's fallback joins the aggregator once, with the other sections", async () => {
    const Sections = new StateSchema({ parts: keyedResults(z.string()), report: z.string().default(""), note: z.string().default("") });
    let aggregations = 0;
    const graph = buildSectioning<typeof Sections.State, string>({
      state: Sections,
      retryPolicy: false,
      sections: { one: () => "1", two: () => { throw new Error("two is down"); }, three: () => "3" },
      sectionsKey: "parts",
      aggregator: { name: "aggregate", run: (s) => (aggregations++, { report: `${Object.keys(s.parts).sort().join("+")} / ${s.note}` }) },
      fallback: (error) => ({ note: error.message }),
    }).compile();
    expect((await graph.invoke({})).report).toBe("one+three / two is down");
    expect(aggregations).toBe(1);
  });

  it("does not wrap fan-out workers (their failures are for minSuccesses)", async () => {
    const MapState = new StateSchema({ items: z.array(z.number()), done: indexedResults(z.number()), results: z.array(z.number().nullable()).default(() => []) });
    const graph = buildParallelMap<typeof MapState.State, number, undefined, number>({
      state: MapState,
      retryPolicy: false,
      items: (s) => s.items,
      worker: { name: "work", run: (n) => { if (n === 2) throw new Error("two"); return n; } },
      resultsKey: "done",
      collect: (results) => ({ results }),
      fallback: () => ({}),
    }).compile();
    const error = await graph.invoke({ items: [1, 2, 3] }).catch((e) => e);
    expect(error).toBeInstanceOf(FanOutFailedError); // not replaced by the fallback
    expect(error.message).toContain("two");
    expect(error.partial).toEqual([1, undefined, 3]);
  });
});
