import { interrupt, MemorySaver, StateSchema } from "@langchain/langgraph";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { buildPromptChain, chainFields } from "../../src/patterns/workflow/promptChain.js";
import { eventLog, forkAt, NoCheckpointAtStepError, resumeRun, stateAt } from "../../src/patterns/state/eventSourcing.js";
import { examples } from "../../graphs/examples/resilienceAndState.js";
import { buildTryCatch, tryCatchFields } from "../../src/patterns/resilience/tryCatch.js";
import { buildDag, type DagNode } from "../../src/patterns/composition/dag.js";
import { ConfigurationError, ResumeError, UnknownCheckpointError, UnknownThreadError } from "../../src/runtime/errors.js";

const State = new StateSchema({ text: z.string().default(""), outline: z.string().default(""), draft: z.string().default(""), ...chainFields });
type State = typeof State.State;

function docGraph(calls: string[] = [], failDraft?: () => boolean) {
  return buildPromptChain<State>({
    state: State,
    steps: [
      { name: "makeOutline", run: (s) => (calls.push("makeOutline"), { outline: `outline(${s.text})` }) },
      {
        name: "writeDraft",
        run: (s) => {
          calls.push("writeDraft");
          if (failDraft?.()) throw new Error("draft service down");
          return { draft: `draft(${s.outline})` };
        },
      },
    ],
    retryPolicy: false,
  }).compile({ checkpointer: new MemorySaver() });
}
const thread = (id: string) => ({ configurable: { thread_id: id } });

describe("eventLog", () => {
  it("lists the checkpoints oldest first with the writes (events) that produced each", async () => {
    const graph = docGraph();
    await graph.invoke({ text: "cats" }, thread("log"));
    const log = await eventLog(graph, "log");
    expect(log.map((e) => [e.step, e.source, e.nodes, e.next])).toEqual([
      [-1, "input", [], ["__start__"]],
      [0, "loop", ["__start__"], ["makeOutline"]],
      [1, "loop", ["makeOutline"], ["writeDraft"]],
      [2, "loop", ["writeDraft"], []],
    ]);
    expect(log[1].writes).toEqual([{ node: "__start__", update: { text: "cats" } }]);
    expect(log[2].writes).toEqual([{ node: "makeOutline", update: { outline: "outline(cats)", stopReason: null, stoppedAfter: null } }]);
    expect(log[3].writes[0]).toMatchObject({ node: "writeDraft", update: { draft: "draft(outline(cats))" } });
    // ISO 8601 times, oldest first.
    for (const e of log) expect(new Date(e.createdAt!).toISOString()).toBe(e.createdAt);
    expect(log.map((e) => e.createdAt)).toEqual(log.map((e) => e.createdAt).sort());
    expect(log[0].parentCheckpointId).toBeUndefined();
    log.slice(1).forEach((e, i) => expect(e.parentCheckpointId).toBe(log[i].checkpointId));
  });

  it("records a failed task's error and its error handler's writes", async () => {
    const TryState = new StateSchema({ done: z.array(z.string()).default(() => []), ...tryCatchFields });
    const graph = buildTryCatch<typeof TryState.State>({
      state: TryState,
      steps: [{ name: "risky", run: () => { throw new Error("nope"); } }],
      finally: { name: "cleanup", run: () => ({ done: ["cleanup"] }) },
      retryPolicy: false,
    }).compile({ checkpointer: new MemorySaver() });
    await graph.invoke({}, thread("errors")).catch(() => undefined);
    const log = await eventLog(graph, "errors");
    const failed = log.find((e) => e.nodes.includes("risky"))!;
    expect(failed.writes).toEqual([
      { node: "risky", update: {}, error: { name: "Error", message: "nope" } },
      { node: "__error_handler__risky", update: { caught: { node: "risky", name: "Error", message: "nope" }, catchFailure: null } },
    ]);
  });

  it("refuses a graph without a checkpointer and an unknown thread", async () => {
    const graph = docGraph();
    await expect(eventLog(graph, "nobody")).rejects.toBeInstanceOf(UnknownThreadError);
    const bare = buildPromptChain<State>({ state: State, steps: [{ name: "a", run: () => ({}) }] }).compile();
    await expect(eventLog(bare, "x")).rejects.toBeInstanceOf(ConfigurationError);
  });
});

