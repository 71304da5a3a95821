/**
 * Human in the loop: the approval step (approve / edit / reject with a reason,
 * deadlines) in iterativeRefinement and multiIntentSupport, several pending
 * interrupts in one superstep, and side effects before `interrupt()`.
 * Offline model only (vitest.config.ts clears the provider variables).
 */
import {
  Annotation,
  Command,
  END,
  interrupt,
  MemorySaver,
  Send,
  START,
  StateGraph,
  type BaseCheckpointSaver,
  type LangGraphRunnableConfig,
} from "@langchain/langgraph";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { graphFor, lastResult, runWorkflow, streamWorkflow, type WorkflowEvent } from "../src/facade.js";
import { HUMAN_REVIEW_NODE, MAX_EDIT_CHARS, parseReviewDecision, REQUEST_REVIEW_NODE } from "../src/patterns/state/approval.js";
import { createRegistry } from "../src/registry.js";
import { getWorkflow } from "../graphs/index.js";
import { openCheckpointer, type OpenCheckpointer } from "../src/runtime/checkpointer.js";
import { InvalidInputError, ResumeError } from "../src/runtime/errors.js";
import { onceForTask } from "../src/runtime/ledger.js";
import { InMemorySupportDesk } from "../graphs/lib/supportDesk.js";
import {
  forkThread,
  getThreadHistory,
  getThreadState,
  getThreadState as getThreadStateFacade,
  resumeThread,
  resumeWorkflow,
  resumeWorkflow as resumeFacade,
  type ResumeOptions,
} from "../src/threads.js";
import { defineWorkflow } from "../src/workflow.js";

let open: OpenCheckpointer;
let saver: BaseCheckpointSaver;
beforeAll(async () => {
  open = await openCheckpointer("memory");
  saver = open.saver;
});
afterAll(async () => {
  await open.close();
});

/** The `__interrupt__` list of a graph's invoke output (there when the run paused). */
const pendingOf = (out: object) => (out as { __interrupt__?: Array<{ id: string; value: unknown }> }).__interrupt__;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type Result = Extract<WorkflowEvent, { type: "result" }>;

async function collect(events: AsyncIterable<WorkflowEvent>): Promise<{ nodes: string[]; interrupted: string[]; result: Result }> {
  const nodes: string[] = [];
  const interrupted: string[] = [];
  let result: Result | undefined;
  for await (const e of events) {
    if (e.type === "node") {
      nodes.push(e.node);
      if (e.interrupted) interrupted.push(e.node);
    } else result = e;
  }
  return { nodes, interrupted, result: result! };
}

/** State values at the checkpoint written by the first (or `nth`) step in which `node` ran. */
async function valuesAfter(threadId: string, node: string, nth = 0): Promise<Record<string, any>> {
  const entry = (await getThreadHistory(threadId, saver)).filter((h) => h.nodes.includes(node))[nth];
  expect(entry, `a checkpoint after ${node}`).toBeDefined();
  const tuple = await saver.getTuple({ configurable: { thread_id: threadId, checkpoint_ns: "", checkpoint_id: entry.checkpointId } });
  return tuple!.checkpoint.channel_values as Record<string, any>;
}

const TASK = { task: "Explain when to set a timeout on requests", humanReview: true };

async function pausedRefinement(threadId: string, extra: Record<string, unknown> = {}) {
  const run = await collect(streamWorkflow("iterativeRefinement", { ...TASK, ...extra }, { checkpointer: saver, threadId }));
  expect(run.result.interrupts).toHaveLength(1);
  return run;
}

