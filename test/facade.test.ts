import { describe, expect, it } from "vitest";
import { MemorySaver } from "@langchain/langgraph";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runWorkflow, streamWorkflow, type WorkflowEvent } from "../src/facade.js";
import { readyWorkflows, workflowNames } from "../graphs/index.js";
import { openCheckpointer } from "../src/runtime/checkpointer.js";
import { ConfigurationError, InvalidInputError, UnknownWorkflowError } from "../src/runtime/errors.js";
import { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import { OfflineChatModel } from "../src/models/offline/model.js";
import { DEFAULT_MAX_WORKER_TASKS } from "../src/patterns/core/fanOut.js";

describe("runWorkflow", () => {
  it("validates input and applies the schema's defaults", async () => {
    const out = await runWorkflow("bulkClassification", { items: ["the server is down, urgent"] });
    expect(out.results).toHaveLength(1);
    expect(["urgent", "spam", "normal"]).toContain(out.results[0].label);
  });

  it("names the bad field and what was expected, before running", async () => {
    const error = await runWorkflow("supportRouting", { query: 42 }).catch((e) => e);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error.issues[0].path).toBe("query");
    expect(error.message).toMatch(/query: .*expected string/);
    await expect(runWorkflow("bulkClassification", { items: "not a list" })).rejects.toThrow(/items/);
    await expect(runWorkflow("supportRouting", null)).rejects.toThrow(/\(root\)/);
  });

  it("rejects an unknown workflow, naming the ones there are", async () => {
    const error = await runWorkflow("nope", {}).catch((e) => e);
    expect(error).toBeInstanceOf(UnknownWorkflowError);
    for (const name of workflowNames) expect(error.message).toContain(name);
  });

  it("needs a checkpointer for a thread", async () => {
    await expect(runWorkflow("supportRouting", { query: "hi" }, { threadId: "t1" })).rejects.toBeInstanceOf(ConfigurationError);
  });

  it("keeps a thread's checkpoints in the checkpointer", async () => {
    const checkpointer = new MemorySaver();
    await runWorkflow("supportRouting", { query: "I was charged twice" }, { checkpointer, threadId: "thread-a" });
    const tuple = await checkpointer.getTuple({ configurable: { thread_id: "thread-a" } });
    expect(tuple?.checkpoint.channel_values.route).toBe("billing");
    expect(await checkpointer.getTuple({ configurable: { thread_id: "other" } })).toBeUndefined();
  });

  it("persists a thread in a SQLite file", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "llmw-")), "threads.sqlite");
    const first = await openCheckpointer(`sqlite:${file}`);
    await runWorkflow("supportRouting", { query: "The app crashes" }, { checkpointer: first.saver, threadId: "t" });
    await first.close();
    const second = await openCheckpointer(`sqlite:${file}`);
    const tuple = await second.saver.getTuple({ configurable: { thread_id: "t" } });
    await second.close();
    expect(tuple?.checkpoint.channel_values.route).toBe("technical");
  });

  it("rejects a checkpointer spec of no known form", async () => {
    await expect(openCheckpointer("redis://x")).rejects.toThrow(/checkpointer/);
  });
});

describe("streamWorkflow", () => {
  it("yields one node event per task with duration and tokens, then the result", async () => {
    const events: WorkflowEvent[] = [];
    for await (const event of streamWorkflow("researchAssistant", { task: "Explain sessions and timeouts", sources: "Sessions keep cookies. Timeouts stop hangs." })) {
      events.push(event);
    }
    const nodes = events.filter((e) => e.type === "node").map((e) => (e.type === "node" ? e.node : ""));
    expect(nodes[0]).toBe("plan_subtasks");
    expect(nodes.filter((n) => n === "research_subtask")).toHaveLength(2);
    expect(nodes.at(-1)).toBe("synthesize");
    const result = events.at(-1)!;
    expect(result.type).toBe("result");
    if (result.type !== "result") return;
    expect(result.usage.calls).toBe(4);
    expect(result.byNode.research_subtask.calls).toBe(2);
    const nodeEvents = events.filter((e) => e.type === "node");
    const perTask = nodeEvents.reduce((n, e) => n + (e.type === "node" ? e.usage.calls : 0), 0);
    expect(perTask).toBe(4);
    for (const e of nodeEvents) if (e.type === "node") expect(e.durationMs).toBeGreaterThanOrEqual(0);
    // The output holds the output channels only, not internal ones.
    expect(Object.keys(result.output).sort()).toEqual(["findings", "subtasks", "synthesis"]);
  });

  it("counts every model call of a batched fan-out, per task and per node", async () => {
    const items = Array.from({ length: 150 }, (_, i) => `message ${i}: the server is down`);
    const events: WorkflowEvent[] = [];
    for await (const event of streamWorkflow("bulkClassification", { items })) events.push(event);
    const workers = events.filter((e) => e.type === "node" && e.node === "classify_item");
    expect(workers).toHaveLength(DEFAULT_MAX_WORKER_TASKS);
    expect(workers.reduce((n, e) => n + (e.type === "node" ? e.usage.calls : 0), 0)).toBe(150);
    const result = events.at(-1)!;
    if (result.type !== "result") throw new Error("no result");
    expect(result.usage.calls).toBe(150);
    expect(result.byNode.classify_item.calls).toBe(150);
  });

  it("puts a failed task's error on its node event, and still calls the caller's callbacks", async () => {
    class DownModel extends OfflineChatModel {
      override async _generate(): Promise<never> {
        throw new Error("the model is down");
      }
    }
    const seen: string[] = [];
    const handler = BaseCallbackHandler.fromMethods({ handleChatModelStart: () => void seen.push("model start") });
    const events: WorkflowEvent[] = [];
    const run = (async () => {
      for await (const event of streamWorkflow("contentPipeline", { topic: "Sessions", sources: "Sessions keep cookies." }, { configurable: { modelOverride: new DownModel() }, callbacks: [handler] })) {
        events.push(event);
      }
    })();
    await expect(run).rejects.toThrow("the model is down");
    const failed = events.find((e) => e.type === "node" && e.error);
    expect(failed).toMatchObject({ type: "node", error: "the model is down" });
    expect(seen).toContain("model start");
  });

  it("clears a task's error when a retry of it succeeds", async () => {
    class FlakyModel extends OfflineChatModel {
      failures = 1;
      override async _generate(...args: Parameters<OfflineChatModel["_generate"]>) {
        if (this.failures-- > 0) throw Object.assign(new Error("503 overloaded"), { status: 503 });
        return super._generate(...args);
      }
    }
    const model = new FlakyModel();
    const events: WorkflowEvent[] = [];
    for await (const event of streamWorkflow("draftAndImprove", { input: "Sessions keep cookies." }, { configurable: { modelOverride: model } })) events.push(event);
    expect(model.failures).toBeLessThan(0); // it failed once, then answered
    const nodes = events.filter((e) => e.type === "node");
    expect(nodes.length).toBeGreaterThan(0);
    for (const e of nodes) expect(e.type === "node" && e.error).toBeFalsy();
  });

  it("lists every workflow with its pattern", () => {
    const listed = readyWorkflows.list();
    expect(listed.map((w) => w.name)).toEqual(workflowNames);
    const patterns = new Set(listed.map((w) => w.pattern));
    for (const core of ["prompt chaining", "routing", "parallelization (map)", "parallelization (sectioning)", "parallelization (voting)", "orchestrator-workers", "evaluator-optimizer"]) {
      expect(patterns).toContain(core);
    }
  });
});