describe("stateAt", () => {
  it("rebuilds the state at any step, or at a checkpoint id", async () => {
    const graph = docGraph();
    await graph.invoke({ text: "dogs" }, thread("at"));
    expect((await stateAt(graph, "at", 0)).values).toMatchObject({ text: "dogs", outline: "", draft: "" });
    expect((await stateAt(graph, "at", 1)).values).toMatchObject({ outline: "outline(dogs)", draft: "" });
    const last = await stateAt(graph, "at", 2);
    expect(last.values).toMatchObject({ draft: "draft(outline(dogs))" });
    expect(last.next).toEqual([]);
    const log = await eventLog(graph, "at");
    expect((await stateAt(graph, "at", { checkpointId: log[2].checkpointId })).step).toBe(1);
  });

  it("names the steps there are when a step has no checkpoint; refuses an unknown checkpoint id", async () => {
    const graph = docGraph();
    await graph.invoke({ text: "x" }, thread("missing"));
    const error = await stateAt(graph, "missing", 7).catch((e) => e);
    expect(error).toBeInstanceOf(NoCheckpointAtStepError);
    expect(error.message).toContain("its steps are -1, 0, 1, 2");
    await expect(stateAt(graph, "missing", { checkpointId: "nope" })).rejects.toBeInstanceOf(UnknownCheckpointError);
  });

  it("steps go on across runs of a thread; earlier runs stay readable", async () => {
    const graph = docGraph();
    await graph.invoke({ text: "one" }, thread("runs"));
    await graph.invoke({ text: "two" }, thread("runs"));
    expect((await stateAt(graph, "runs", 2)).values).toMatchObject({ draft: "draft(outline(one))" });
    expect((await stateAt(graph, "runs", 6)).values).toMatchObject({ draft: "draft(outline(two))" });
  });
});

describe("forkAt", () => {
  it("runs again from a past step with edited values; the old branch stays in the log", async () => {
    const calls: string[] = [];
    const graph = docGraph(calls);
    await graph.invoke({ text: "birds" }, thread("fork"));
    calls.length = 0;
    const fork = await forkAt(graph, "fork", 1, { values: { outline: "a shorter outline" } });
    expect(fork.output).toMatchObject({ outline: "a shorter outline", draft: "draft(a shorter outline)" });
    expect(calls).toEqual(["writeDraft"]);
    const log = await eventLog(graph, "fork");
    const update = log.filter((e) => e.source === "update");
    expect(update).toHaveLength(1);
    expect(update[0].writes).toEqual([{ node: "__update__", update: { outline: "a shorter outline" } }]);
    // Both branches: the original draft and the fork's.
    const drafts = log.filter((e) => e.nodes.includes("writeDraft"));
    expect(drafts.map((e) => e.writes[0].update.draft)).toEqual(["draft(outline(birds))", "draft(a shorter outline)"]);
    expect(drafts[1].parentCheckpointId).toBe(update[0].checkpointId);
    expect(update[0].parentCheckpointId).toBe(drafts[0].parentCheckpointId);
    // The fork is now the thread's state; stateAt follows the fork's branch.
    expect((await graph.getState(thread("fork"))).values.draft).toBe("draft(a shorter outline)");
    expect((await stateAt(graph, "fork", 1)).values.outline).toBe("outline(birds)");
  });

  it("run: false only prepares the fork", async () => {
    const graph = docGraph();
    await graph.invoke({ text: "fish" }, thread("prepare"));
    const fork = await forkAt(graph, "prepare", 1, { values: { outline: "edited" }, run: false });
    expect(fork.output).toBeUndefined();
    const state = await graph.getState(thread("prepare"));
    expect(state.values.outline).toBe("edited");
    expect(state.next).toEqual(["writeDraft"]);
  });
});

