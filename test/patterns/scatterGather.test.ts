import { NodeTimeoutError, StateSchema } from "@langchain/langgraph";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { GraphDefinitionError, LlmWorkflowsError } from "../../src/runtime/errors.js";
import {
  buildScatterGather,
  ScatterGatherFailedError,
  scatterGatherFields,
  scatterGatherRetryPolicy,
  type ScatterGatherOptions,
  type ScatterService,
} from "../../src/patterns/composition/scatterGather.js";
import { isTransientError } from "../../src/runtime/retry.js";
import { examplesA } from "../../graphs/examples/compositionAndControl.js";

const State = new StateSchema({ query: z.string(), answer: z.string().default(""), ...scatterGatherFields });
type S = typeof State.State;

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });

/** A promise settled by the test: `release()` lets the service answer. */
function gate() {
  let release!: () => void;
  const opened = new Promise<void>((r) => (release = r));
  return { opened, release };
}

/** A service that records the signal it got, waits for `until`, then answers or throws. */
function service(signals: Record<string, AbortSignal>, name: string, until: Promise<unknown>, outcome: string | Error): ScatterService<S, string> {
  return async (s, signal) => {
    signals[name] = signal;
    await Promise.race([until, sleep(60_000, signal)]);
    if (outcome instanceof Error) throw outcome;
    return `${outcome}(${s.query})`;
  };
}

function build(options: Partial<ScatterGatherOptions<S, string>> & Pick<ScatterGatherOptions<S, string>, "services" | "mode">) {
  return buildScatterGather<S, string>({
    state: State,
    gather: (_s, outcome) => ({ answer: outcome.result }),
    retryPolicy: false,
    ...options,
  }).compile();
}

describe("buildScatterGather, mode first", () => {
  it("uses the first success and cancels the others through their AbortSignal", async () => {
    const signals: Record<string, AbortSignal> = {};
    const fast = gate();
    const graph = build({
      mode: "first",
      services: {
        slowA: service(signals, "slowA", new Promise(() => {}), "A"),
        fast: service(signals, "fast", fast.opened, "F"),
        slowB: service(signals, "slowB", new Promise(() => {}), "B"),
      },
    });
    const run = graph.invoke({ query: "q" });
    await sleep(5);
    fast.release();
    const out = await run;
    expect(out.answer).toBe("F(q)");
    expect(out.scatterWinner).toBe("fast");
    expect(out.scatterCancelled).toEqual(["slowA", "slowB"]);
    expect(signals.slowA.aborted).toBe(true);
    expect(signals.slowB.aborted).toBe(true);
    expect((signals.slowA.reason as Error).name).toBe("AbortError");
    expect(signals.fast.aborted).toBe(false);
  });

  it("skips failures and results `accept` refuses, recording them, and does not wait for a service that ignores its signal", async () => {
    const signals: Record<string, AbortSignal> = {};
    const ok = gate();
    const graph = build({
      mode: "first",
      accept: (result) => !result.startsWith("bad"),
      services: {
        broken: service(signals, "broken", Promise.resolve(), new Error("provider 1 down")),
        refused: service(signals, "refused", Promise.resolve(), "bad"),
        deaf: async (_s, signal) => {
          signals.deaf = signal;
          return new Promise<string>(() => {}); // never answers, ignores its signal
        },
        good: service(signals, "good", ok.opened, "G"),
      },
    });
    const run = graph.invoke({ query: "q" });
    await sleep(5);
    ok.release();
    const out = await run;
    expect(out.answer).toBe("G(q)");
    expect(out.branchFailures).toEqual([
      { branch: "broken", error: "Error", message: "provider 1 down" },
      expect.objectContaining({ branch: "refused", error: "ResultNotAcceptedError" }),
    ]);
    expect(out.scatterCancelled).toEqual(["deaf"]);
    expect(signals.deaf.aborted).toBe(true);
  });

  it("throws ScatterGatherFailedError naming every service's failure when all fail", async () => {
    const signals: Record<string, AbortSignal> = {};
    const graph = build({
      mode: "first",
      services: {
        a: service(signals, "a", Promise.resolve(), new Error("a is down")),
        b: service(signals, "b", sleep(2), Object.assign(new Error("bad request"), { status: 400 })),
        c: service(signals, "c", Promise.resolve(), new TypeError("c broke")),
      },
    });
    const error = await graph.invoke({ query: "q" }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ScatterGatherFailedError);
    expect(error).toBeInstanceOf(LlmWorkflowsError);
    const failed = error as ScatterGatherFailedError;
    expect(failed.code).toBe("SCATTER_GATHER_FAILED");
    expect(failed.failures.map((f) => f.service)).toEqual(["a", "b", "c"]);
    expect(failed.message).toContain("a: Error: a is down");
    expect(failed.message).toContain("b: Error: bad request");
    expect(failed.message).toContain("c: TypeError: c broke");
  });

  it("times a service out with timeoutMs (aborting its signal), and the others still answer", async () => {
    const signals: Record<string, AbortSignal> = {};
    const graph = build({
      mode: "first",
      timeoutMs: 20,
      services: {
        hung: service(signals, "hung", new Promise(() => {}), "H"),
        ok: async (s, signal) => {
          signals.ok = signal;
          // answers only once the hung service has been timed out
          await new Promise<void>((resolve) => signals.hung.addEventListener("abort", () => resolve(), { once: true }));
          return `ok(${s.query})`;
        },
      },
    });
    const out = await graph.invoke({ query: "q" });
    expect(out.answer).toBe("ok(q)");
    expect(signals.hung.reason).toBeInstanceOf(NodeTimeoutError);
    expect(signals.ok.aborted).toBe(false);
    expect(out.branchFailures).toEqual([expect.objectContaining({ branch: "hung", error: "NodeTimeoutError" })]);
  });

  it("cancels every service when the run is cancelled", async () => {
    const signals: Record<string, AbortSignal> = {};
    const controller = new AbortController();
    const graph = build({
      mode: "first",
      services: { a: service(signals, "a", new Promise(() => {}), "A"), b: service(signals, "b", new Promise(() => {}), "B") },
    });
    const run = graph.invoke({ query: "q" }, { signal: controller.signal });
    while (!signals.a || !signals.b) await sleep(1);
    controller.abort(new Error("user cancelled"));
    await expect(run).rejects.toThrow();
    expect(signals.a.aborted && signals.b.aborted).toBe(true);
  });
});

