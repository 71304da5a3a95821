/**
 * Durable threads through the facade (src/threads.ts): listing threads, a
 * thread's history, and the branches of resumeThread (answers that do not
 * fit, nothing to resume, continuing a thread that stopped without an
 * interrupt). Offline model only.
 */
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { graphFor, lastResult, runWorkflow, type WorkflowEvent } from "../src/facade.js";
import { getWorkflow } from "../graphs/index.js";
import { openCheckpointer, type OpenCheckpointer } from "../src/runtime/checkpointer.js";
import { ResumeError, UnknownThreadError, UnknownWorkflowError } from "../src/runtime/errors.js";
import { InMemorySupportDesk } from "../graphs/lib/supportDesk.js";
import { forkThread, getThreadHistory, getThreadState, listThreads, resumeThread, resumeWorkflow } from "../src/threads.js";

let open: OpenCheckpointer;
beforeAll(async () => {
  open = await openCheckpointer("memory");
});
afterAll(async () => {
  await open.close();
});

const REVIEW = { task: "Explain when to set a timeout on requests", humanReview: true };

async function nodesOf(events: AsyncIterable<WorkflowEvent>): Promise<{ nodes: string[]; result: Extract<WorkflowEvent, { type: "result" }> }> {
  const nodes: string[] = [];
  let result: Extract<WorkflowEvent, { type: "result" }> | undefined;
  for await (const e of events) if (e.type === "node") nodes.push(e.node);
  else result = e;
  return { nodes, result: result! };
}

describe("listThreads", () => {
  it("lists every thread latest first, with its workflow, checkpoints and step", async () => {
    const local = await openCheckpointer("memory");
    try {
      const saver = local.saver;
      expect(await listThreads(saver)).toEqual([]);
      await runWorkflow("supportRouting", { query: "I was charged twice" }, { checkpointer: saver, threadId: "a" });
      await runWorkflow("supportRouting", { query: "The app crashes when I log in" }, { checkpointer: saver, threadId: "b" });
      await runWorkflow("iterativeRefinement", REVIEW, { checkpointer: saver, threadId: "c" });
      let threads = await listThreads(saver);
      expect(threads.map((t) => t.threadId)).toEqual(["c", "b", "a"]);
      expect(threads.map((t) => t.workflow)).toEqual(["iterativeRefinement", "supportRouting", "supportRouting"]);
      // supportRouting: input, START, classify, handler; iterativeRefinement paused after request_review.
      expect(threads.map((t) => [t.checkpoints, t.step])).toEqual([
        [6, 4],
        [4, 2],
        [4, 2],
      ]);
      for (const t of threads) expect(Date.parse(t.updatedAt!)).not.toBeNaN();

      // A second run on "a" makes it the latest; its checkpoints add up.
      await runWorkflow("supportRouting", { query: "How do I order a card?" }, { checkpointer: saver, threadId: "a" });
      threads = await listThreads(saver);
      expect(threads.map((t) => t.threadId)).toEqual(["a", "c", "b"]);
      expect(threads[0]).toMatchObject({ workflow: "supportRouting", checkpoints: 8, step: 6 });
    } finally {
      await local.close();
    }
  });

  it("shows threads written outside the facade without a workflow, and refuses to read them as one", async () => {
    const local = await openCheckpointer("memory");
    try {
      const State = Annotation.Root({ n: Annotation<number>() });
      const plain = new StateGraph(State)
        .addNode("inc", (s: typeof State.State) => ({ n: s.n + 1 }))
        .addEdge(START, "inc")
        .addEdge("inc", END)
        .compile({ checkpointer: local.saver });
      await plain.invoke({ n: 1 }, { configurable: { thread_id: "plain" } });
      await runWorkflow("supportRouting", { query: "hi" }, { checkpointer: local.saver, threadId: "facade" });
      const threads = await listThreads(local.saver);
      expect(threads.find((t) => t.threadId === "plain")?.workflow).toBeUndefined();
      expect(threads.find((t) => t.threadId === "facade")?.workflow).toBe("supportRouting");
      const error = await getThreadState("plain", local.saver).catch((e) => e);
      expect(error).toBeInstanceOf(UnknownWorkflowError);
      expect(error.message).toContain("not recorded");
    } finally {
      await local.close();
    }
  });
});

