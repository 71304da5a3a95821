import { Command, interrupt, MemorySaver, ReducedValue, StateSchema, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { examples } from "../../graphs/examples/resilienceAndState.js";
import { withRetry } from "../../src/patterns/resilience/retry.js";
import { buildTryCatch, CatchHandlerError, describeError, tryCatchFields, UncaughtStepError, type TryCatchOptions } from "../../src/patterns/resilience/tryCatch.js";
import { GraphDefinitionError, LlmWorkflowsError } from "../../src/runtime/errors.js";

const State = new StateSchema({
  log: new ReducedValue(z.array(z.string()).default(() => []), { inputSchema: z.array(z.string()), reducer: (a: string[], b: string[]) => a.concat(b) }),
  handled: z.string().default(""),
  ...tryCatchFields,
});
type State = typeof State.State;

/** Waits `ms`, or rejects when the attempt's signal aborts (a timed-out attempt stops). */
function waitOrAbort(ms: number, config: LangGraphRunnableConfig): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    config.signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(config.signal!.reason);
    });
  });
}

const FAST = withRetry({ maxAttempts: 3, initialIntervalMs: 1, maxIntervalMs: 2, jitter: false });
const ok = (name: string) => ({ name, run: () => ({ log: [name] }) });

function build(overrides: Partial<TryCatchOptions<State>> = {}) {
  return buildTryCatch<State>({
    state: State,
    steps: [ok("a"), ok("b"), ok("c")],
    catch: { name: "handle", run: (_s, error) => ({ log: ["handle"], handled: `${error.node}: ${error.message}` }) },
    finally: { name: "cleanup", run: () => ({ log: ["cleanup"] }) },
    retryPolicy: FAST,
    ...overrides,
  }).compile({ checkpointer: new MemorySaver() });
}

const thread = (id: string) => ({ configurable: { thread_id: id } });

