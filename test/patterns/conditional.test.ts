import { MemorySaver, NodeTimeoutError, StateGraph, StateSchema, START, END } from "@langchain/langgraph";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { GraphDefinitionError } from "../../src/runtime/errors.js";
import {
  buildGuard,
  buildIfThenElse,
  buildSwitchCase,
  guardFields,
  guardNodeName,
  switchTarget,
  type GuardedStep,
} from "../../src/patterns/control/conditional.js";
import { appendList } from "../../src/patterns/core/policies.js";
import { examplesA } from "../../graphs/examples/compositionAndControl.js";

/** A step that never answers: only its timeout ends it. */
const hang = () => new Promise<never>(() => {});
/** Generous, so that the steps that do answer never hit it, even on a loaded machine. */
const TIMEOUT_MS = 200;

const State = new StateSchema({
  value: z.string().default(""),
  stock: z.number().default(0),
  fail: z.boolean().default(false),
  log: appendList(z.string()),
  ...guardFields,
});
type S = typeof State.State;

const note = (text: string) => (s: S) => {
  if (s.fail) throw new Error(`${text} failed`);
  return { log: [text] };
};

// ---------------------------------------------------------------- if-then-else

describe("buildIfThenElse", () => {
  const build = (extra: Partial<Parameters<typeof buildIfThenElse<S>>[0]> = {}) =>
    buildIfThenElse<S>({
      state: State,
      condition: (s) => s.stock > 0,
      then: { name: "order", run: note("ordered") },
      else: { name: "notify", run: note("notified") },
      retryPolicy: false,
      ...extra,
    }).compile();

  it("runs `then` when the condition holds and `else` otherwise", async () => {
    expect((await build().invoke({ stock: 3 })).log).toEqual(["ordered"]);
    expect((await build().invoke({ stock: 0 })).log).toEqual(["notified"]);
  });

  it("ends the run when the condition is false and there is no else", async () => {
    const graph = build({ else: undefined });
    expect((await graph.invoke({ stock: 0 })).log).toEqual([]);
  });

  it("fails with the branch's error, or its timeout; the fallback replaces either", async () => {
    await expect(build().invoke({ stock: 1, fail: true })).rejects.toThrow("ordered failed");
    const slow = { name: "order", run: () => hang() };
    await expect(build({ then: slow, timeoutMs: TIMEOUT_MS }).invoke({ stock: 1 })).rejects.toBeInstanceOf(NodeTimeoutError);
    const out = await build({ then: slow, timeoutMs: TIMEOUT_MS, fallback: (e, _s, node) => ({ log: [`${node}: ${e.name}`] }) }).invoke({ stock: 1 });
    expect(out.log).toEqual(["order: NodeTimeoutError"]);
  });

  it("rejects two branches with one name", () => {
    expect(() => build({ else: { name: "order", run: note("x") } })).toThrow(GraphDefinitionError);
  });
});

// ---------------------------------------------------------------- switch-case

describe("buildSwitchCase", () => {
  const branches = { express: note("express"), standard: note("standard"), review: note("review") };
  const build = (extra: Partial<Parameters<typeof buildSwitchCase<S>>[0]> = {}) =>
    buildSwitchCase<S>({ state: State, select: (s) => s.value, branches, default: "review", retryPolicy: false, ...extra }).compile();

  it("routes a value to the branch of that name", async () => {
    expect((await build().invoke({ value: "express" })).log).toEqual(["express"]);
    expect((await build().invoke({ value: "standard" })).log).toEqual(["standard"]);
  });

  it("routes any other value (and null) to the default branch", async () => {
    expect((await build().invoke({ value: "overnight" })).log).toEqual(["review"]);
    expect((await build({ select: () => null }).invoke({})).log).toEqual(["review"]);
  });

  it("maps values to branches with `cases` (several values per branch), others to the default", async () => {
    const graph = build({ cases: { urgent: "express", high: "express", normal: "standard" } });
    expect((await graph.invoke({ value: "high" })).log).toEqual(["express"]);
    expect((await graph.invoke({ value: "normal" })).log).toEqual(["standard"]);
    expect((await graph.invoke({ value: "express" })).log).toEqual(["review"]);
    expect(switchTarget(2, ["a", "b"], { "2": "b" }, "a")).toBe("b");
  });

  it("fails with the branch's error; the fallback replaces it", async () => {
    await expect(build().invoke({ value: "express", fail: true })).rejects.toThrow("express failed");
    const out = await build({ fallback: (e) => ({ log: [`handled: ${e.message}`] }) }).invoke({ value: "express", fail: true });
    expect(out.log).toEqual(["handled: express failed"]);
  });

  describe("rejects bad definitions when the graph is built", () => {
    it("no default", () => {
      expect(() => build({ default: undefined as any })).toThrow(/a switch needs a default branch/);
    });
    it("a default or a case naming no branch", () => {
      expect(() => build({ default: "nowhere" })).toThrow(/the default "nowhere" is not a branch/);
      expect(() => build({ cases: { urgent: "expres", normal: "standard" } })).toThrow(/case "urgent" goes to "expres", which is not a branch/);
    });
    it("a branch no case chooses", () => {
      expect(() => build({ cases: { urgent: "express" } })).toThrow(/no case chooses branch "standard"/);
    });
    it("no branches, a reserved or field name", () => {
      expect(() => build({ branches: {}, default: "x" })).toThrow(/at least one branch/);
      expect(() => build({ branches: { ...branches, value: note("v") } })).toThrow(/also a state field/);
      expect(() => build({ branches: { ...branches, "a:b": note("v") } })).toThrow(/reserves/);
    });
  });
});

