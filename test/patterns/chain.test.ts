import { MemorySaver, StateSchema } from "@langchain/langgraph";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { GraphDefinitionError } from "../../src/runtime/errors.js";
import { buildPromptChain, chainFields, type ChainGate, type ChainStep } from "../../src/patterns/workflow/promptChain.js";

const State = new StateSchema({
  topic: z.string(),
  log: z.array(z.string()).default(() => []),
  ...chainFields,
});
type State = typeof State.State;

/** Three steps that each append their name to `log` and count their calls. */
function makeSteps() {
  const calls: Record<string, number> = { a: 0, b: 0, c: 0 };
  const seen: Record<string, string[]> = {};
  const step = (name: string): ChainStep<State> => ({
    name,
    run: (s) => {
      calls[name]++;
      seen[name] = [...s.log];
      return { log: [...s.log, `${name}:${s.topic}`] };
    },
  });
  return { calls, seen, steps: [step("a"), step("b"), step("c")] };
}

describe("buildPromptChain", () => {
  it("runs every step in order, each seeing the earlier steps' output", async () => {
    const { calls, seen, steps } = makeSteps();
    const graph = buildPromptChain<State>({ state: State, steps, gate: () => undefined }).compile();
    const out = await graph.invoke({ topic: "t" });

    expect(out.log).toEqual(["a:t", "b:t", "c:t"]);
    expect(seen).toEqual({ a: [], b: ["a:t"], c: ["a:t", "b:t"] });
    expect(calls).toEqual({ a: 1, b: 1, c: 1 });
    expect(out.stopReason).toBeNull();
    expect(out.stoppedAfter).toBeNull();
  });

  it("runs every step without a gate", async () => {
    const { calls, steps } = makeSteps();
    const out = await buildPromptChain<State>({ state: State, steps }).compile().invoke({ topic: "t" });
    expect(out.log).toEqual(["a:t", "b:t", "c:t"]);
    expect(calls).toEqual({ a: 1, b: 1, c: 1 });
    expect(out.stopReason).toBeNull();
    expect(out.stoppedAfter).toBeNull();
  });

  it("stops after the step the gate rejects, and runs no later step", async () => {
    const { calls, steps } = makeSteps();
    const gateCalls: string[] = [];
    const gate: ChainGate<State> = (s, step) => {
      gateCalls.push(step);
      // The gate sees the state with the step's own update applied.
      return step === "b" && s.log.includes("b:t") ? "b said stop" : undefined;
    };
    const out = await buildPromptChain<State>({ state: State, steps, gate }).compile().invoke({ topic: "t" });

    expect(out.stopReason).toBe("b said stop");
    expect(out.stoppedAfter).toBe("b");
    expect(out.log).toEqual(["a:t", "b:t"]);
    expect(calls).toEqual({ a: 1, b: 1, c: 0 });
    expect(gateCalls).toEqual(["a", "b"]);
  });

  it("can stop after the first step", async () => {
    const { calls, steps } = makeSteps();
    const out = await buildPromptChain<State>({ state: State, steps, gate: (_s, step) => (step === "a" ? "nope" : null) })
      .compile()
      .invoke({ topic: "t" });
    expect(out).toMatchObject({ stopReason: "nope", stoppedAfter: "a", log: ["a:t"] });
    expect(calls).toEqual({ a: 1, b: 0, c: 0 });
  });

  it("does not consult the gate after the last step", async () => {
    const { steps } = makeSteps();
    const gateCalls: string[] = [];
    const out = await buildPromptChain<State>({
      state: State,
      steps,
      gate: (_s, step) => {
        gateCalls.push(step);
        return step === "c" ? "never asked" : undefined;
      },
    })
      .compile()
      .invoke({ topic: "t" });
    expect(gateCalls).toEqual(["a", "b"]);
    expect(out.stopReason).toBeNull();
  });

  it("a second run on the same thread after an early stop runs every step and clears stopReason", async () => {
    const { calls, steps } = makeSteps();
    // Stops after "a" only for topic "stop".
    const gate: ChainGate<State> = (s, step) => (step === "a" && s.topic === "stop" ? "stop topic" : undefined);
    const graph = buildPromptChain<State>({ state: State, steps, gate }).compile({ checkpointer: new MemorySaver() });
    const config = { configurable: { thread_id: "chain-1" } };

    const first = await graph.invoke({ topic: "stop" }, config);
    expect(first).toMatchObject({ stopReason: "stop topic", stoppedAfter: "a", log: ["a:stop"] });
    expect(calls).toEqual({ a: 1, b: 0, c: 0 });

    const second = await graph.invoke({ topic: "go", log: [] }, config);
    expect(second.stopReason).toBeNull();
    expect(second.stoppedAfter).toBeNull();
    expect(second.log).toEqual(["a:go", "b:go", "c:go"]);
    expect(calls).toEqual({ a: 2, b: 1, c: 1 });
  });

  it("a one-step chain runs that step", async () => {
    const out = await buildPromptChain<State>({ state: State, steps: [{ name: "only", run: () => ({ log: ["only"] }) }] })
      .compile()
      .invoke({ topic: "t" });
    expect(out.log).toEqual(["only"]);
  });

  describe("definition errors", () => {
    const run = () => ({});
    it("rejects zero steps", () => {
      expect(() => buildPromptChain<State>({ state: State, steps: [] })).toThrow(GraphDefinitionError);
    });
    it("rejects two steps with the same name", () => {
      expect(() =>
        buildPromptChain<State>({ state: State, steps: [{ name: "x", run }, { name: "y", run }, { name: "x", run }] }),
      ).toThrow(/"x" is used twice/);
      expect(() => buildPromptChain<State>({ state: State, steps: [{ name: "x", run }, { name: "x", run }] })).toThrow(
        GraphDefinitionError,
      );
    });
    it.each(["__start__", "__end__", ""])("rejects the reserved or empty name %j", (name) => {
      expect(() => buildPromptChain<State>({ state: State, steps: [{ name: "ok", run }, { name, run }] })).toThrow(
        GraphDefinitionError,
      );
    });
  });
});