describe("iterativeRefinement with humanReview", () => {
  it("pauses at human_review with an approval request carrying the draft", async () => {
    const { nodes, interrupted, result } = await pausedRefinement("ir-pause");
    expect(nodes).toEqual(["generate", "evaluate", "finalize", "request_review", "human_review"]);
    expect(interrupted).toEqual(["human_review"]);
    const [pending] = result.interrupts;
    expect(pending.node).toBe("human_review");
    expect(pending.id).toMatch(/\S/);
    const request = pending.value as Record<string, any>;
    expect(request.kind).toBe("approval");
    expect(request.draft).toEqual({ draft: result.output.final, score: result.output.finalScore });
    expect(String(result.output.final).length).toBeGreaterThan(0);
    expect(request.actions).toEqual(["approve", "edit", "reject"]);
    expect(request.deadline).toBeNull();
    expect(result.output.review).toMatchObject({ status: "pending", decidedBy: null });

    const state = await getThreadState("ir-pause", saver);
    expect(state.next).toEqual(["human_review"]);
    expect(state.interrupts.map((i) => i.id)).toEqual([pending.id]);

    // runWorkflow reports the pause as __interrupt__.
    const out = await runWorkflow("iterativeRefinement", TASK, { checkpointer: saver, threadId: "ir-pause-2" });
    expect(out.__interrupt__).toHaveLength(1);
    expect(out.__interrupt__[0].value.kind).toBe("approval");
  });

  it("approve ends the run with the draft approved by the reviewer", async () => {
    const paused = await pausedRefinement("ir-approve");
    const { nodes, result } = await collect(resumeThread("ir-approve", saver, { resume: { action: "approve" } }));
    expect(nodes).toEqual(["human_review"]);
    expect(result.interrupts).toEqual([]);
    expect(result.output.review).toMatchObject({ status: "approved", decidedBy: "reviewer", reason: null });
    expect(result.output.final).toBe(paused.result.output.final);
    expect((await getThreadState("ir-approve", saver)).next).toEqual([]);
  });

  it("edit replaces the final draft with the reviewer's text", async () => {
    await pausedRefinement("ir-edit");
    const result = await resumeWorkflow("ir-edit", saver, { resume: { action: "edit", value: "new text" } });
    expect(result.interrupts).toEqual([]);
    expect(result.output.final).toBe("new text");
    expect(result.output.review).toMatchObject({ status: "edited", decidedBy: "reviewer" });
  });

  it("reject routes back to generate with the reason as feedback, then asks again; approve finishes", async () => {
    const paused = await pausedRefinement("ir-reject");
    const attemptsBefore = (paused.result.output.attempts as unknown[]).length;
    const reason = "add an example of a read timeout";
    const again = await collect(resumeThread("ir-reject", saver, { resume: { action: "reject", reason } }));
    expect(again.nodes).toEqual(["human_review", "generate", "evaluate", "finalize", "request_review", "human_review"]);
    expect(again.interrupted).toEqual(["human_review"]);
    expect(again.result.interrupts).toHaveLength(1);
    expect(again.result.interrupts[0].id).not.toBe(paused.result.interrupts[0].id);
    expect((again.result.output.attempts as unknown[]).length).toBe(attemptsBefore + 1);
    expect(again.result.output.iteration).toBe((paused.result.output.iteration as number) + 1);
    expect(again.result.output.review).toMatchObject({ status: "pending" });

    // The rejection, as recorded when human_review ran: the reason is the feedback for the revision.
    const afterReview = await valuesAfter("ir-reject", "human_review");
    expect(afterReview.review).toMatchObject({ status: "rejected", decidedBy: "reviewer", reason });
    expect(afterReview.feedback).toBe(reason);
    expect(afterReview.revisedAfter).toBe(paused.result.output.iteration);

    const done = await resumeWorkflow("ir-reject", saver, { resume: { action: "approve" } });
    expect(done.interrupts).toEqual([]);
    expect(done.output.review).toMatchObject({ status: "approved", decidedBy: "reviewer" });
    expect((done.output.attempts as unknown[]).length).toBe(attemptsBefore + 1);
  });

  it.each<[string, unknown, string]>([
    ["a rejection without a reason", { action: "reject" }, "reason"],
    ["a rejection with a blank reason", { action: "reject", reason: "  " }, "reason"],
    ["an edit without a value", { action: "edit" }, "value"],
    ["an unknown action", { action: "maybe" }, "action"],
    ["an edit over MAX_EDIT_CHARS", { action: "edit", value: "x".repeat(MAX_EDIT_CHARS + 1) }, "value"],
    ["a bare string", "yes", "(root)"],
  ])("refuses %s, naming the field, and the thread stays paused", async (_label, answer, field) => {
    const threadId = `ir-invalid-${field}-${JSON.stringify(answer).length}`;
    const paused = await pausedRefinement(threadId);
    const before = await getThreadState(threadId, saver);
    const error = await resumeWorkflow(threadId, saver, { resume: answer }).catch((e) => e);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error.issues.map((i: { path: string }) => i.path)).toContain(field);
    expect(error.message).toContain(`${field}:`);
    const after = await getThreadState(threadId, saver);
    expect(after.checkpointId).toBe(before.checkpointId);
    expect(after.next).toEqual(["human_review"]);
    expect(after.interrupts.map((i) => i.id)).toEqual(paused.result.interrupts.map((i) => i.id));
    // A valid answer still works afterwards.
    const done = await resumeWorkflow(threadId, saver, { resume: { action: "approve" } });
    expect(done.output.review).toMatchObject({ status: "approved" });
  });

  it("after the deadline the answer is ignored: the draft is rejected by the deadline and revised", async () => {
    const paused = await pausedRefinement("ir-deadline", { reviewTimeoutMs: 1 });
    const request = paused.result.interrupts[0].value as { deadline: string | null };
    expect(request.deadline).toEqual(expect.any(String));
    await sleep(20);
    const again = await collect(resumeThread("ir-deadline", saver, { resume: { action: "approve" } }));
    // Not approved: routed back to generate and asked again.
    expect(again.nodes).toEqual(["human_review", "generate", "evaluate", "finalize", "request_review", "human_review"]);
    expect(again.result.interrupts).toHaveLength(1);
    expect((again.result.output.attempts as unknown[]).length).toBe((paused.result.output.attempts as unknown[]).length + 1);
    const afterReview = await valuesAfter("ir-deadline", "human_review");
    expect(afterReview.review).toMatchObject({ status: "rejected", decidedBy: "deadline" });
    expect(afterReview.review.reason).toMatch(/deadline/);
    expect(afterReview.feedback).toBe(afterReview.review.reason);
    expect(afterReview.review.status).not.toBe("approved");
  });
});

