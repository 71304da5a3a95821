/**
 * One suite, three checkpointers (as LangGraph's own checkpointer tests do):
 * `memory`, `sqlite:<file>` and a PostgreSQL database of the test's own.
 * A run writes a thread; the thread is listed, read, continued, forked;
 * errors leave nothing half-written. Offline model only.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { lastResult, runWorkflow } from "../src/facade.js";
// The ready workflows, registered in the default registry that runs by name use.
import "../graphs/index.js";
import { openCheckpointer, WORKFLOW_METADATA_KEY } from "../src/runtime/checkpointer.js";
import { InvalidInputError, ResumeError, UnknownCheckpointError, UnknownThreadError } from "../src/runtime/errors.js";
import { forkThread, getThreadHistory, getThreadState, listThreads, resumeWorkflow } from "../src/threads.js";
import { useCheckpointer } from "./helpers/checkpointers.js";

type Kind = "memory" | "sqlite" | "postgres";

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "llmw-persist-"));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe.each<{ kind: Kind }>([{ kind: "memory" }, { kind: "sqlite" }, { kind: "postgres" }])("threads in a $kind checkpointer", ({ kind }) => {
  const cp = useCheckpointer(kind, () => tmp, "llmw_persist");

  const saver = () => cp.open!.saver;
  const FIRST = { query: "I was charged twice for the same payment" };

  it("a run on a thread writes checkpoints: the state, its step and what runs next", async () => {
    const out = await runWorkflow("supportRouting", FIRST, { checkpointer: saver(), threadId: "route" });
    expect(out.route).toBe("billing");
    const state = await getThreadState("route", saver());
    expect(state).toMatchObject({ threadId: "route", workflow: "supportRouting", step: 2, next: [], interrupts: [] });
    expect(state.values).toMatchObject({ query: FIRST.query, route: "billing", category: "billing", response: out.response });
    expect(state.checkpointId).toMatch(/\S/);
    // The facade records the workflow in every checkpoint's metadata.
    const tuple = await saver().getTuple({ configurable: { thread_id: "route" } });
    expect(tuple?.metadata?.[WORKFLOW_METADATA_KEY as keyof typeof tuple.metadata]).toBe("supportRouting");
  });

  it("lists the thread with its workflow", async () => {
    const threads = await listThreads(saver());
    const route = threads.find((t) => t.threadId === "route");
    expect(route).toMatchObject({ workflow: "supportRouting", checkpoints: 4, step: 2 });
    expect(Date.parse(route!.updatedAt!)).not.toBeNaN();
  });

  it("returns the history oldest first, steps increasing, naming the nodes that ran", async () => {
    const history = await getThreadHistory("route", saver());
    expect(history.map((h) => h.step)).toEqual([-1, 0, 1, 2]);
    expect(history.map((h) => h.source)).toEqual(["input", "loop", "loop", "loop"]);
    expect(history.map((h) => h.nodes)).toEqual([[], ["__start__"], ["classify_query"], ["billing"]]);
    expect(history.map((h) => h.next)).toEqual([["__start__"], ["classify_query"], ["billing"], []]);
    expect(history.at(-1)!.checkpointId).toBe((await getThreadState("route", saver())).checkpointId);
  });

  it("a second run on the same thread continues it: the history grows", async () => {
    const before = await getThreadHistory("route", saver());
    const out = await runWorkflow("supportRouting", { query: "The app crashes" }, { checkpointer: saver(), threadId: "route" });
    expect(out.route).toBe("technical");
    const after = await getThreadHistory("route", saver());
    expect(after.length).toBe(before.length + 4);
    expect(after.slice(0, before.length).map((h) => h.checkpointId)).toEqual(before.map((h) => h.checkpointId));
    const steps = after.map((h) => h.step);
    for (let i = 1; i < steps.length; i++) expect(steps[i]).toBeGreaterThan(steps[i - 1]);
    expect(after.at(-1)!.nodes).toEqual(["technical"]);
    const state = await getThreadState("route", saver());
    expect(state.values).toMatchObject({ route: "technical", query: "The app crashes" });
    expect((await listThreads(saver())).find((t) => t.threadId === "route")).toMatchObject({ checkpoints: 8, step: 6 });
  });

  it("forks from an earlier checkpoint with edited values: the fork reruns from there and becomes the latest state", async () => {
    await runWorkflow("supportRouting", FIRST, { checkpointer: saver(), threadId: "fork" });
    const before = await getThreadHistory("fork", saver());
    const classified = before.find((h) => h.nodes.includes("classify_query"))!;
    const forked = await lastResult(forkThread("fork", classified.checkpointId, saver(), { values: { confidence: 0.1 } }));
    expect(forked.output).toMatchObject({ route: "fallback", confidence: 0.1, category: "billing" });
    expect(String(forked.output.fallbackReason)).toMatch(/below the threshold/);

    const state = await getThreadState("fork", saver());
    expect(state.values).toMatchObject({ route: "fallback", confidence: 0.1 });
    const after = await getThreadHistory("fork", saver());
    expect(after.length).toBeGreaterThan(before.length);
    // The old checkpoints remain, with their values.
    for (const h of before) expect(after.map((a) => a.checkpointId)).toContain(h.checkpointId);
    const old = await saver().getTuple({ configurable: { thread_id: "fork", checkpoint_ns: "", checkpoint_id: before.at(-1)!.checkpointId } });
    expect(old?.checkpoint.channel_values).toMatchObject({ route: "billing" });
    expect(after.some((h) => h.source === "update")).toBe(true);
    expect(after.at(-1)!.checkpointId).toBe(state.checkpointId);
    expect(after.at(-1)!.nodes).toEqual(["fallback"]);
  });

  it("forks without edits: the thread reruns from the checkpoint", async () => {
    await runWorkflow("supportRouting", FIRST, { checkpointer: saver(), threadId: "refork" });
    const before = await getThreadHistory("refork", saver());
    const classified = before.find((h) => h.nodes.includes("classify_query"))!;
    const forked = await lastResult(forkThread("refork", classified.checkpointId, saver()));
    expect(forked.output).toMatchObject({ route: "billing" });
    const after = await getThreadHistory("refork", saver());
    expect(after.length).toBeGreaterThan(before.length);
    expect(after.some((h) => h.source === "fork")).toBe(true);
    expect((await getThreadState("refork", saver())).checkpointId).toBe(after.at(-1)!.checkpointId);
  });

  it("invalid input leaves no checkpoint for the thread", async () => {
    const error = await runWorkflow("supportRouting", { query: 42 }, { checkpointer: saver(), threadId: "invalid" }).catch((e) => e);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(await saver().getTuple({ configurable: { thread_id: "invalid" } })).toBeUndefined();
    expect((await listThreads(saver())).map((t) => t.threadId)).not.toContain("invalid");
    await expect(getThreadState("invalid", saver())).rejects.toBeInstanceOf(UnknownThreadError);
    await expect(runWorkflow("iterativeRefinement", { task: "x", reviewTimeoutMs: 0 }, { checkpointer: saver(), threadId: "invalid" })).rejects.toThrow(
      /reviewTimeoutMs/,
    );
    expect(await saver().getTuple({ configurable: { thread_id: "invalid" } })).toBeUndefined();
  });

  it("resuming an unknown thread is an UnknownThreadError", async () => {
    const error = await resumeWorkflow("no-such-thread", saver()).catch((e) => e);
    expect(error).toBeInstanceOf(UnknownThreadError);
    expect(error.message).toContain('"no-such-thread"');
  });

  it("forking from an unknown checkpoint is an UnknownCheckpointError (an unknown thread an UnknownThreadError)", async () => {
    const missing = "1f000000-0000-6000-8000-000000000000";
    const error = await lastResult(forkThread("route", missing, saver())).catch((e) => e);
    expect(error).toBeInstanceOf(UnknownCheckpointError);
    expect(error.message).toContain(missing);
    await expect(lastResult(forkThread("no-such-thread", missing, saver()))).rejects.toBeInstanceOf(UnknownThreadError);
  });

  it("resuming a finished thread is a ResumeError", async () => {
    const before = await getThreadState("route", saver());
    await expect(resumeWorkflow("route", saver())).rejects.toBeInstanceOf(ResumeError);
    await expect(resumeWorkflow("route", saver(), { resume: { action: "approve" } })).rejects.toBeInstanceOf(ResumeError);
    expect((await getThreadState("route", saver())).checkpointId).toBe(before.checkpointId);
  });

  it.runIf(kind !== "memory")("a second checkpointer on the same store (another process) sees the thread and resumes it", async () => {
    const paused = await runWorkflow("iterativeRefinement", { task: "Explain timeouts", humanReview: true }, { checkpointer: saver(), threadId: "shared" });
    expect(paused.__interrupt__).toHaveLength(1);
    const second = await openCheckpointer(cp.spec!);
    try {
      expect((await listThreads(second.saver)).find((t) => t.threadId === "route")).toMatchObject({ workflow: "supportRouting", checkpoints: 8 });
      expect((await getThreadState("route", second.saver)).values).toMatchObject({ route: "technical" });
      const state = await getThreadState("shared", second.saver);
      expect(state.next).toEqual(["human_review"]);
      expect(state.interrupts.map((i) => i.id)).toEqual([paused.__interrupt__[0].id]);
      const done = await resumeWorkflow("shared", second.saver, { resume: { action: "approve" } });
      expect(done.output.review).toMatchObject({ status: "approved" });
    } finally {
      await second.close();
    }
    expect((await getThreadState("shared", saver())).next).toEqual([]);
  });
});