describe("resumeRun (checkpoint/resume)", () => {
  it("continues a failed run from its last checkpoint: finished steps do not run again", async () => {
    const calls: string[] = [];
    let down = true;
    const graph = docGraph(calls, () => down);
    await expect(graph.invoke({ text: "owls" }, thread("resume"))).rejects.toThrow("draft service down");
    expect(calls).toEqual(["makeOutline", "writeDraft"]);
    down = false;
    const out = await resumeRun(graph, "resume");
    expect(out.draft).toBe("draft(outline(owls))");
    expect(calls).toEqual(["makeOutline", "writeDraft", "writeDraft"]);
  });

  it("a timed-out node: the log records its NodeTimeoutError, and the resumed run finishes it", async () => {
    // Only writeDraft has a timeout, and its first attempt waits until that timeout aborts
    // it: the NodeTimeoutError comes from writeDraft however slow the machine is. (A
    // graph-wide 20 ms timeout also bounded makeOutline, which under load took longer:
    // the run then failed at step 0 and there was no step 1 to read.) The thread is
    // resumed by the same graph compiled without the timeout, on the same checkpointer
    // (a redeploy with a longer limit), so the resumed attempt cannot time out either.
    const saver = new MemorySaver();
    const draftGraph = (writeDraft: DagNode<State>) =>
      buildDag<State>({
        state: State,
        nodes: { makeOutline: { run: (s) => ({ outline: `outline(${s.text})` }) }, writeDraft: { ...writeDraft, dependsOn: ["makeOutline"] } },
        retryPolicy: false,
      }).compile({ checkpointer: saver });
    const hanging = draftGraph({
      run: (_s, config) =>
        new Promise((_resolve, reject) => {
          const t = setTimeout(() => reject(new Error("not aborted")), 10_000);
          config.signal?.addEventListener("abort", () => (clearTimeout(t), reject(config.signal!.reason)));
        }),
      timeoutMs: 20,
    });
    const redeployed = draftGraph({ run: (s) => ({ draft: `draft(${s.outline})` }) });
    await expect(hanging.invoke({ text: "late" }, thread("timeout"))).rejects.toMatchObject({ name: "NodeTimeoutError", node: "writeDraft", timeout: 20 });
    const failedAt = await stateAt(hanging, "timeout", 1);
    expect(failedAt.next).toEqual(["writeDraft"]);
    expect(failedAt.values).toMatchObject({ outline: "outline(late)", draft: "" });
    expect((await resumeRun(redeployed, "timeout")).draft).toBe("draft(outline(late))");
    const log = await eventLog(redeployed, "timeout");
    expect(log.map((e) => e.step)).toEqual([-1, 0, 1, 2]);
    // The task's failed attempt and its resumed success are one task of the same checkpoint: both are in its event.
    expect(log.at(-1)!.writes).toEqual([
      {
        node: "writeDraft",
        update: { draft: "draft(outline(late))" },
        error: { name: "NodeTimeoutError", message: expect.stringContaining("run timeout of 20ms") },
      },
    ]);
  });

  it("refuses a finished thread and an unknown one", async () => {
    const graph = docGraph();
    await graph.invoke({ text: "x" }, thread("done"));
    await expect(resumeRun(graph, "done")).rejects.toBeInstanceOf(ResumeError);
    await expect(resumeRun(graph, "ghost")).rejects.toBeInstanceOf(UnknownThreadError);
  });

  it("answers a pending interrupt with resume; refuses to continue without an answer", async () => {
    const graph = buildPromptChain<State>({
      state: State,
      steps: [{ name: "ask", run: () => ({ outline: String(interrupt({ question: "outline?" })) }) }],
    }).compile({ checkpointer: new MemorySaver() });
    await graph.invoke({ text: "t" }, thread("hitl"));
    await expect(resumeRun(graph, "hitl")).rejects.toThrow(/waiting for an answer/);
    const out = await resumeRun(graph, "hitl", { resume: "from a human" });
    expect(out.outline).toBe("from a human");
  });

  it("works on the example graph", async () => {
    await examples.eventSourcing.invoke({ text: "example" }, thread("example"));
    const log = await eventLog(examples.eventSourcing, "example");
    expect(log.at(-1)!.nodes).toEqual(["writeDraft"]);
  });
});