describe("getThreadHistory", () => {
  it("names the nodes each checkpoint holds and the ones that run next", async () => {
    await runWorkflow("iterativeRefinement", REVIEW, { checkpointer: open.saver, threadId: "hist" });
    const history = await getThreadHistory("hist", open.saver);
    expect(history.map((h) => h.step)).toEqual([-1, 0, 1, 2, 3, 4]);
    expect(history.map((h) => h.source)).toEqual(["input", "loop", "loop", "loop", "loop", "loop"]);
    expect(history.map((h) => h.nodes)).toEqual([[], ["__start__"], ["generate"], ["evaluate"], ["finalize"], ["request_review"]]);
    expect(history.map((h) => h.next)).toEqual([["__start__"], ["generate"], ["evaluate"], ["finalize"], ["request_review"], ["human_review"]]);
    // Each checkpoint's next nodes are what the following one holds.
    for (let i = 1; i < history.length; i++) expect(history[i].nodes).toEqual(history[i - 1].next);
    const state = await getThreadState("hist", open.saver);
    expect(history.at(-1)!.checkpointId).toBe(state.checkpointId);
    expect(history.at(-1)!.next).toEqual(state.next);
    expect(new Set(history.map((h) => h.checkpointId)).size).toBe(history.length);
  });

  it("after a fork, each checkpoint names the nodes of its own parent, not of the branch listed before it", async () => {
    await runWorkflow("iterativeRefinement", REVIEW, { checkpointer: open.saver, threadId: "hist-fork" });
    const before = await getThreadHistory("hist-fork", open.saver);
    const afterGenerate = before.find((h) => h.nodes.includes("generate"))!;
    const fork = await lastResult(forkThread("hist-fork", afterGenerate.checkpointId, open.saver));
    expect(fork.interrupts).toHaveLength(1);

    const history = await getThreadHistory("hist-fork", open.saver);
    const byId = new Map(history.map((h) => [h.checkpointId, h]));
    const added = history.filter((h) => !before.some((b) => b.checkpointId === h.checkpointId));
    expect(added.length).toBeGreaterThan(0);
    for (const entry of added) {
      const tuple = await open.saver.getTuple({ configurable: { thread_id: "hist-fork", checkpoint_ns: "", checkpoint_id: entry.checkpointId } });
      const parent = byId.get(String(tuple!.parentConfig?.configurable?.checkpoint_id));
      expect(parent, `parent of ${entry.checkpointId}`).toBeDefined();
      if (entry.source === "loop") expect(entry.nodes).toEqual(parent!.next);
      // Nothing on the new branch was written by human_review: the old branch was paused before it.
      expect(entry.nodes).not.toContain("human_review");
    }
  });

  it("is an UnknownThreadError for a thread with no checkpoint", async () => {
    await expect(getThreadHistory("no-such-thread", open.saver)).rejects.toBeInstanceOf(UnknownThreadError);
    await expect(getThreadState("no-such-thread", open.saver)).rejects.toBeInstanceOf(UnknownThreadError);
  });
});