describe("an invalid answer given to the graph itself (as the LangGraph server passes it on)", () => {
  const graph = () => graphFor(getWorkflow("iterativeRefinement"), saver);
  const config = (threadId: string) => ({ configurable: { thread_id: threadId } });
  type Asked = { id: string; value: { kind: string; error: string | null; draft: unknown } };

  it("is asked again with the error; the thread stays paused and a valid answer (plain or by id) finishes it", async () => {
    const threadId = "ir-reask";
    const paused = await pausedRefinement(threadId);
    const first = paused.result.interrupts[0];
    expect((first.value as { error: unknown }).error).toBeNull();

    // The answer of the issue: a rejection without a reason, as a plain resume.
    const out = await graph().invoke(new Command({ resume: { action: "reject" } }), config(threadId));
    const [asked] = pendingOf(out) as Asked[];
    expect(asked.value.kind).toBe("approval");
    expect(asked.value.error).toBe("reason: a rejection needs a reason");
    expect(asked.value.draft).toEqual((first.value as { draft: unknown }).draft);
    expect(asked.id).not.toBe(first.id);
    const state = await getThreadState(threadId, saver);
    expect(state.next).toEqual(["human_review"]);
    expect(state.interrupts.map((i) => i.id)).toEqual([asked.id]);
    expect(state.values.review).toMatchObject({ status: "pending", decidedBy: null, error: "reason: a rejection needs a reason" });
    // The draft and the loop were not touched.
    expect(state.values.final).toBe(paused.result.output.final);
    expect(state.values.attempts).toEqual(paused.result.output.attempts);

    // A second wrong answer, by interrupt id: an edit over the limit.
    const big = await graph().invoke(new Command({ resume: { [asked.id]: { action: "edit", value: "x".repeat(MAX_EDIT_CHARS + 1) } } }), config(threadId));
    const [again] = pendingOf(big) as Asked[];
    expect(again.value.error).toBe(`value: an edit is at most ${MAX_EDIT_CHARS} characters (MAX_EDIT_CHARS); got ${MAX_EDIT_CHARS + 1} characters`);
    expect(again.id).not.toBe(asked.id);

    // A valid answer by id: the refused answers are not replayed.
    const done = await graph().invoke(new Command({ resume: { [again.id]: { action: "approve" } } }), config(threadId));
    expect(pendingOf(done)).toBeUndefined();
    expect(done.review).toMatchObject({ status: "approved", decidedBy: "reviewer", error: null });
    expect(done.final).toBe(paused.result.output.final);
    expect((await getThreadState(threadId, saver)).next).toEqual([]);
  });

  it("a plain resume after a refused one is the new answer (not the refused one replayed)", async () => {
    const threadId = "ir-reask-plain";
    await pausedRefinement(threadId);
    await graph().invoke(new Command({ resume: "yes" }), config(threadId));
    const state = await getThreadState(threadId, saver);
    expect(state.interrupts).toHaveLength(1);
    expect((state.interrupts[0].value as { error: string }).error).toMatch(/^\(root\): /);
    const done = await graph().invoke(new Command({ resume: { action: "edit", value: "the reviewer's text" } }), config(threadId));
    expect(done.final).toBe("the reviewer's text");
    expect(done.review).toMatchObject({ status: "edited", error: null });
  });

  it("the facade answers the question asked again (the pending interrupt carries the error)", async () => {
    const threadId = "ir-reask-facade";
    await pausedRefinement(threadId);
    await graph().invoke(new Command({ resume: { action: "edit" } }), config(threadId));
    const [pending] = (await getThreadState(threadId, saver)).interrupts;
    expect(pending).toMatchObject({ node: "human_review", value: { kind: "approval", error: "value: an edit needs a value" } });
    // The facade still checks the answer before resuming.
    await expect(resumeWorkflow(threadId, saver, { resume: { action: "reject", reason: "" } })).rejects.toThrow(/reason: a rejection needs a reason/);
    expect((await getThreadState(threadId, saver)).interrupts.map((i) => i.id)).toEqual([pending.id]);
    const { nodes, result } = await collect(resumeThread(threadId, saver, { resume: { action: "reject", reason: "shorter" }, interruptId: pending.id }));
    expect(nodes.slice(0, 2)).toEqual(["human_review", "generate"]);
    expect(result.interrupts).toHaveLength(1);
    const afterReview = await valuesAfter(threadId, "human_review", 1);
    expect(afterReview.review).toMatchObject({ status: "rejected", reason: "shorter", error: null });
  });

  it("after the deadline any answer, even an invalid one, gets the default action", async () => {
    const threadId = "ir-reask-deadline";
    await pausedRefinement(threadId, { reviewTimeoutMs: 1 });
    await sleep(20);
    await graph().invoke(new Command({ resume: { action: "reject" } }), config(threadId));
    const afterReview = await valuesAfter(threadId, "human_review");
    expect(afterReview.review).toMatchObject({ status: "rejected", decidedBy: "deadline", error: null });
  });
});

