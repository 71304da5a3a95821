/**
 * The retry pattern (src/patterns/retry.ts): withRetry, Retry-After parsing,
 * retryNode's wait before LangGraph's own backoff, buildRetry. The clock is
 * fake (it records the waits asked for) or the waits are a few ms; no test
 * asserts elapsed wall-clock time. (test/patterns/retry.test.ts covers
 * isTransientError and DEFAULT_RETRY_POLICY of src/runtime/retry.ts.)
 */
import { NodeTimeoutError, StateSchema, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { examples } from "../../graphs/examples/resilienceAndState.js";
import {
  buildRetry,
  DEFAULT_MAX_RETRY_AFTER_MS,
  realClock,
  resolveRetryPolicy,
  retryAfterMs,
  RetryAfterTooLongError,
  withRetry,
  type RetryClock,
} from "../../src/patterns/resilience/retry.js";
import { ConfigurationError, GraphDefinitionError, InvalidInputError, StructuredOutputError } from "../../src/runtime/errors.js";
import { DEFAULT_RETRY_POLICY, isTransientError } from "../../src/runtime/retry.js";

const State = new StateSchema({ question: z.string().default(""), answer: z.string().default("") });
type State = typeof State.State;

function httpError(status: number, headers?: Record<string, string> | Headers, message = `HTTP ${status}`): Error {
  return Object.assign(new Error(message), { status, ...(headers ? { headers } : {}) });
}

/** A fake clock: `now` is fixed, `sleep` records the wait and returns at once. */
function fakeClock(now = Date.UTC(2026, 0, 1, 12, 0, 0)): RetryClock & { sleeps: number[] } {
  const sleeps: number[] = [];
  return { sleeps, now: () => now, sleep: async (ms) => void sleeps.push(ms) };
}

/** A step failing with `errors` in turn, then answering; counts its attempts. */
function scripted(errors: unknown[]) {
  const calls = { n: 0 };
  const run = async (_s: State, _config: LangGraphRunnableConfig) => {
    const error = errors[calls.n++];
    if (error) throw error;
    return { answer: `ok after ${calls.n}` };
  };
  return { calls, run };
}

const FAST = { initialIntervalMs: 1, backoffFactor: 2, maxIntervalMs: 10, jitter: false };

function graphOf(run: (s: State, c: LangGraphRunnableConfig) => Promise<Partial<State>>, options: Partial<Parameters<typeof buildRetry<State>>[0]> = {}) {
  return buildRetry<State>({ state: State, step: { name: "callProvider", run }, retryPolicy: withRetry({ maxAttempts: 3, ...FAST }), ...options }).compile();
}

describe("withRetry", () => {
  it("defaults to the project's policy: 3 attempts, isTransientError, LangGraph's intervals", () => {
    expect(withRetry()).toEqual(DEFAULT_RETRY_POLICY);
    expect(withRetry().retryOn).toBe(isTransientError);
  });

  it("maps plain options onto LangGraph's RetryPolicy", () => {
    const retryOn = () => true;
    expect(withRetry({ maxAttempts: 5, initialIntervalMs: 100, backoffFactor: 3, maxIntervalMs: 900, jitter: false, retryOn, logWarning: true })).toEqual({
      maxAttempts: 5,
      initialInterval: 100,
      backoffFactor: 3,
      maxInterval: 900,
      jitter: false,
      retryOn,
      logWarning: true,
    });
  });

  it("rejects out-of-range options, naming them", () => {
    expect(() => withRetry({ maxAttempts: 0 })).toThrow(ConfigurationError);
    expect(() => withRetry({ maxAttempts: 1.5 })).toThrow(/maxAttempts/);
    expect(() => withRetry({ initialIntervalMs: -1 })).toThrow(/initialIntervalMs/);
    expect(() => withRetry({ backoffFactor: 0.5 })).toThrow(/backoffFactor/);
    expect(() => withRetry({ maxIntervalMs: Number.NaN })).toThrow(/maxIntervalMs/);
  });

  it("resolveRetryPolicy: default, none, and the default attempts and retryOn for a policy without them", () => {
    expect(resolveRetryPolicy(undefined)).toEqual(DEFAULT_RETRY_POLICY);
    expect(resolveRetryPolicy(false)).toBeUndefined();
    expect(resolveRetryPolicy({ initialInterval: 10 })).toEqual({ initialInterval: 10, maxAttempts: 3, retryOn: isTransientError });
    expect(resolveRetryPolicy({ maxAttempts: 2 })).toEqual({ maxAttempts: 2, retryOn: isTransientError });
  });

  it("leaves the intervals to LangGraph's own defaults unless given", () => {
    expect(Object.keys(withRetry()).sort()).toEqual(["logWarning", "maxAttempts", "retryOn"]);
    expect(Object.keys(DEFAULT_RETRY_POLICY).sort()).toEqual(["logWarning", "maxAttempts", "retryOn"]);
  });
});

describe("retryAfterMs", () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);

  it("reads seconds, an HTTP date and retry-after-ms", () => {
    expect(retryAfterMs(httpError(429, { "retry-after": "2" }))).toBe(2000);
    expect(retryAfterMs(httpError(429, { "Retry-After": "1.5" }))).toBe(1500);
    expect(retryAfterMs(httpError(429, { "retry-after": new Date(now + 7000).toUTCString() }), now)).toBe(7000);
    expect(retryAfterMs(httpError(429, { "retry-after-ms": "250", "retry-after": "9" }))).toBe(250);
  });

  it("reads error.headers (ChatOpenAI), error.response.headers, error.error.headers, a Headers object and the cause chain", () => {
    expect(retryAfterMs(httpError(429, new Headers({ "Retry-After": "3" })))).toBe(3000);
    expect(retryAfterMs(Object.assign(new Error("x"), { response: { status: 429, headers: { "retry-after": "4" } } }))).toBe(4000);
    expect(retryAfterMs(Object.assign(new Error("x"), { error: { headers: { "retry-after": "5" } } }))).toBe(5000);
    expect(retryAfterMs(new Error("wrapped", { cause: httpError(429, { "retry-after": "6" }) }))).toBe(6000);
  });

  it("gives 0 for a past date and undefined for none or garbage", () => {
    expect(retryAfterMs(httpError(429, { "retry-after": new Date(now - 5000).toUTCString() }), now)).toBe(0);
    expect(retryAfterMs(httpError(429))).toBeUndefined();
    expect(retryAfterMs(httpError(429, { "retry-after": "soon" }))).toBeUndefined();
    expect(retryAfterMs("429")).toBeUndefined();
  });
});