describe("buildTryCatch", () => {
  it("happy path: every try step in order, no catch, finally last; nothing caught", async () => {
    const out = await build().invoke({}, thread("ok"));
    expect(out.log).toEqual(["a", "b", "c", "cleanup"]);
    expect(out.caught).toBeNull();
    expect(out.catchFailure).toBeNull();
    expect(out.handled).toBe("");
  });

  it("a throwing step: the rest of the try block is skipped, catch gets the error, finally runs", async () => {
    let calls = 0;
    const graph = build({
      steps: [ok("a"), { name: "b", run: () => { calls++; throw new Error("card declined"); } }, ok("c")],
    });
    const out = await graph.invoke({}, thread("throw"));
    expect(out.log).toEqual(["a", "handle", "cleanup"]);
    expect(out.caught).toEqual({ node: "b", name: "Error", message: "card declined" });
    expect(out.handled).toBe("b: card declined");
    // A plain Error is not transient: no retry.
    expect(calls).toBe(1);
  });

  it("retries a transient error (HTTP 503) before catching it, and does not catch one that recovers", async () => {
    let calls = 0;
    const flaky = { name: "b", run: () => { calls++; if (calls < 3) throw Object.assign(new Error("busy"), { status: 503 }); return { log: ["b"] }; } };
    const out = await build({ steps: [ok("a"), flaky, ok("c")] }).invoke({}, thread("flaky"));
    expect(calls).toBe(3);
    expect(out.log).toEqual(["a", "b", "c", "cleanup"]);
    expect(out.caught).toBeNull();

    calls = 0;
    const down = { name: "b", run: () => { calls++; throw Object.assign(new Error("down"), { status: 503 }); } };
    const failed = await build({ steps: [ok("a"), down, ok("c")] }).invoke({}, thread("down"));
    expect(calls).toBe(3);
    expect(failed.caught).toMatchObject({ node: "b", status: 503, message: "down" });
    expect(failed.log).toEqual(["a", "handle", "cleanup"]);
  });

  it("a timeout: the step's attempts time out (NodeTimeoutError), catch and finally run", async () => {
    let attempts = 0;
    const slow = { name: "b", run: async (_s: State, config: LangGraphRunnableConfig) => { attempts++; await waitOrAbort(10_000, config); return { log: ["b"] }; } };
    const out = await build({ steps: [ok("a"), slow], timeoutMs: 20, retryPolicy: withRetry({ maxAttempts: 2, initialIntervalMs: 1, jitter: false }) }).invoke({}, thread("timeout"));
    expect(attempts).toBe(2);
    expect(out.caught).toMatchObject({ node: "b", name: "NodeTimeoutError" });
    expect(out.log).toEqual(["a", "handle", "cleanup"]);
  });

  it("without a catch, finally runs and the error is rethrown (UncaughtStepError)", async () => {
    const graph = build({ catch: undefined, steps: [ok("a"), { name: "b", run: () => { throw new Error("boom"); } }] });
    const config = thread("uncaught");
    const error = await graph.invoke({}, config).catch((e) => e);
    expect(error).toBeInstanceOf(UncaughtStepError);
    expect(error).toBeInstanceOf(LlmWorkflowsError);
    expect(error.caught).toEqual({ node: "b", name: "Error", message: "boom" });
    expect(error.message).toContain('step "b" failed');
    const state = await graph.getState(config);
    expect(state.values.log).toEqual(["a", "cleanup"]);
  });

  it("a catch that fails: finally still runs, then CatchHandlerError names both errors", async () => {
    const graph = build({
      steps: [{ name: "a", run: () => { throw new Error("first failure"); } }],
      catch: { name: "handle", run: () => { throw new Error("catch broke too"); } },
    });
    const config = thread("catch-fails");
    const error = await graph.invoke({}, config).catch((e) => e);
    expect(error).toBeInstanceOf(CatchHandlerError);
    expect(error.caught).toMatchObject({ node: "a", message: "first failure" });
    expect(error.catchFailure).toMatchObject({ node: "handle", message: "catch broke too" });
    expect(error.message).toContain("first failure");
    expect(error.message).toContain("catch broke too");
    expect((await graph.getState(config)).values.log).toEqual(["cleanup"]);
  });

  it("a catch without finally: the catch failure is rethrown at once", async () => {
    const graph = build({
      finally: undefined,
      steps: [{ name: "a", run: () => { throw new Error("x"); } }],
      catch: { name: "handle", run: () => { throw new Error("y"); } },
    });
    await expect(graph.invoke({}, thread("no-finally"))).rejects.toBeInstanceOf(CatchHandlerError);
  });

  it("a second run on the same thread starts with nothing caught", async () => {
    let fail = true;
    const graph = build({ steps: [ok("a"), { name: "b", run: () => { if (fail) throw new Error("once"); return { log: ["b"] }; } }] });
    const config = thread("rerun");
    expect((await graph.invoke({}, config)).caught).not.toBeNull();
    fail = false;
    const second = await graph.invoke({}, config);
    expect(second.caught).toBeNull();
  });

  it("an interrupt() in a try step is not an error: the thread pauses and resumes (with a timeout set)", async () => {
    const graph = build({
      steps: [ok("a"), { name: "approve", run: () => ({ log: [`approved: ${interrupt({ question: "ok?" })}`] }) }],
      timeoutMs: 1_000,
    });
    const config = thread("interrupt");
    const paused = await graph.invoke({}, config);
    expect(paused.__interrupt__).toHaveLength(1);
    expect(paused.caught).toBeNull();
    const out = await graph.invoke(new Command({ resume: "yes" }), config);
    expect(out.log).toEqual(["a", "approved: yes", "cleanup"]);
    expect(out.caught).toBeNull();
  });

  it("rejects a definition without catch or finally, duplicate names and the reserved name", () => {
    expect(() => buildTryCatch<State>({ state: State, steps: [ok("a")] })).toThrow(GraphDefinitionError);
    expect(() => buildTryCatch<State>({ state: State, steps: [ok("a"), ok("a")], finally: ok("f") })).toThrow(/used twice/);
    expect(() => buildTryCatch<State>({ state: State, steps: [ok("rethrow")], finally: ok("f") })).toThrow(/used twice/);
    expect(() => buildTryCatch<State>({ state: State, steps: [], finally: ok("f") })).toThrow(/at least one step/);
  });

  it("describeError keeps name, message, code and status", () => {
    expect(describeError("n", Object.assign(new TypeError("bad"), { code: "E1", status: 429 }))).toEqual({ node: "n", name: "TypeError", message: "bad", code: "E1", status: 429 });
    expect(describeError("n", "text")).toEqual({ node: "n", name: "Error", message: "text" });
  });

  it("the example graph draws the try steps, the error handlers, catch and finally", () => {
    const mermaid = examples.tryCatch.getGraph().drawMermaid();
    for (const node of ["reserve", "charge", "report", "release", "__error_handler__charge", "rethrow"]) expect(mermaid).toContain(node);
  });
});
