import { MemorySaver, NodeTimeoutError, StateSchema, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { examples } from "../../graphs/examples/resilienceAndState.js";
import { withRetry } from "../../src/patterns/resilience/retry.js";
import {
  buildStateMachine,
  InvalidTransitionError,
  MaxTransitionsError,
  nextState,
  stateMachineFields,
  statesOf,
  type StateMachineOptions,
} from "../../src/patterns/control/stateMachine.js";
import { GraphDefinitionError, LlmWorkflowsError } from "../../src/runtime/errors.js";

const State = new StateSchema({ job: z.string().default(""), result: z.string().default(""), notified: z.boolean().default(false), ...stateMachineFields });
type State = typeof State.State;

const TABLE = { idle: { start: "running" }, running: { complete: "done", error: "failed", retry: "idle" } };
const FAST = withRetry({ maxAttempts: 2, initialIntervalMs: 1, jitter: false });

function build(overrides: Partial<StateMachineOptions<State>> = {}) {
  return buildStateMachine<State>({
    state: State,
    initial: "idle",
    transitions: TABLE,
    handlers: {
      idle: () => "start",
      running: (s) => ({ event: "complete", update: { result: `ran ${s.job}` } }),
    },
    onTerminal: { failed: () => ({ notified: true }) },
    retryPolicy: FAST,
    ...overrides,
  }).compile({ checkpointer: new MemorySaver() });
}
const thread = (id: string) => ({ configurable: { thread_id: id } });

describe("buildStateMachine", () => {
  it("happy path: follows the table from the initial state to a terminal one", async () => {
    const out = await build().invoke({ job: "report" }, thread("ok"));
    expect(out).toMatchObject({
      result: "ran report",
      machineState: "done",
      machineEvent: "complete",
      machineTransitions: 2,
      machineHistory: [
        { from: "idle", event: "start", to: "running" },
        { from: "running", event: "complete", to: "done" },
      ],
      notified: false,
    });
  });

  it("an invalid transition is an InvalidTransitionError naming the state and the event", async () => {
    const graph = build({ handlers: { idle: () => "start", running: () => "explode" } });
    const error = await graph.invoke({}, thread("invalid")).catch((e) => e);
    expect(error).toBeInstanceOf(InvalidTransitionError);
    expect(error).toBeInstanceOf(LlmWorkflowsError);
    expect(error.state).toBe("running");
    expect(error.event).toBe("explode");
    expect(error.allowed).toEqual(["complete", "error", "retry"]);
    expect(error.message).toBe('invalid transition: state "running" has no event "explode"; allowed: complete, error, retry');
  });

  it("an invalid transition is never turned into the error event", async () => {
    const graph = build({ handlers: { idle: () => "start", running: () => "explode" }, errorEvent: "error" });
    await expect(graph.invoke({}, thread("invalid-error-event"))).rejects.toBeInstanceOf(InvalidTransitionError);
  });

  it("a throwing handler fails the run (after its retries) when there is no errorEvent", async () => {
    let calls = 0;
    const graph = build({ handlers: { idle: () => "start", running: () => { calls++; throw Object.assign(new Error("worker crashed"), { status: 500 }); } } });
    await expect(graph.invoke({}, thread("throw"))).rejects.toThrow("worker crashed");
    expect(calls).toBe(2);
  });

  it("with errorEvent, a throwing handler fires the error event: failed, its onTerminal node runs, the error is kept", async () => {
    const graph = build({ handlers: { idle: () => "start", running: () => { throw new Error("worker crashed"); } }, errorEvent: "error" });
    const out = await graph.invoke({}, thread("error-event"));
    expect(out).toMatchObject({
      machineState: "failed",
      machineEvent: "error",
      notified: true,
      machineError: { node: "running", name: "Error", message: "worker crashed" },
    });
    expect(out.machineHistory.at(-1)).toEqual({ from: "running", event: "error", to: "failed" });
  });

  it("a timeout: the handler's attempts time out; with errorEvent the machine goes to failed, without it the run fails", async () => {
    const slow = async (_s: State, config: LangGraphRunnableConfig) => {
      await new Promise((resolve, reject) => {
        const t = setTimeout(resolve, 10_000);
        config.signal?.addEventListener("abort", () => (clearTimeout(t), reject(config.signal!.reason)));
      });
      return "complete";
    };
    const handled = await build({ handlers: { idle: () => "start", running: slow }, errorEvent: "error", timeoutMs: 20 }).invoke({}, thread("t1"));
    expect(handled.machineState).toBe("failed");
    expect(handled.machineError).toMatchObject({ name: "NodeTimeoutError" });
    await expect(build({ handlers: { idle: () => "start", running: slow }, timeoutMs: 20 }).invoke({}, thread("t2"))).rejects.toBeInstanceOf(NodeTimeoutError);
  });

  it("stops a machine that never reaches a terminal state with MaxTransitionsError", async () => {
    const graph = build({ handlers: { idle: () => "start", running: () => "retry" }, maxTransitions: 5 });
    const error = await graph.invoke({}, { ...thread("loop"), recursionLimit: 50 }).catch((e) => e);
    expect(error).toBeInstanceOf(MaxTransitionsError);
    expect(error.maxTransitions).toBe(5);
    expect(error.state).toBe("running");
  });

  it("an initial state chosen from the input; a bad one is refused at run time", async () => {
    const graph = build({ initial: (s) => (s.job === "resume" ? "running" : "idle") });
    const out = await graph.invoke({ job: "resume" }, thread("initial"));
    expect(out.machineHistory).toEqual([{ from: "running", event: "complete", to: "done" }]);
    await expect(build({ initial: () => "done" }).invoke({}, thread("bad-initial"))).rejects.toThrow(/initial state "done" is terminal/);
  });

  it("a second run on the same thread starts from the initial state with an empty history", async () => {
    const graph = build();
    const config = thread("rerun");
    await graph.invoke({ job: "a" }, config);
    const out = await graph.invoke({ job: "b" }, config);
    expect(out.machineTransitions).toBe(2);
    expect(out.machineHistory).toHaveLength(2);
  });

  it("checks the definition when the graph is built", () => {
    const base = { state: State, initial: "idle", transitions: TABLE, handlers: { idle: () => "start", running: () => "complete" } } as StateMachineOptions<State>;
    expect(() => buildStateMachine<State>({ ...base, handlers: { idle: () => "start" } })).toThrow(/state "running" has no handler/);
    expect(() => buildStateMachine<State>({ ...base, handlers: { ...base.handlers, nowhere: () => "x" } })).toThrow(/handler "nowhere" names no state/);
    expect(() => buildStateMachine<State>({ ...base, handlers: { ...base.handlers, done: () => "x" } })).toThrow(/terminal state \(use onTerminal\)/);
    expect(() => buildStateMachine<State>({ ...base, terminal: ["running"] })).toThrow(/terminal state "running" has transitions/);
    expect(() => buildStateMachine<State>({ ...base, initial: "nope" })).toThrow(/initial state "nope" is not in the transition table/);
    expect(() => buildStateMachine<State>({ ...base, transitions: { ...TABLE, orphan: { go: "done" } }, handlers: { ...base.handlers, orphan: () => "go" } })).toThrow(/not reachable from "idle": orphan/);
    expect(() => buildStateMachine<State>({ ...base, onTerminal: { running: () => ({}) } })).toThrow(/onTerminal "running" is not a terminal state/);
    expect(() => buildStateMachine<State>({ ...base, maxTransitions: 0 })).toThrow(/maxTransitions/);
    expect(() => buildStateMachine<State>({ ...base, transitions: { enter_machine: { go: "done" } }, initial: "enter_machine", handlers: { enter_machine: () => "go" } })).toThrow(/used twice/);
    expect(() => buildStateMachine<State>({ ...base, transitions: {} })).toThrow(GraphDefinitionError);
  });

  it("nextState and statesOf read the table", () => {
    expect(nextState(TABLE, "idle", "start")).toBe("running");
    expect(() => nextState(TABLE, "done", "start")).toThrow('state "done" has no event "start"; allowed: none (terminal)');
    expect(() => nextState(TABLE, "idle", "toString")).toThrow(InvalidTransitionError);
    expect(statesOf(TABLE)).toEqual(["idle", "running", "done", "failed"]);
  });

  it("the example graph is the transition table, edges labelled with events", () => {
    const mermaid = examples.stateMachine.getGraph().drawMermaid();
    expect(mermaid).toContain("idle -. &nbsp;start&nbsp; .-> running");
    expect(mermaid).toContain("running -. &nbsp;complete&nbsp; .-> __end__");
    expect(mermaid).toContain("running -. &nbsp;error&nbsp; .-> failed");
  });
});

describe("buildStateMachine with errorEvent: the bound is never an event either", () => {
  it("MaxTransitionsError propagates from a state that has an error transition", async () => {
    const graph = buildStateMachine<State>({
      state: State,
      initial: "idle",
      transitions: TABLE,
      handlers: { idle: () => "start", running: () => "retry" },
      errorEvent: "error",
      maxTransitions: 3,
    }).compile();
    await expect(graph.invoke({})).rejects.toBeInstanceOf(MaxTransitionsError);
  });
});