describe("MAX_EDIT_CHARS", () => {
  it("accepts an edit of exactly the limit and refuses one character more, in one line naming the field", () => {
    expect(parseReviewDecision({ action: "edit", value: "é".repeat(MAX_EDIT_CHARS) })).toMatchObject({ action: "edit" });
    const error = (() => {
      try {
        parseReviewDecision({ action: "edit", value: "é".repeat(MAX_EDIT_CHARS + 1) });
      } catch (e) {
        return e as InvalidInputError;
      }
    })();
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error!.issues).toEqual([{ path: "value", message: expect.stringContaining(`at most ${MAX_EDIT_CHARS} characters`) }]);
    expect(error!.message).not.toContain("\n");
  });

  it("measures a value that is not text by its JSON", () => {
    const lines = Array.from({ length: MAX_EDIT_CHARS / 10 }, () => "123456789");
    expect(() => parseReviewDecision({ action: "edit", value: { lines } })).toThrow(/value: an edit is at most/);
    expect(parseReviewDecision({ action: "edit", value: { lines: lines.slice(0, 1000) } })).toMatchObject({ action: "edit" });
  });
});

const MESSAGE = getWorkflow("multiIntentSupport").example as { message: string; customerEmail: string };
const SUPPORT_INPUT = { message: MESSAGE.message, customerEmail: MESSAGE.customerEmail, reviewBeforeSend: true };

async function pausedSupport(threadId: string, extra: Record<string, unknown> = {}) {
  const desk = new InMemorySupportDesk();
  const run = await collect(
    streamWorkflow("multiIntentSupport", { ...SUPPORT_INPUT, ...extra }, { checkpointer: saver, threadId, configurable: { supportDesk: desk } }),
  );
  expect(run.interrupted).toEqual(["human_review"]);
  expect(run.result.interrupts).toHaveLength(1);
  const resume = (options: ResumeOptions) => collect(resumeThread(threadId, saver, { ...options, configurable: { supportDesk: desk } }));
  return { desk, run, resume };
}

