import { END, MemorySaver, ReducedValue, START, StateSchema, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { buildDag, checkDependencies, dagGenerations, dagLeaves, findCycle, type DagNode } from "../../src/patterns/composition/dag.js";
import { GraphDefinitionError } from "../../src/runtime/errors.js";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A log every node appends to ("name@step"), and per-node values. */
const State = new StateSchema({
  log: new ReducedValue(z.array(z.string()).default(() => []), { inputSchema: z.array(z.string()), reducer: (a: string[], b: string[]) => a.concat(b) }),
  values: new ReducedValue(z.record(z.string(), z.number()).default(() => ({})), {
    inputSchema: z.record(z.string(), z.number()),
    reducer: (a: Record<string, number>, b: Record<string, number>) => ({ ...a, ...b }),
  }),
});
type State = typeof State.State;

/** A node that logs its name and superstep, optionally after a delay. */
function logNode(name: string, opts: { delayMs?: number; value?: number } = {}): DagNode<State>["run"] {
  return async (_state: State, config: LangGraphRunnableConfig) => {
    if (opts.delayMs) await sleep(opts.delayMs);
    return { log: [`${name}@${config.metadata?.langgraph_step}`], values: { [name]: opts.value ?? 1 } };
  };
}

const stepOf = (log: string[], name: string) => Number(log.find((l) => l.startsWith(`${name}@`))!.split("@")[1]);

describe("checkDependencies / findCycle", () => {
  it("names the cycle in execution order", () => {
    const deps = { a: ["c"], b: ["a"], c: ["b"] };
    expect(findCycle(deps)).toEqual(["a", "b", "c", "a"]);
    expect(() => checkDependencies(deps)).toThrow(GraphDefinitionError);
    expect(() => checkDependencies(deps)).toThrow("buildDag: dependency cycle: a -> b -> c -> a");
  });

  it("names a cycle that does not include the first node, and a self-dependency", () => {
    expect(findCycle({ root: [], x: ["root", "y"], y: ["x"] })).toEqual(["x", "y", "x"]);
    expect(() => checkDependencies({ a: [], b: ["b"] })).toThrow("dependency cycle: b -> b");
  });

  it("finds no cycle in a diamond", () => {
    expect(findCycle({ a: [], b: ["a"], c: ["a"], d: ["b", "c"] })).toBeUndefined();
  });

  it("names an unknown dependency and the node that lists it", () => {
    expect(() => checkDependencies({ a: [], b: ["a", "nope"] })).toThrow(/node "b" depends on unknown node "nope"; the nodes are: a, b/);
  });

  it("rejects a dependency listed twice", () => {
    expect(() => checkDependencies({ a: [], b: ["a", "a"] })).toThrow(/node "b" lists dependency "a" twice/);
  });

  it("gives the generations (longest path from a root) and the leaves", () => {
    const deps = { a: [], b: [], c: ["a"], d: ["b", "c"], e: ["a"] };
    expect(dagGenerations(deps)).toEqual([["a", "b"], ["c", "e"], ["d"]]);
    expect(dagLeaves(deps)).toEqual(["d", "e"]);
  });
});

describe("buildDag at build time", () => {
  const run = logNode("x");

  it("throws GraphDefinitionError naming the cycle before anything runs", () => {
    let ran = false;
    const nodes = {
      extract: { run: () => ((ran = true), {}), dependsOn: ["build"] },
      map: { run, dependsOn: ["extract"] },
      build: { run, dependsOn: ["map"] },
    };
    expect(() => buildDag<State>({ state: State, nodes })).toThrow(/dependency cycle: extract -> map -> build -> extract/);
    expect(ran).toBe(false);
  });

  it("throws GraphDefinitionError naming an unknown dependency", () => {
    expect(() => buildDag<State>({ state: State, nodes: { extract: { run }, map: { run, dependsOn: ["extrct"] } } })).toThrow(
      /node "map" depends on unknown node "extrct"/,
    );
  });

  it("rejects no nodes and reserved names", () => {
    expect(() => buildDag<State>({ state: State, nodes: {} })).toThrow(GraphDefinitionError);
    expect(() => buildDag<State>({ state: State, nodes: { [START]: { run } } })).toThrow(/invalid node name/);
    expect(() => buildDag<State>({ state: State, nodes: { [END]: { run } } })).toThrow(/invalid node name/);
  });

  it("wires START to the roots, a join edge for several dependencies, and the leaves to END", () => {
    const graph = buildDag<State>({
      state: State,
      nodes: { a: { run }, b: { run }, c: { run, dependsOn: ["a"] }, d: { run, dependsOn: ["b", "c"] }, e: { run, dependsOn: ["a"] } },
    }).compile();
    const edges = graph.getGraph().edges.map((e) => `${e.source}->${e.target}`).sort();
    expect(edges).toEqual(["__start__->a", "__start__->b", "a->c", "a->e", "b->d", "c->d", "d->__end__", "e->__end__"].sort());
  });
});

describe("buildDag at run time", () => {
  it("runs independent nodes in the same superstep, each node in the superstep of its generation", async () => {
    const nodes = {
      a: { run: logNode("a", { delayMs: 5 }) },
      b: { run: logNode("b") },
      c: { run: logNode("c"), dependsOn: ["a"] },
      e: { run: logNode("e", { delayMs: 3 }), dependsOn: ["a"] },
      d: { run: logNode("d"), dependsOn: ["b", "c"] },
    };
    const graph = buildDag<State>({ state: State, nodes }).compile();
    const { log } = await graph.invoke({});
    expect(log).toHaveLength(5);
    const first = stepOf(log, "a");
    expect(stepOf(log, "b")).toBe(first);
    expect(stepOf(log, "c")).toBe(first + 1);
    expect(stepOf(log, "e")).toBe(first + 1);
    expect(stepOf(log, "d")).toBe(first + 2);
    const generations = dagGenerations({ a: [], b: [], c: ["a"], e: ["a"], d: ["b", "c"] });
    generations.forEach((names, g) => names.forEach((n) => expect(stepOf(log, n)).toBe(first + g)));
  });

  it("runs the nodes of one generation concurrently", async () => {
    // Each node waits until all three are running (a barrier, not a delay): run one at a
    // time, the first would be released by the safety timer alone and maxActive would be 1.
    let active = 0;
    let maxActive = 0;
    let allIn!: () => void;
    const barrier = new Promise<void>((resolve) => (allIn = resolve));
    const safety = setTimeout(() => allIn(), 2000);
    const busy = (name: string) => async () => {
      maxActive = Math.max(maxActive, ++active);
      if (active === 3) allIn();
      await barrier;
      active--;
      return { log: [name] };
    };
    const graph = buildDag<State>({ state: State, nodes: { a: { run: busy("a") }, b: { run: busy("b") }, c: { run: busy("c") } } }).compile();
    await graph.invoke({});
    clearTimeout(safety);
    expect(maxActive).toBe(3);
  });

  it("a join waits for all its parents, the slow one included, and runs once", async () => {
    const seen: Array<Record<string, number>> = [];
    const graph = buildDag<State>({
      state: State,
      nodes: {
        fast: { run: logNode("fast", { value: 1 }) },
        slow: { run: logNode("slow", { delayMs: 40, value: 2 }) },
        deeper: { run: logNode("deeper", { value: 3 }), dependsOn: ["fast"] },
        join: {
          run: (s: State) => {
            seen.push({ ...s.values });
            return { log: ["join"] };
          },
          dependsOn: ["slow", "deeper", "fast"],
        },
      },
    }).compile();
    const out = await graph.invoke({});
    expect(seen).toEqual([{ fast: 1, slow: 2, deeper: 3 }]);
    expect(out.log.filter((l: string) => l === "join")).toHaveLength(1);
  });

  it("fires the join again on a thread's second run (the barrier resets)", async () => {
    let joins = 0;
    const graph = buildDag<State>({
      state: State,
      nodes: { a: { run: logNode("a") }, b: { run: logNode("b") }, c: { run: () => ((joins++), { log: ["c"] }), dependsOn: ["a", "b"] } },
    }).compile({ checkpointer: new MemorySaver() });
    const config = { configurable: { thread_id: "dag-twice" } };
    await graph.invoke({}, config);
    await graph.invoke({}, config);
    expect(joins).toBe(2);
  });

  it("a throwing node fails the run with its error and its dependents do not run", async () => {
    let downstream = 0;
    const graph = buildDag<State>({
      state: State,
      nodes: {
        ok: { run: logNode("ok") },
        broken: {
          run: () => {
            throw new Error("extraction failed");
          },
        },
        after: { run: () => ((downstream++), {}), dependsOn: ["broken", "ok"] },
      },
      retryPolicy: false,
    }).compile();
    await expect(graph.invoke({})).rejects.toThrow("extraction failed");
    expect(downstream).toBe(0);
  });

  it("retries a node by its retry policy, per node when it sets its own", async () => {
    let attempts = 0;
    const graph = buildDag<State>({
      state: State,
      nodes: {
        flaky: {
          run: () => {
            if (++attempts < 3) throw Object.assign(new Error("service unavailable"), { status: 503 });
            return { log: ["flaky"] };
          },
          retryPolicy: { maxAttempts: 3, initialInterval: 1, jitter: false, retryOn: () => true, logWarning: false },
        },
      },
      retryPolicy: false,
    }).compile();
    expect((await graph.invoke({})).log).toEqual(["flaky"]);
    expect(attempts).toBe(3);
  });

  it("times a node out with timeoutMs (graph-wide, or the node's own)", async () => {
    const slow = logNode("slow", { delayMs: 500 });
    const graphWide = buildDag<State>({ state: State, nodes: { slow: { run: slow } }, timeoutMs: 30, retryPolicy: false }).compile();
    // The error names the node and the timeout that fired (ms), so no clock is read here.
    await expect(graphWide.invoke({})).rejects.toMatchObject({ name: "NodeTimeoutError", node: "slow", kind: "run", timeout: 30 });
    const ownTimeout = buildDag<State>({
      state: State,
      nodes: { quick: { run: logNode("quick") }, slow: { run: slow, timeoutMs: 30, dependsOn: ["quick"] } },
      timeoutMs: 10_000,
      retryPolicy: false,
    }).compile();
    await expect(ownTimeout.invoke({})).rejects.toMatchObject({ name: "NodeTimeoutError", node: "slow", kind: "run", timeout: 30 });
  });
});