describe("resumeThread", () => {
  let pausedId: string;
  beforeAll(async () => {
    const out = await runWorkflow("iterativeRefinement", REVIEW, { checkpointer: open.saver, threadId: "paused" });
    pausedId = out.__interrupt__[0].id;
    await runWorkflow("supportRouting", { query: "I was charged twice" }, { checkpointer: open.saver, threadId: "finished" });
  });

  it("refuses an answer when nothing is pending", async () => {
    const error = await resumeWorkflow("finished", open.saver, { resume: { action: "approve" } }).catch((e) => e);
    expect(error).toBeInstanceOf(ResumeError);
    expect(error.message).toMatch(/"finished".*no pending interrupt to answer/);
  });

  it("refuses an unknown interrupt id and leaves the thread paused", async () => {
    const before = await getThreadState("paused", open.saver);
    const error = await resumeWorkflow("paused", open.saver, { resume: { action: "approve" }, interruptId: "bogus" }).catch((e) => e);
    expect(error).toBeInstanceOf(ResumeError);
    expect(error.message).toContain('no pending interrupt "bogus"');
    const after = await getThreadState("paused", open.saver);
    expect(after.checkpointId).toBe(before.checkpointId);
    expect(after.interrupts.map((i) => i.id)).toEqual([pausedId]);
  });

  it("refuses to continue a paused thread without an answer, naming the pending interrupt", async () => {
    const error = await resumeWorkflow("paused", open.saver).catch((e) => e);
    expect(error).toBeInstanceOf(ResumeError);
    expect(error.message).toContain(`waiting for an answer to 1 interrupt(s): ${pausedId} (human_review)`);
  });

  it("refuses to resume a finished thread", async () => {
    const error = await resumeWorkflow("finished", open.saver).catch((e) => e);
    expect(error).toBeInstanceOf(ResumeError);
    expect(error.message).toMatch(/finished; nothing to resume/);
  });

  it("is an UnknownThreadError for an unknown thread", async () => {
    await expect(resumeWorkflow("never-ran", open.saver)).rejects.toBeInstanceOf(UnknownThreadError);
    await expect(resumeWorkflow("never-ran", open.saver, { resume: { action: "approve" } })).rejects.toBeInstanceOf(UnknownThreadError);
  });

  it("answers by id the one pending interrupt", async () => {
    const result = await resumeWorkflow("paused", open.saver, { resume: { action: "approve" }, interruptId: pausedId });
    expect(result.output.review).toMatchObject({ status: "approved" });
    expect(result.threadId).toBe("paused");
  });

  it("continues a thread whose next nodes are pending without an interrupt (state edited with updateState)", async () => {
    await runWorkflow("supportRouting", { query: "I was charged twice" }, { checkpointer: open.saver, threadId: "edited" });
    const graph = graphFor(getWorkflow("supportRouting"), open.saver);
    await graph.updateState({ configurable: { thread_id: "edited" } }, { confidence: 0.1 }, "classify_query");
    const state = await getThreadState("edited", open.saver);
    expect(state.next).toEqual(["fallback"]);
    expect(state.interrupts).toEqual([]);
    const { nodes, result } = await nodesOf(resumeThread("edited", open.saver));
    expect(nodes).toEqual(["fallback"]);
    expect(result.output).toMatchObject({ route: "fallback", confidence: 0.1 });
    expect(String(result.output.fallbackReason)).toMatch(/below the threshold/);
    expect((await getThreadState("edited", open.saver)).next).toEqual([]);
  });

  it("continues a thread stopped by a failed task, re-running only the tasks that did not finish", async () => {
    /** Fails the first return, once the billing and status workers have done their desk calls (so that they finish first). */
    class FlakyDesk extends InMemorySupportDesk {
      failures = 1;
      private release!: () => void;
      private readonly othersCalled = new Promise<void>((resolve) => (this.release = resolve));
      private calls = 0;
      private called() {
        if (++this.calls === 2) this.release();
      }
      override async openCase(input: { invoiceNumber: string | null; concern: string }) {
        this.called();
        return super.openCase(input);
      }
      override async lookupOrder(orderId: string) {
        this.called();
        return super.lookupOrder(orderId);
      }
      override async createReturn(input: { product: string; reason: string }) {
        if (this.failures > 0) {
          this.failures--;
          await this.othersCalled;
          await new Promise((r) => setImmediate(r));
          throw new Error("return service unavailable");
        }
        return super.createReturn(input);
      }
    }
    const desk = new FlakyDesk();
    const { message, customerEmail } = getWorkflow("multiIntentSupport").example as { message: string; customerEmail: string };
    const options = { checkpointer: open.saver, threadId: "crashed", configurable: { supportDesk: desk } };
    await expect(runWorkflow("multiIntentSupport", { message, customerEmail, reviewBeforeSend: false }, options)).rejects.toThrow(
      "return service unavailable",
    );
    const stopped = await getThreadState("crashed", open.saver);
    // The failed worker is still to run; the two that finished are not.
    expect(stopped.next).toEqual(["handle_task"]);
    expect(stopped.interrupts).toEqual([]);
    expect(desk.cases).toHaveLength(1);
    expect(desk.returns).toHaveLength(0);
    const lookups = desk.lookups.length;

    const { nodes, result } = await nodesOf(resumeThread("crashed", open.saver, { configurable: { supportDesk: desk } }));
    // Only the failed worker runs again; the billing and status workers' writes were kept.
    expect(nodes).toEqual(["handle_task", "write_email", "send_email"]);
    expect(desk.cases).toHaveLength(1);
    expect(desk.returns).toHaveLength(1);
    expect(desk.lookups).toHaveLength(lookups);
    expect(desk.emails).toHaveLength(1);
    expect(result.output.sent).toEqual({ messageId: desk.emails[0].messageId, to: customerEmail });
    expect((result.output.outcomes as Array<{ status: string }>).map((o) => o.status)).toEqual(["done", "done", "done"]);
  });
});
