/** Registries, targets the facade accepts, input validation of users' graphs, and what importing the entry points does. */
import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { END, START, StateGraph, StateSchema } from "@langchain/langgraph";
import { z } from "zod";
import { createRegistry, defaultRegistry } from "../src/registry.js";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveWorkflow, runWorkflow, streamWorkflow, validateWorkflowInput, type WorkflowEvent } from "../src/facade.js";
import { getChatModel } from "../src/models/factory.js";
import { BudgetExceededError } from "../src/runtime/cost.js";
import { defineWorkflow, workflowFromGraph } from "../src/workflow.js";
import { GraphDefinitionError, importOptional, InvalidInputError, MissingDependencyError, UnknownWorkflowError } from "../src/runtime/errors.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

const Echo = new StateSchema({ text: z.string(), shout: z.string().default("") });
const echoBuilder = () =>
  new StateGraph(Echo)
    .addNode("loud", (s: typeof Echo.State) => ({ shout: s.text.toUpperCase() }))
    .addEdge(START, "loud")
    .addEdge("loud", END);

describe("createRegistry", () => {
  it("looks definitions up by name, lists them in order, and names the ones there are for an unknown name", () => {
    const a = defineWorkflow({ name: "a", builder: echoBuilder(), description: "first" });
    const b = defineWorkflow({ name: "b", graph: echoBuilder().compile(), pattern: "echo" });
    const registry = createRegistry([a, b]);
    expect(registry.get("b")).toBe(b);
    expect(registry.names()).toEqual(["a", "b"]);
    expect(registry.list()).toEqual([
      { name: "a", pattern: "custom", description: "first" },
      { name: "b", pattern: "echo", description: "" },
    ]);
    expect(() => registry.get("c")).toThrow(new UnknownWorkflowError("c", ["a", "b"]));
    expect(createRegistry({ x: a }).names()).toEqual(["a"]);
    expect(() => createRegistry([{ ...a, name: "" }])).toThrow(GraphDefinitionError);
  });

  it("the default registry holds nothing this test file did not put there (ready workflows come from llm-workflows/workflows)", () => {
    expect(defaultRegistry.has("supportRouting")).toBe(false);
  });
});

describe("the facade's targets", () => {
  it("runs a compiled graph, an uncompiled StateGraph and a definition alike, and a name through the given registry", async () => {
    const compiled = echoBuilder().compile();
    expect(await runWorkflow(compiled, { text: "hi" })).toMatchObject({ shout: "HI" });
    expect(await runWorkflow(echoBuilder(), { text: "yo" })).toMatchObject({ shout: "YO" });
    const definition = defineWorkflow({ name: "echo", builder: echoBuilder() });
    expect(await runWorkflow("echo", { text: "ok" }, { registry: createRegistry([definition]) })).toMatchObject({ shout: "OK" });
    await expect(runWorkflow("echo", { text: "ok" })).rejects.toBeInstanceOf(UnknownWorkflowError);
    // The same graph object maps to the same definition (its compiled copies are reused).
    expect(resolveWorkflow(compiled)).toBe(resolveWorkflow(compiled));
  });

  it("refuses a value that is no graph, naming what was expected", () => {
    expect(() => resolveWorkflow({ invoke() {} } as never)).toThrow(/expected a StateGraph or a compiled StateGraph/);
    expect(() => workflowFromGraph(42)).toThrow(GraphDefinitionError);
  });
});

describe("input of a user's graph", () => {
  it("is checked against the graph's zod input schema, naming the field", async () => {
    const graph = new StateGraph({ state: Echo, input: z.object({ text: z.string().min(2) }) })
      .addNode("loud", (s: typeof Echo.State) => ({ shout: s.text.toUpperCase() }))
      .addEdge(START, "loud")
      .compile();
    const error = await runWorkflow(graph, { text: 1 }).catch((e) => e);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error.message).toMatch(/^invalid input for workflow "graph": text: .*expected string/);
  });

  it("is checked against a StateSchema, and a graph without an input schema takes any JSON object but nothing else", async () => {
    const definition = workflowFromGraph(echoBuilder().compile(), "echo");
    await expect(validateWorkflowInput(definition, { text: 3 })).rejects.toThrow(/text: .*expected string/);
    await expect(validateWorkflowInput(definition, "text")).rejects.toThrow(/\(root\): expected a JSON object, received string/);
    await expect(validateWorkflowInput(definition, [1])).rejects.toThrow(/received an array/);
    expect(await validateWorkflowInput(definition, { text: "x" })).toMatchObject({ text: "x" });
  });
});

describe("optional packages", () => {
  it("a missing one is named with the command that installs it; other failures pass through", async () => {
    const error = await importOptional("no-such-package-xyz", "the feature", () => import("no-such-package-xyz" as string)).catch((e) => e);
    expect(error).toBeInstanceOf(MissingDependencyError);
    expect(error.message).toBe("the feature needs the package no-such-package-xyz: npm install no-such-package-xyz");
    await expect(importOptional("pg", "x", () => Promise.reject(new TypeError("boom")))).rejects.toThrow("boom");
  });
});

describe("entry points (the built package)", () => {
  const node = (code: string) => execFileSync(process.execPath, ["--input-type=module", "-e", code], { cwd: ROOT, encoding: "utf8" }).trim();

  it('"llm-workflows" compiles no ready workflow; "llm-workflows/workflows" registers all 18 in the default registry', () => {
    expect(node('const m = await import("llm-workflows"); console.log(m.defaultRegistry.names().length, typeof m.buildRouter)')).toBe("0 function");
    expect(node('const m = await import("llm-workflows"); await import("llm-workflows/workflows"); console.log(m.defaultRegistry.names().length)')).toBe("18");
    expect(node('const t = await import("llm-workflows/testing"); console.log(typeof t.OfflineChatModel, typeof t.SimulatedChatModel)')).toBe("function function");
  });
});

describe("facade features on a user's graph", () => {
  const Q = new StateSchema({ question: z.string(), answer: z.string().default(""), check: z.string().default("") });
  const userGraph = () =>
    new StateGraph(Q)
      .addNode("answer_it", async (s: typeof Q.State, config) => ({ answer: (await getChatModel("default", config).invoke(`Answer: ${s.question}`, config)).text }))
      .addNode("check_it", async (s: typeof Q.State, config) => ({ check: (await getChatModel("default", config).invoke(`Check: ${s.answer}`, config)).text }))
      .addEdge(START, "answer_it")
      .addEdge("answer_it", "check_it")
      .compile();

  it("counts usage per node, writes the call log, and stops at the budget, as for a ready workflow", async () => {
    const dir = mkdtempSync(join(tmpdir(), "llm-workflows-usage-"));
    try {
      const callLog = join(dir, "calls.jsonl");
      const events: WorkflowEvent[] = [];
      for await (const event of streamWorkflow(userGraph(), { question: "What is a checkpoint?" }, { callLog })) events.push(event);
      const result = events.find((e) => e.type === "result") as Extract<WorkflowEvent, { type: "result" }>;
      expect(result.usage.calls).toBe(2);
      expect(Object.keys(result.byNode).sort()).toEqual(["answer_it", "check_it"]);
      expect(result.byNode.answer_it.calls).toBe(1);
      expect(events.filter((e) => e.type === "node").map((e) => e.type === "node" && e.usage.calls)).toEqual([1, 1]);
      expect(readFileSync(callLog, "utf8").trim().split("\n")).toHaveLength(2);
      await expect(runWorkflow(userGraph(), { question: "What is a checkpoint?" }, { budget: { maxTokens: 5 } })).rejects.toBeInstanceOf(BudgetExceededError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
