import { StateSchema } from "@langchain/langgraph";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { buildPromptChain, chainFields } from "../../src/patterns/workflow/promptChain.js";
import type { PolicyOptions } from "../../src/patterns/core/graph.js";
import { ConfigurationError, InvalidInputError, LlmWorkflowsError, StructuredOutputError } from "../../src/runtime/errors.js";
import { DEFAULT_MAX_ATTEMPTS, DEFAULT_RETRY_POLICY, isTransientError } from "../../src/runtime/retry.js";

/** An error shaped like a provider SDK's HTTP error. */
function httpError(status: number, message = `HTTP ${status}`): Error {
  return Object.assign(new Error(message), { status });
}

describe("isTransientError", () => {
  it.each([408, 409, 429, 500, 502, 503, 504])("retries HTTP %i", (status) => {
    expect(isTransientError(httpError(status))).toBe(true);
  });

  it("retries a status found on error.response", () => {
    expect(isTransientError(Object.assign(new Error("x"), { response: { status: 503 } }))).toBe(true);
  });

  it("retries timeouts and dropped connections", () => {
    const timeout = new Error("operation took too long");
    timeout.name = "TimeoutError";
    expect(isTransientError(timeout)).toBe(true);
    expect(isTransientError(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }))).toBe(true);
    expect(isTransientError(Object.assign(new Error("refused"), { code: "ECONNREFUSED" }))).toBe(true);
    expect(isTransientError(new Error("Request timed out."))).toBe(true);
  });

  it("retries an error whose cause chain holds a transient error", () => {
    const root = Object.assign(new Error("reset"), { code: "ECONNRESET" });
    const middle = new Error("fetch failed", { cause: root });
    expect(isTransientError(new Error("model call failed", { cause: middle }))).toBe(true);
    expect(isTransientError(new Error("wrapped", { cause: httpError(429) }))).toBe(true);
    // ... but not a chain holding only permanent errors.
    expect(isTransientError(new Error("wrapped", { cause: httpError(400) }))).toBe(false);
  });

  it.each([400, 401, 403, 404, 422])("does not retry HTTP %i", (status) => {
    expect(isTransientError(httpError(status))).toBe(false);
  });

  it("does not retry a 4xx even when its message mentions a timeout", () => {
    expect(isTransientError(httpError(400, "invalid value for 'timeout'"))).toBe(false);
  });

  it("does not retry an abort", () => {
    const abort = new Error("This operation was aborted");
    abort.name = "AbortError";
    expect(isTransientError(abort)).toBe(false);
    expect(isTransientError(new Error("Cancelled by the user"))).toBe(false);
    expect(isTransientError(new DOMException("aborted", "AbortError"))).toBe(false);
  });

  it("does not retry this library's own errors, whatever they carry", () => {
    expect(isTransientError(new InvalidInputError("wf", [{ path: "x", message: "bad" }]))).toBe(false);
    expect(isTransientError(new ConfigurationError("X", "a number", "y"))).toBe(false);
    // Even with a transient cause: a schema mismatch is not fixed by waiting.
    expect(isTransientError(new StructuredOutputError("S", [], { cause: httpError(503) }))).toBe(false);
    expect(isTransientError(Object.assign(new LlmWorkflowsError("X", "x"), { status: 503 }))).toBe(false);
  });

  // Exposes a bug: the cause chain is followed without a depth limit or a
  // visited set, so a cyclic chain overflows the stack. LangGraph calls retryOn
  // inside its catch block, so the RangeError would replace the node's real error.
  it("returns (false) for an error whose cause chain is cyclic", () => {
    const a = new Error("a");
    const b = new Error("b", { cause: a });
    (a as Error & { cause?: unknown }).cause = b;
    expect(() => isTransientError(a)).not.toThrow();
    expect(isTransientError(a)).toBe(false);
  });

  it("does not retry non-errors or plain errors", () => {
    expect(isTransientError("503")).toBe(false);
    expect(isTransientError({ status: 503 })).toBe(false);
    expect(isTransientError(undefined)).toBe(false);
    expect(isTransientError(new Error("something broke"))).toBe(false);
  });

  it("is the default policy's retryOn", () => {
    expect(DEFAULT_RETRY_POLICY.retryOn).toBe(isTransientError);
    expect(DEFAULT_RETRY_POLICY.maxAttempts).toBe(DEFAULT_MAX_ATTEMPTS);
  });
});

const State = new StateSchema({ out: z.string().default(""), ...chainFields });
type State = typeof State.State;

/** A one-node graph whose node throws `errors` in turn, then succeeds. */
function flaky(errors: Error[], policy: PolicyOptions = {}) {
  let attempts = 0;
  const graph = buildPromptChain<State>({
    state: State,
    steps: [
      {
        name: "call",
        run: () => {
          const error = errors[attempts++];
          if (error) throw error;
          return { out: "done" };
        },
      },
    ],
    ...policy,
  }).compile();
  return { graph, attempts: () => attempts };
}

/** The default policy with no waiting, so the tests are fast. */
const FAST: PolicyOptions = { retryPolicy: { ...DEFAULT_RETRY_POLICY, initialInterval: 1, maxInterval: 1, jitter: false } };

describe("retries of a built node", () => {
  it("retries a 503 twice and succeeds on the third attempt", async () => {
    const { graph, attempts } = flaky([httpError(503), httpError(503)], FAST);
    expect(await graph.invoke({})).toMatchObject({ out: "done" });
    expect(attempts()).toBe(3);
  });

  it("gives up after maxAttempts transient failures with the last error", async () => {
    const last = httpError(503, "third");
    const { graph, attempts } = flaky([httpError(503), httpError(503), last, httpError(503)], FAST);
    await expect(graph.invoke({})).rejects.toBe(last);
    expect(attempts()).toBe(DEFAULT_MAX_ATTEMPTS);
  });

  it("does not retry a 400", async () => {
    const bad = httpError(400, "bad request");
    const { graph, attempts } = flaky([bad], FAST);
    await expect(graph.invoke({})).rejects.toBe(bad);
    expect(attempts()).toBe(1);
  });

  it("does not retry this library's errors", async () => {
    const invalid = new InvalidInputError("wf", [{ path: "q", message: "required" }]);
    const { graph, attempts } = flaky([invalid], FAST);
    await expect(graph.invoke({})).rejects.toBe(invalid);
    expect(attempts()).toBe(1);
  });

  // Builders use DEFAULT_RETRY_POLICY when given none (its real backoff: one wait of 0.5-1.5 s).
  it("applies the default policy when the builder is given none", async () => {
    const { graph, attempts } = flaky([httpError(503)]);
    expect(await graph.invoke({})).toMatchObject({ out: "done" });
    expect(attempts()).toBe(2);

    const bad = httpError(400);
    const permanent = flaky([bad]);
    await expect(permanent.graph.invoke({})).rejects.toBe(bad);
    expect(permanent.attempts()).toBe(1);
  });

  it("does not retry at all with retryPolicy: false", async () => {
    const err = httpError(503);
    const { graph, attempts } = flaky([err], { retryPolicy: false });
    await expect(graph.invoke({})).rejects.toBe(err);
    expect(attempts()).toBe(1);
  });
});