describe("multiIntentSupport with reviewBeforeSend", () => {
  it("pauses before sending: the desk acted, no email went out", async () => {
    const { desk, run } = await pausedSupport("mi-pause");
    expect(run.nodes).not.toContain("send_email");
    expect(desk.emails).toEqual([]);
    expect(desk.cases).toHaveLength(1);
    expect(desk.returns).toHaveLength(1);
    expect(run.result.output.sent).toBeNull();
    const request = run.result.interrupts[0].value as Record<string, any>;
    expect(request.kind).toBe("approval");
    expect(request.draft.to).toBe(MESSAGE.customerEmail);
    expect(request.draft.email).toBe(run.result.output.email);
    expect(String(request.draft.email)).toContain("CASE-00001");
    expect((await getThreadState("mi-pause", saver)).next).toEqual(["human_review"]);
  });

  it("approve sends exactly one email with the approved text", async () => {
    const { desk, run, resume } = await pausedSupport("mi-approve");
    const { nodes, result } = await resume({ resume: { action: "approve" } });
    expect(nodes).toEqual(["human_review", "send_email"]);
    expect(desk.emails).toHaveLength(1);
    expect(desk.emails[0]).toMatchObject({ to: MESSAGE.customerEmail, body: run.result.output.email });
    expect(result.output.sent).toEqual({ messageId: desk.emails[0].messageId, to: MESSAGE.customerEmail });
    expect(result.output.review).toMatchObject({ status: "approved", decidedBy: "reviewer" });
    // The workers did not run again: still one case, one return.
    expect(desk.cases).toHaveLength(1);
    expect(desk.returns).toHaveLength(1);
  });

  it("edit sends the edited text", async () => {
    const { desk, resume } = await pausedSupport("mi-edit");
    const edited = "Dear Jane, your case, return and order are all taken care of.";
    const { result } = await resume({ resume: { action: "edit", value: edited } });
    expect(desk.emails.map((e) => e.body)).toEqual([edited]);
    expect(result.output.email).toBe(edited);
    expect(result.output.sent).toMatchObject({ messageId: desk.emails[0].messageId });
    expect(result.output.review).toMatchObject({ status: "edited" });
  });

  it("reject re-runs write_email with the reviewer's feedback and asks again; nothing is sent until approved", async () => {
    const { desk, resume } = await pausedSupport("mi-reject");
    const again = await resume({ resume: { action: "reject", reason: "mention the refund timeline" } });
    expect(again.nodes).toEqual(["human_review", "write_email", "request_review", "human_review"]);
    expect(again.interrupted).toEqual(["human_review"]);
    expect(again.result.output.reviewerFeedback).toBe("mention the refund timeline");
    expect(again.result.output.review).toMatchObject({ status: "pending" });
    expect(desk.emails).toEqual([]);
    expect(desk.cases).toHaveLength(1);
    const done = await resume({ resume: { action: "approve" } });
    expect(desk.emails).toHaveLength(1);
    expect(desk.emails[0].body).toBe(done.result.output.email);
    expect(done.result.output.sent).toMatchObject({ messageId: desk.emails[0].messageId });
  });

  it("escalates at the deadline and sends nothing", async () => {
    const { desk, resume } = await pausedSupport("mi-deadline", { reviewTimeoutMs: 1 });
    await sleep(20);
    const { nodes, result } = await resume({ resume: { action: "approve" } });
    expect(nodes).toEqual(["human_review"]);
    expect(result.interrupts).toEqual([]);
    expect(result.output.review).toMatchObject({ status: "escalated", decidedBy: "deadline" });
    expect(result.output.sent).toBeNull();
    expect(desk.emails).toEqual([]);
    expect((await getThreadState("mi-deadline", saver)).next).toEqual([]);
  });
});

