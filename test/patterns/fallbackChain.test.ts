import { MemorySaver, StateSchema, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { examples } from "../../graphs/examples/resilienceAndState.js";
import {
  AllStrategiesFailedError,
  buildFallbackChain,
  fallbackFields,
  type FallbackChainOptions,
  type FallbackStrategy,
} from "../../src/patterns/resilience/fallbackChain.js";
import { withRetry } from "../../src/patterns/resilience/retry.js";
import { GraphDefinitionError } from "../../src/runtime/errors.js";

const State = new StateSchema({ question: z.string().default(""), answer: z.string().default(""), ...fallbackFields });
type State = typeof State.State;

const FAST = withRetry({ maxAttempts: 3, initialIntervalMs: 1, maxIntervalMs: 2, jitter: false });

/** A strategy that answers, or throws `error`; counts its calls. */
function strategy(name: string, error?: () => Error, extra: Partial<FallbackStrategy<State>> = {}) {
  const calls = { n: 0 };
  const s: FallbackStrategy<State> = {
    name,
    run: () => {
      calls.n++;
      if (error) throw error();
      return { answer: `${name} answer` };
    },
    ...extra,
  };
  return Object.assign(s, { calls });
}

function build(strategies: FallbackStrategy<State>[], overrides: Partial<FallbackChainOptions<State>> = {}) {
  return buildFallbackChain<State>({ state: State, strategies, retryPolicy: FAST, ...overrides }).compile({ checkpointer: new MemorySaver() });
}
const thread = (id: string) => ({ configurable: { thread_id: id } });

describe("buildFallbackChain", () => {
  it("happy path: the primary succeeds, nothing else runs, no failures", async () => {
    const [a, b] = [strategy("primary"), strategy("secondary")];
    const out = await build([a, b]).invoke({ question: "q" }, thread("ok"));
    expect(out).toMatchObject({ answer: "primary answer", fallbackUsed: "primary", fallbackFailures: [] });
    expect(b.calls.n).toBe(0);
  });

  it("a throwing strategy hands over to the next; the failures are kept in order", async () => {
    const a = strategy("primary", () => new Error("primary down"));
    const b = strategy("secondary", () => new Error("secondary down"));
    const c = strategy("cache");
    const out = await build([a, b, c]).invoke({}, thread("fallback"));
    expect(out.answer).toBe("cache answer");
    expect(out.fallbackUsed).toBe("cache");
    expect(out.fallbackFailures).toEqual([
      { node: "primary", name: "Error", message: "primary down" },
      { node: "secondary", name: "Error", message: "secondary down" },
    ]);
  });

  it("retries a transient failure before falling back; per-strategy retryPolicy applies", async () => {
    const a = strategy("primary", () => Object.assign(new Error("busy"), { status: 503 }));
    const b = strategy("secondary", () => Object.assign(new Error("busy too"), { status: 503 }), { retryPolicy: false });
    const c = strategy("cache");
    const out = await build([a, b, c]).invoke({}, thread("retries"));
    expect(a.calls.n).toBe(3);
    expect(b.calls.n).toBe(1);
    expect(out.fallbackUsed).toBe("cache");
    expect(out.fallbackFailures.map((f: { status?: number }) => f.status)).toEqual([503, 503]);
  });

  it("a result rejected by accept counts as a failure (StrategyRejectedError, not retried)", async () => {
    const a = strategy("primary", undefined, { run: () => ({ answer: "" }), accept: (u) => Boolean(u.answer) || "empty answer" });
    const b = strategy("secondary");
    const out = await build([a, b]).invoke({}, thread("reject"));
    expect(out.fallbackUsed).toBe("secondary");
    expect(out.fallbackFailures).toEqual([expect.objectContaining({ node: "primary", name: "StrategyRejectedError", message: expect.stringContaining("empty answer") })]);
  });

  it("a timeout: the slow strategy fails with NodeTimeoutError and the next one answers", async () => {
    const slow = strategy("primary", undefined, {
      run: async (_s: State, config: LangGraphRunnableConfig) => {
        await new Promise((resolve, reject) => {
          const t = setTimeout(resolve, 10_000);
          config.signal?.addEventListener("abort", () => (clearTimeout(t), reject(config.signal!.reason)));
        });
        return { answer: "late" };
      },
      timeoutMs: 20,
      retryPolicy: false,
    });
    const out = await build([slow, strategy("cache")]).invoke({}, thread("timeout"));
    expect(out.fallbackUsed).toBe("cache");
    expect(out.fallbackFailures[0]).toMatchObject({ node: "primary", name: "NodeTimeoutError" });
  });

  it("all strategies failing throws AllStrategiesFailedError with every failure; the state keeps them", async () => {
    const graph = build([strategy("primary", () => new Error("a")), strategy("cache", () => new Error("b"))]);
    const config = thread("all-fail");
    const error = await graph.invoke({}, config).catch((e) => e);
    expect(error).toBeInstanceOf(AllStrategiesFailedError);
    expect(error.failures.map((f: { node: string }) => f.node)).toEqual(["primary", "cache"]);
    expect(error.message).toContain("primary: Error: a");
    expect(error.message).toContain("cache: Error: b");
    expect((await graph.getState(config)).values.fallbackFailures).toHaveLength(2);
  });

  it('onExhausted "end": the run ends normally with fallbackUsed null', async () => {
    const out = await build([strategy("primary", () => new Error("a")), strategy("cache", () => new Error("b"))], { onExhausted: "end" }).invoke({}, thread("end"));
    expect(out.fallbackUsed).toBeNull();
    expect(out.fallbackFailures).toHaveLength(2);
  });

  it("a second run on the same thread starts with no failures", async () => {
    let fail = true;
    const a = strategy("primary", undefined, { run: () => { if (fail) throw new Error("x"); return { answer: "a" }; } });
    const graph = build([a, strategy("cache")]);
    const config = thread("rerun");
    expect((await graph.invoke({}, config)).fallbackFailures).toHaveLength(1);
    fail = false;
    const second = await graph.invoke({}, config);
    expect(second.fallbackFailures).toEqual([]);
    expect(second.fallbackUsed).toBe("primary");
  });

  it("rejects no strategies, duplicate and reserved names, a bad onExhausted", () => {
    expect(() => buildFallbackChain<State>({ state: State, strategies: [] })).toThrow(GraphDefinitionError);
    expect(() => buildFallbackChain<State>({ state: State, strategies: [strategy("a"), strategy("a")] })).toThrow(/used twice/);
    expect(() => buildFallbackChain<State>({ state: State, strategies: [strategy("all_failed")] })).toThrow(/used twice/);
    expect(() => buildFallbackChain<State>({ state: State, strategies: [strategy("a")], onExhausted: "ignore" as "end" })).toThrow(/onExhausted/);
  });

  it("the example graph chains the strategies through their error handlers", () => {
    const mermaid = examples.fallbackChain.getGraph().drawMermaid();
    expect(mermaid).toContain("__error_handler__primary -.-> secondary");
    expect(mermaid).toContain("__error_handler__cache -.-> all_failed");
  });
});