// ---------------------------------------------------------------- guard

describe("buildGuard", () => {
  const steps = (): GuardedStep<S>[] => [
    { name: "reserve", run: (s) => ({ stock: s.stock - 1, log: ["reserved"] }), guard: (s) => (s.stock > 0 ? null : "out of stock") },
    { name: "charge", run: note("charged") },
    { name: "ship", run: note("shipped"), guard: (s) => (s.value === "blocked" ? "shipping blocked" : undefined) },
  ];
  const build = (extra: Partial<Parameters<typeof buildGuard<S>>[0]> = {}) =>
    buildGuard<S>({ state: State, steps: steps(), retryPolicy: false, ...extra }).compile();

  it("runs every step whose guard passes", async () => {
    const out = await build().invoke({ stock: 2 });
    expect(out.log).toEqual(["reserved", "charged", "shipped"]);
    expect(out.stopReason).toBeNull();
    expect(out.stoppedBefore).toBeNull();
  });

  it("ends the run with the reason of the first guard that fails; nothing after it runs", async () => {
    const first = await build().invoke({ stock: 0 });
    expect(first.log).toEqual([]);
    expect(first).toMatchObject({ stopReason: "out of stock", stoppedBefore: "reserve" });
    const later = await build().invoke({ stock: 1, value: "blocked" });
    expect(later.log).toEqual(["reserved", "charged"]);
    expect(later).toMatchObject({ stopReason: "shipping blocked", stoppedBefore: "ship" });
  });

  it("clears the previous run's reason on a thread", async () => {
    const graph = buildGuard<S>({ state: State, steps: steps() }).compile({ checkpointer: new MemorySaver() });
    const config = { configurable: { thread_id: "g" } };
    expect((await graph.invoke({ stock: 0 }, config)).stopReason).toBe("out of stock");
    expect((await graph.invoke({ stock: 1 }, config)).stopReason).toBeNull();
  });

  it("fails with a step's error; with a fallback, the next guard still decides", async () => {
    await expect(build().invoke({ stock: 1, fail: true })).rejects.toThrow("charged failed");
    const out = await build({ fallback: (e, _s, node) => ({ log: [`${node} fell back`], value: "blocked" }) }).invoke({ stock: 1, fail: true });
    expect(out.log).toEqual(["reserved", "charge fell back"]);
    expect(out).toMatchObject({ stopReason: "shipping blocked", stoppedBefore: "ship" });
  });

  it("times a step out with timeoutMs", async () => {
    const s = steps();
    s[1] = { name: "charge", run: () => hang() };
    await expect(buildGuard<S>({ state: State, steps: s, timeoutMs: TIMEOUT_MS, retryPolicy: false }).compile().invoke({ stock: 1 })).rejects.toBeInstanceOf(NodeTimeoutError);
  });

  it("embeds as a subgraph node", async () => {
    const inner = build();
    const outer = new StateGraph(State).addNode("checkout", inner).addEdge(START, "checkout").addEdge("checkout", END).compile();
    expect((await outer.invoke({ stock: 0 })).stopReason).toBe("out of stock");
  });

  describe("rejects bad definitions when the graph is built", () => {
    it("duplicate names, a step named like a guard node, no steps", () => {
      expect(() => build({ steps: [...steps(), { name: "charge", run: note("again") }] })).toThrow(/"charge" is used twice/);
      expect(() => build({ steps: [...steps(), { name: guardNodeName("reserve"), run: note("x") }] })).toThrow(/"guard_reserve" is used twice/);
      expect(() => build({ steps: [] })).toThrow(/at least one step/);
    });
    it("a guard without guardFields in the state", () => {
      const Bare = new StateSchema({ stock: z.number() });
      expect(() => buildGuard<any>({ state: Bare, steps: [{ name: "a", run: () => ({}), guard: () => null }] })).toThrow(/spread guardFields/);
    });
  });
});

it("the example graphs run", async () => {
  expect((await examplesA.ifThenElse.invoke({ item: "pen", quantity: 2, stock: 5 })).outcome).toBe("ordered 2 x pen");
  expect((await examplesA.switchCase.invoke({ item: "pen", quantity: 1, priority: "someday" })).outcome).toBe("pen: held for review (priority someday)");
  expect((await examplesA.guard.invoke({ item: "pen", quantity: 20, stock: 50 })).stopReason).toBe("orders above 10 need approval");
});