describe("re-deciding an answered review (multiIntentSupport: the email goes out once per decision)", () => {
  /** An approved, sent thread, and the checkpoint at its review (the last one whose next task is human_review). */
  async function approvedSupport(threadId: string) {
    const paused = await pausedSupport(threadId);
    const approved = await paused.resume({ resume: { action: "approve" } });
    expect(paused.desk.emails).toHaveLength(1);
    const atReview = (await getThreadHistory(threadId, saver)).filter((h) => h.next.includes(HUMAN_REVIEW_NODE)).at(-1)!;
    expect(atReview.nodes).toEqual([REQUEST_REVIEW_NODE]);
    return { ...paused, approved: approved.result, atReview: atReview.checkpointId };
  }
  const graph = () => graphFor(getWorkflow("multiIntentSupport"), saver);

  it("a new answer given as Command({ resume }) at the review checkpoint replays the old decision and sends nothing again", async () => {
    const threadId = "mi-fork-resume";
    const { desk, approved, atReview } = await approvedSupport(threadId);
    const decision = approved.output.review as { decisionId: string };
    expect(decision.decisionId).toMatch(/^human_review:/);
    const out = await graph().invoke(new Command({ resume: { action: "reject", reason: "be shorter" } }), {
      configurable: { thread_id: threadId, checkpoint_id: atReview, supportDesk: desk },
    });
    // LangGraph resumes at that checkpoint with the answer it stored there: still the approval.
    expect(out.review).toMatchObject({ status: "approved", decisionId: decision.decisionId });
    expect(out.reviewerFeedback).toBeNull();
    // The same decision: the send is not repeated.
    expect(desk.emails).toHaveLength(1);
    expect(out.sent).toEqual(approved.output.sent);
  });

  it("a fork without input at the review asks again; the new decision is the one applied and sent", async () => {
    const threadId = "mi-fork-redecide";
    const { desk, approved, atReview } = await approvedSupport(threadId);
    const asked = await collect(forkThread(threadId, atReview, saver, { configurable: { supportDesk: desk } }));
    expect(asked.interrupted).toEqual([HUMAN_REVIEW_NODE]);
    expect(asked.nodes).not.toContain("send_email");
    expect(asked.result.output.review).toMatchObject({ status: "pending", decisionId: null });
    expect(desk.emails).toHaveLength(1);

    const edited = "Dear Jane, a corrected reply.";
    const done = await collect(resumeThread(threadId, saver, { resume: { action: "edit", value: edited }, configurable: { supportDesk: desk } }));
    expect(done.nodes).toEqual([HUMAN_REVIEW_NODE, "send_email"]);
    expect(done.result.output.review).toMatchObject({ status: "edited", decidedBy: "reviewer" });
    expect((done.result.output.review as { decisionId: string }).decisionId).not.toBe((approved.output.review as { decisionId: string }).decisionId);
    expect(desk.emails.map((e) => e.body)).toEqual([approved.output.email, edited]);
    expect(done.result.output.sent).toMatchObject({ messageId: desk.emails[1].messageId });
  });

  it("re-opening with updateState({ review: null }) as request_review, then resuming, takes the new answer (even after the deadline)", async () => {
    const threadId = "mi-reopen";
    const paused = await pausedSupport(threadId, { reviewTimeoutMs: 60_000 });
    await paused.resume({ resume: { action: "approve" } });
    const atReview = (await getThreadHistory(threadId, saver)).filter((h) => h.next.includes(HUMAN_REVIEW_NODE)).at(-1)!.checkpointId;
    const reopened = await graph().updateState(
      { configurable: { thread_id: threadId, checkpoint_ns: "", checkpoint_id: atReview } },
      { review: null },
      REQUEST_REVIEW_NODE,
    );
    expect((await getThreadState(threadId, saver)).next).toEqual([HUMAN_REVIEW_NODE]);
    const out = await graph().invoke(new Command({ resume: { action: "reject", reason: "mention the refund timeline" } }), {
      configurable: { thread_id: threadId, supportDesk: paused.desk },
    });
    expect(reopened.configurable?.checkpoint_id).not.toBe(atReview);
    // The rejection was taken: write_email ran with the feedback and the review is asked again; nothing new was sent.
    expect(out.reviewerFeedback).toBe("mention the refund timeline");
    expect(pendingOf(out)).toHaveLength(1);
    expect(out.review).toMatchObject({ status: "pending", deadline: expect.any(String) });
    expect(paused.desk.emails).toHaveLength(1);
  });

  it("a fork after the decision (at send_email) does not send again", async () => {
    const threadId = "mi-fork-send";
    const { desk, approved } = await approvedSupport(threadId);
    const beforeSend = (await getThreadHistory(threadId, saver)).filter((h) => h.next.includes("send_email")).at(-1)!.checkpointId;
    const again = await collect(forkThread(threadId, beforeSend, saver, { configurable: { supportDesk: desk } }));
    expect(again.nodes).toEqual(["send_email"]);
    expect(desk.emails).toHaveLength(1);
    expect(again.result.output.sent).toEqual(approved.output.sent);
  });

  it("an edit over MAX_EDIT_CHARS is refused and nothing is sent", async () => {
    const threadId = "mi-edit-too-big";
    const { desk, run, resume } = await pausedSupport(threadId);
    const huge = "x".repeat(1024 * 1024);
    await expect(resume({ resume: { action: "edit", value: huge } })).rejects.toThrow(/value: an edit is at most 100000 characters/);
    // Past the facade (as the server passes it on): asked again, nothing sent.
    const out = await graph().invoke(new Command({ resume: { action: "edit", value: huge } }), { configurable: { thread_id: threadId, supportDesk: desk } });
    expect((pendingOf(out)![0].value as { error: string }).error).toMatch(/^value: an edit is at most/);
    expect(desk.emails).toEqual([]);
    expect(out.email).toBe(run.result.output.email);
  });
});