describe("buildScatterGather, mode best", () => {
  it("runs every service, records failures, and lets the scorer pick (first declared on a tie)", async () => {
    const signals: Record<string, AbortSignal> = {};
    const graph = build({
      mode: "best",
      score: (result) => result.length,
      services: {
        short: service(signals, "short", sleep(1), "s"),
        long: service(signals, "long", sleep(3), "longer"),
        tie: service(signals, "tie", sleep(2), "longer"),
        broken: service(signals, "broken", sleep(1), new Error("nope")),
      },
    });
    const out = await graph.invoke({ query: "q" });
    expect(out.answer).toBe("longer(q)");
    expect(out.scatterWinner).toBe("long");
    expect(out.scatterScores).toEqual({ short: 4, long: 9, tie: 9 });
    expect(out.branchFailures).toEqual([{ branch: "broken", error: "Error", message: "nope" }]);
    expect(out.scatterCancelled).toEqual([]);
    expect(Object.values(signals).some((s) => s.aborted)).toBe(false);
  });

  it("throws ScatterGatherFailedError when every service fails or times out", async () => {
    const signals: Record<string, AbortSignal> = {};
    const graph = build({
      mode: "best",
      score: () => 1,
      timeoutMs: 20,
      services: { a: service(signals, "a", Promise.resolve(), new Error("a failed")), b: service(signals, "b", new Promise(() => {}), "B") },
    });
    await expect(graph.invoke({ query: "q" })).rejects.toThrow(/every service failed \(a: Error: a failed; b: NodeTimeoutError: .*timeout/);
  });
});

describe("policies", () => {
  it("wraps retryOn so that a ScatterGatherFailedError is retried only when every failure is", () => {
    const retryOn = scatterGatherRetryPolicy(undefined)!.retryOn!;
    const transient = Object.assign(new Error("overloaded"), { status: 503 });
    const permanent = Object.assign(new Error("bad request"), { status: 400 });
    expect(retryOn(new ScatterGatherFailedError("n", [{ service: "a", error: transient }, { service: "b", error: transient }]))).toBe(true);
    expect(retryOn(new ScatterGatherFailedError("n", [{ service: "a", error: transient }, { service: "b", error: permanent }]))).toBe(false);
    expect(scatterGatherRetryPolicy(false)).toBeUndefined();
  });

  it("retries the whole scatter-gather when every failure was transient, not otherwise", async () => {
    let calls = 0;
    const transient = () => {
      calls++;
      return Promise.reject(Object.assign(new Error("overloaded"), { status: 503 }));
    };
    const policy = { maxAttempts: 3, initialInterval: 1, jitter: false, logWarning: false };
    await expect(build({ mode: "first", retryPolicy: { ...policy, retryOn: isTransientError }, services: { a: transient, b: transient } }).invoke({ query: "q" })).rejects.toBeInstanceOf(ScatterGatherFailedError);
    expect(calls).toBe(6);

    calls = 0;
    const permanent = () => {
      calls++;
      return Promise.reject(Object.assign(new Error("bad request"), { status: 400 }));
    };
    await expect(build({ mode: "first", retryPolicy: { ...policy, retryOn: isTransientError }, services: { a: transient, b: permanent } }).invoke({ query: "q" })).rejects.toBeInstanceOf(ScatterGatherFailedError);
    expect(calls).toBe(2);
  });

  it("applies the fallback when every service failed, recording each failure", async () => {
    const signals: Record<string, AbortSignal> = {};
    const graph = build({
      mode: "first",
      fallback: (error) => ({ answer: `fallback after: ${error.name}` }),
      services: { a: service(signals, "a", Promise.resolve(), new Error("a down")), b: service(signals, "b", Promise.resolve(), new Error("b down")) },
    });
    const out = await graph.invoke({ query: "q" });
    expect(out.answer).toBe("fallback after: ScatterGatherFailedError");
    expect(out.scatterWinner).toBeNull();
    expect(out.branchFailures.map((f: { branch: string }) => f.branch)).toEqual(["a", "b"]);
  });
});

describe("rejects bad definitions when the graph is built", () => {
  const one = { a: () => "x" };
  it("fewer than two services, best without a scorer, an unknown mode", () => {
    expect(() => build({ mode: "first", services: one })).toThrow(/at least two services/);
    expect(() => build({ mode: "best", services: { ...one, b: () => "y" } })).toThrow(/needs a score function/);
    expect(() => build({ mode: "fastest" as any, services: { ...one, b: () => "y" } })).toThrow(GraphDefinitionError);
  });
  it("a state without scatterGatherFields", () => {
    const Bare = new StateSchema({ query: z.string() });
    expect(() => buildScatterGather<any>({ state: Bare, mode: "first", services: { a: () => 1, b: () => 2 }, gather: () => ({}) })).toThrow(/spread scatterGatherFields/);
  });
});

it("the example graph runs", async () => {
  const out = await examplesA.scatterGather.invoke({ query: "q" });
  expect(out.scatterWinner).toBe("fast");
  expect(out.scatterCancelled).toEqual(["thorough", "cached"]);
});
