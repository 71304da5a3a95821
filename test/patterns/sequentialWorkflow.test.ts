import { describe, expect, it } from "vitest";
import { MemorySaver, StateSchema } from "@langchain/langgraph";
import { z } from "zod";
import { stepNames, Workflow, workflowStateFields } from "../../src/patterns/composition/sequentialWorkflow.js";
import { GraphDefinitionError } from "../../src/runtime/errors.js";
import { draftWorkflow, graph as draftGraph, definition as draftDefinition } from "../../graphs/draftAndImprove.js";

const State = new StateSchema({ input: z.string(), log: z.array(z.string()).default(() => []), ...workflowStateFields });
type S = typeof State.State;

describe("Workflow (the source's framework on a StateGraph)", () => {
  it("runs the steps in order, each taking and returning the state", async () => {
    async function step1(s: S) {
      return { ...s, log: [...s.log, `step1:${s.input}`] };
    }
    async function step2(s: S) {
      return { ...s, log: [...s.log, "step2"] };
    }
    const out = await new Workflow<S>(State, step1, step2).run({ input: "x" });
    expect(out.log).toEqual(["step1:x", "step2"]);
    expect(out.stopReason).toBeNull();
  });

  it("stops after a step that sets shouldContinue to false, and says so", async () => {
    const ran: string[] = [];
    async function first(s: S) {
      ran.push("first");
      return { ...s, shouldContinue: false };
    }
    async function second(s: S) {
      ran.push("second");
      return s;
    }
    const out = await new Workflow<S>(State, first, second).run({ input: "x" });
    expect(ran).toEqual(["first"]);
    expect(out.stopReason).toBe("shouldContinue is false after first");
  });

  it("checks shouldContinue before the first step too", async () => {
    let ran = 0;
    const out = await new Workflow<S>(State, async (s) => (ran++, s)).run({ input: "x", shouldContinue: false });
    expect(ran).toBe(0);
    expect(out.shouldContinue).toBe(false);
  });

  it("names nodes after the step functions, or step_N", () => {
    async function fetchData() {
      return {};
    }
    expect(stepNames([fetchData, async () => ({}), fetchData])).toEqual(["fetchData", "step_2", "step_3"]);
    expect(Object.keys(new Workflow<S>(State, fetchData).builder.nodes)).toContain("fetchData");
  });

  it("refuses no steps and step names that clash with state fields", () => {
    expect(() => new Workflow<S>(State)).toThrow(GraphDefinitionError);
    async function input(s: S) {
      return s;
    }
    expect(() => new Workflow<S>(State, input)).toThrow(/state field/);
  });

  it("gets checkpointing for free: a run on a thread is saved", async () => {
    const checkpointer = new MemorySaver();
    await new Workflow<S>(State, async (s) => ({ ...s, log: ["done"] })).run({ input: "x" }, { checkpointer, threadId: "t" });
    const saved = await checkpointer.getTuple({ configurable: { thread_id: "t" } });
    expect(saved?.checkpoint.channel_values.log).toEqual(["done"]);
  });
});

describe("draftAndImprove", () => {
  it("is a Workflow of write and improve", async () => {
    expect(draftWorkflow.stepNames).toEqual(["write", "improve"]);
    const out = await draftGraph.invoke(draftDefinition.example);
    expect(out.draft.length).toBeGreaterThan(0);
    expect(out.result.length).toBeGreaterThan(0);
    expect(out.stopReason).toBeNull();
  });
});