/** A fan-out of one `Send` branch per item; each branch asks a human with `interrupt()`. */
const FanState = Annotation.Root({
  items: Annotation<string[]>(),
  answers: Annotation<string[]>({ reducer: (a, b) => a.concat(b), default: () => [] }),
});
function buildAskEach() {
  return new StateGraph(FanState)
    .addNode("ask", (payload: { item: string }) => {
      const answer = interrupt({ question: `ok to ship ${payload.item}?`, item: payload.item });
      return { answers: [`${payload.item}=${answer}`] };
    })
    .addConditionalEdges(START, (s: typeof FanState.State) => s.items.map((item) => new Send("ask", { item })), ["ask"])
    .addEdge("ask", END);
}

describe("several pending interrupts in one superstep", () => {
  it("resumes each Send branch by id with its own answer", async () => {
    const graph = buildAskEach().compile({ checkpointer: new MemorySaver() });
    const config = { configurable: { thread_id: "fan" } };
    const paused = await graph.invoke({ items: ["a", "b", "c"] }, config);
    expect(pendingOf(paused)!).toHaveLength(3);
    const state = await graph.getState(config);
    const pending = state.tasks.flatMap((t) => t.interrupts.map((i) => ({ id: String(i.id), item: (i.value as { item: string }).item })));
    expect(pending.map((p) => p.item).sort()).toEqual(["a", "b", "c"]);
    expect(new Set(pending.map((p) => p.id)).size).toBe(3);

    // Answer one: the two others stay pending (the run reports them), the answered branch is done.
    const [first, ...rest] = pending;
    const partial = await graph.invoke(new Command({ resume: { [first.id]: `yes-${first.item}` } }), config);
    expect(pendingOf(partial)!.map((i) => i.id).sort()).toEqual(rest.map((p) => p.id).sort());

    const done = await graph.invoke(new Command({ resume: Object.fromEntries(rest.map((p) => [p.id, `yes-${p.item}`])) }), config);
    expect(pendingOf(done)).toBeUndefined();
    expect([...done.answers].sort()).toEqual(["a=yes-a", "b=yes-b", "c=yes-c"]);
  });

  describe("through resumeThread (a workflow registered for the test)", () => {
    const NAME = "testAskEach";
    const registry = createRegistry([
      defineWorkflow({
        name: NAME,
        description: "test: one interrupt per item",
        pattern: "test",
        input: z.object({ items: z.array(z.string()).min(1) }),
        builder: buildAskEach() as any,
        example: { items: ["a"] },
      }),
    ]);
    const resumeWorkflow = (threadId: string, s: BaseCheckpointSaver, options: ResumeOptions = {}) => resumeFacade(threadId, s, { ...options, registry });
    const getThreadState = (threadId: string, s: BaseCheckpointSaver) => getThreadStateFacade(threadId, s, { registry });

    async function pausedFan(threadId: string) {
      const run = await lastResult(streamWorkflow(NAME, { items: ["x", "y", "z"] }, { checkpointer: saver, threadId, registry }));
      expect(run.interrupts).toHaveLength(3);
      expect(run.interrupts.every((i) => i.node === "ask")).toBe(true);
      const ids = run.interrupts.map((i) => i.id);
      const itemOf = (id: string) => (run.interrupts.find((i) => i.id === id)!.value as { item: string }).item;
      return { ids, itemOf };
    }

    it("needs an interrupt id when several are pending, and answers them all at once by id", async () => {
      const { ids, itemOf } = await pausedFan("fan-facade");
      const noId = await resumeWorkflow("fan-facade", saver, { resume: "yes" }).catch((e) => e);
      expect(noId).toBeInstanceOf(ResumeError);
      expect(noId.message).toContain("3 interrupts are pending");
      for (const id of ids) expect(noId.message).toContain(id);

      await expect(resumeWorkflow("fan-facade", saver, { resume: "yes", interruptId: "nope" })).rejects.toThrow(/no pending interrupt "nope"/);
      await expect(resumeWorkflow("fan-facade", saver, { resumeMap: { [ids[0]]: "yes", nope: "yes" } })).rejects.toThrow(/no pending interrupt "nope"/);
      await expect(resumeWorkflow("fan-facade", saver)).rejects.toThrow(/waiting for an answer to 3 interrupt/);
      expect((await getThreadState("fan-facade", saver)).interrupts).toHaveLength(3);

      const all = await resumeWorkflow("fan-facade", saver, { resumeMap: Object.fromEntries(ids.map((id, n) => [id, `answer${n}`])) });
      expect(all.interrupts).toEqual([]);
      expect([...(all.output.answers as string[])].sort()).toEqual(ids.map((id, n) => `${itemOf(id)}=answer${n}`).sort());
    });

    it("after answering one of three, reports the two still pending (not the answered one)", async () => {
      const { ids, itemOf } = await pausedFan("fan-partial");
      const one = await resumeWorkflow("fan-partial", saver, { resume: "first", interruptId: ids[1] });
      // LangGraph's own run output lists 2; the facade must not offer the answered interrupt again.
      expect(one.interrupts.map((i) => i.id).sort()).toEqual([ids[0], ids[2]].sort());
      expect((await getThreadState("fan-partial", saver)).interrupts.map((i) => i.id).sort()).toEqual([ids[0], ids[2]].sort());
      const rest = await resumeWorkflow("fan-partial", saver, { resumeMap: { [ids[0]]: "zero", [ids[2]]: "two" } });
      expect(rest.interrupts).toEqual([]);
      expect([...(rest.output.answers as string[])].sort()).toEqual([`${itemOf(ids[0])}=zero`, `${itemOf(ids[1])}=first`, `${itemOf(ids[2])}=two`].sort());
    });
  });
});