describe("buildRetry", () => {
  it("happy path: one attempt, no wait", async () => {
    const step = scripted([]);
    const clock = fakeClock();
    const out = await graphOf(step.run, { clock }).invoke({ question: "q" });
    expect(out.answer).toBe("ok after 1");
    expect(step.calls.n).toBe(1);
    expect(clock.sleeps).toEqual([]);
  });

  it.each([
    ["429 without Retry-After", httpError(429)],
    ["503", httpError(503)],
    ["a connection reset", Object.assign(new Error("socket hang up"), { code: "ECONNRESET" })],
    ["a timeout", Object.assign(new Error("Request timed out."), { name: "APIConnectionTimeoutError" })],
  ])("retries %s until it succeeds", async (_label, error) => {
    const step = scripted([error, error]);
    const out = await graphOf(step.run).invoke({});
    expect(step.calls.n).toBe(3);
    expect(out.answer).toBe("ok after 3");
  });

  it.each([
    ["400", httpError(400)],
    ["401", httpError(401)],
    ["403", httpError(403)],
    ["a schema error", new StructuredOutputError("Answer", [{ path: "answer", message: "Required" }])],
    ["invalid input", new InvalidInputError("wf", [{ path: "q", message: "Required" }])],
  ])("never retries %s: the first error fails the run", async (_label, error) => {
    const step = scripted([error]);
    await expect(graphOf(step.run).invoke({})).rejects.toBe(error);
    expect(step.calls.n).toBe(1);
  });

  it("gives up after maxAttempts with the last error", async () => {
    const last = httpError(503, undefined, "still down");
    const step = scripted([httpError(503), httpError(503), last]);
    await expect(graphOf(step.run).invoke({})).rejects.toThrow("still down");
    expect(step.calls.n).toBe(3);
  });

  it("waits out a Retry-After (seconds) before LangGraph retries", async () => {
    const clock = fakeClock();
    const step = scripted([httpError(429, { "retry-after": "2" }), httpError(429, { "retry-after": "3" })]);
    const out = await graphOf(step.run, { clock }).invoke({});
    expect(out.answer).toBe("ok after 3");
    // The node sleeps the Retry-After, then LangGraph its own interval: each total is >= Retry-After.
    expect(clock.sleeps).toEqual([2000, 3000]);
  });

  it("waits out a Retry-After given as an HTTP date, from the clock's now", async () => {
    const clock = fakeClock();
    const date = new Date(clock.now() + 5000).toUTCString();
    const step = scripted([httpError(503, new Headers({ "Retry-After": date }))]);
    await graphOf(step.run, { clock }).invoke({});
    expect(clock.sleeps).toEqual([5000]);
  });

  it("adds no wait for a Retry-After of 0", async () => {
    const clock = fakeClock();
    const step = scripted([httpError(429, { "retry-after-ms": "0" })]);
    await graphOf(step.run, { clock, retryPolicy: withRetry({ maxAttempts: 2, initialIntervalMs: 1, jitter: false }) }).invoke({});
    expect(step.calls.n).toBe(2);
    expect(clock.sleeps).toEqual([]);
  });

  it("does not wait after the last attempt, nor for an error that is not retried", async () => {
    const clock = fakeClock();
    const step = scripted([httpError(429, { "retry-after": "1" }), httpError(429, { "retry-after": "1" })]);
    await expect(graphOf(step.run, { clock, retryPolicy: withRetry({ maxAttempts: 2, ...FAST }) }).invoke({})).rejects.toThrow("HTTP 429");
    expect(clock.sleeps).toEqual([1000]);

    const clock2 = fakeClock();
    const step2 = scripted([httpError(400, { "retry-after": "1" })]);
    await expect(graphOf(step2.run, { clock: clock2 }).invoke({})).rejects.toThrow("HTTP 400");
    expect(clock2.sleeps).toEqual([]);
  });

  it("fails at once with RetryAfterTooLongError when Retry-After exceeds maxRetryAfterMs", async () => {
    const clock = fakeClock();
    const step = scripted([httpError(429, { "retry-after": "3600" })]);
    const error = await graphOf(step.run, { clock }).invoke({}).catch((e) => e);
    expect(error).toBeInstanceOf(RetryAfterTooLongError);
    expect(error.retryAfterMs).toBe(3_600_000);
    expect(error.maxRetryAfterMs).toBe(DEFAULT_MAX_RETRY_AFTER_MS);
    expect(error.cause.status).toBe(429);
    expect(step.calls.n).toBe(1);
    expect(clock.sleeps).toEqual([]);
  });

  it("with the real clock and small values, the node sleeps the Retry-After and the run succeeds", async () => {
    const asked: number[] = [];
    const clock: RetryClock = { now: realClock.now, sleep: (ms, signal) => (asked.push(ms), realClock.sleep(ms, signal)) };
    const step = scripted([httpError(429, { "retry-after-ms": "30" })]);
    const out = await graphOf(step.run, { clock }).invoke({});
    expect(out.answer).toBe("ok after 2");
    expect(asked).toEqual([30]);
  });

  it("a timeout: each attempt is cut at timeoutMs (NodeTimeoutError, retried), then the run fails", async () => {
    let attempts = 0;
    const slow = async (_s: State, config: LangGraphRunnableConfig) => {
      attempts++;
      await new Promise((resolve, reject) => {
        const timer = setTimeout(resolve, 10_000);
        config.signal?.addEventListener("abort", () => (clearTimeout(timer), reject(config.signal!.reason)));
      });
      return { answer: "late" };
    };
    const error = await graphOf(slow, { timeoutMs: 20, retryPolicy: withRetry({ maxAttempts: 2, ...FAST }) }).invoke({}).catch((e) => e);
    expect(error).toBeInstanceOf(NodeTimeoutError);
    expect(attempts).toBe(2);
  });

  it("fallback: when the attempts run out, the fallback's update is written and the run ends normally", async () => {
    const step = scripted([httpError(503), httpError(503, undefined, "still down")]);
    const seen: string[] = [];
    const graph = graphOf(step.run, {
      retryPolicy: withRetry({ maxAttempts: 2, ...FAST }),
      fallback: (error, state, node) => (seen.push(`${node}: ${error.message} (${state.question})`), { answer: "cached answer" }),
    });
    expect((await graph.invoke({ question: "q" })).answer).toBe("cached answer");
    expect(step.calls.n).toBe(2);
    expect(seen).toEqual(["callProvider: still down (q)"]);
  });

  it("retryPolicy false: one attempt", async () => {
    const step = scripted([httpError(503)]);
    await expect(graphOf(step.run, { retryPolicy: false }).invoke({})).rejects.toThrow("HTTP 503");
    expect(step.calls.n).toBe(1);
  });

  it("rejects a reserved step name", () => {
    expect(() => buildRetry<State>({ state: State, step: { name: "__start__", run: () => ({}) } })).toThrow(GraphDefinitionError);
  });

  it("the example graph is one node between START and END", () => {
    expect(examples.retry.getGraph().drawMermaid()).toContain("__start__ --> callProvider");
  });
});