describe("a side effect before interrupt()", () => {
  const tmp = mkdtempSync(join(tmpdir(), "llmw-hitl-"));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  /** A node that issues an id (through the ledger when `ledgered`), then asks a human. */
  function buildIssueThenAsk(ledgered: boolean) {
    const counter = { effects: 0 };
    const State = Annotation.Root({ result: Annotation<string>() });
    const issue = async () => `ID-${++counter.effects}`;
    const builder = new StateGraph(State)
      .addNode("issue_and_ask", async (_s: typeof State.State, config: LangGraphRunnableConfig) => {
        const id = ledgered ? await onceForTask(config, "issue-id", issue) : await issue();
        const answer = interrupt({ question: `confirm ${id}?` });
        return { result: `${id}:${answer}` };
      })
      .addEdge(START, "issue_and_ask")
      .addEdge("issue_and_ask", END);
    return { counter, builder };
  }

  it("with onceForTask the re-run node gets the stored result: one side effect", async () => {
    const { counter, builder } = buildIssueThenAsk(true);
    const graph = builder.compile({ checkpointer: saver });
    const config = { configurable: { thread_id: "effect-once" } };
    const paused = await graph.invoke({}, config);
    expect(pendingOf(paused)![0].value).toEqual({ question: "confirm ID-1?" });
    expect(counter.effects).toBe(1);
    const done = await graph.invoke(new Command({ resume: "ok" }), config);
    expect(done.result).toBe("ID-1:ok");
    expect(counter.effects).toBe(1);
  });

  it("without it, LangGraph re-runs the node from its start on resume: the side effect happens twice", async () => {
    const { counter, builder } = buildIssueThenAsk(false);
    const graph = builder.compile({ checkpointer: saver });
    const config = { configurable: { thread_id: "effect-twice" } };
    await graph.invoke({}, config);
    expect(counter.effects).toBe(1);
    const done = await graph.invoke(new Command({ resume: "ok" }), config);
    expect(counter.effects).toBe(2);
    expect(done.result).toBe("ID-2:ok");
  });

  it("the ledger in a SQLite file keeps it to one side effect when another process resumes", async () => {
    const file = join(tmp, "threads.sqlite");
    const { counter, builder } = buildIssueThenAsk(true);
    const first = await openCheckpointer(`sqlite:${file}`);
    try {
      const paused = await builder.compile({ checkpointer: first.saver }).invoke({}, { configurable: { thread_id: "effect-sqlite" } });
      expect(pendingOf(paused)!).toHaveLength(1);
    } finally {
      await first.close();
    }
    const second = await openCheckpointer(`sqlite:${file}`);
    try {
      const done = await builder.compile({ checkpointer: second.saver }).invoke(new Command({ resume: "ok" }), { configurable: { thread_id: "effect-sqlite" } });
      expect(done.result).toBe("ID-1:ok");
      expect(counter.effects).toBe(1);
    } finally {
      await second.close();
    }
  });
});
