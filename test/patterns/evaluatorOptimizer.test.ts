import { MemorySaver, StateSchema } from "@langchain/langgraph";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  DEFAULT_MAX_ITERATIONS,
  DEFAULT_SCORE_THRESHOLD,
  MAX_ITERATIONS_LIMIT,
  bestAttempt,
  buildEvaluatorOptimizer,
  evaluatorOptimizerFields,
  stopReasonOf,
  type Attempt,
  type EvaluatorOptimizerState,
} from "../../src/patterns/workflow/evaluatorOptimizer.js";

const State = new StateSchema({ task: z.string(), ...evaluatorOptimizerFields });
type State = typeof State.State;

interface GenerateView {
  iteration: number;
  draft: string;
  feedback: string;
  score: number | null;
}

/**
 * A loop whose evaluator returns `scores[i]` for the i-th draft (the last score
 * repeats), and which records what generate saw each time.
 */
function makeLoop(scores: number[], opts: { checkpointer?: boolean } = {}) {
  const seen: GenerateView[] = [];
  const evaluated: string[] = [];
  let evaluations = 0;
  const graph = buildEvaluatorOptimizer<State>({
    state: State,
    generate: (s) => {
      seen.push({ iteration: s.iteration, draft: s.draft, feedback: s.feedback, score: s.score });
      return { draft: `${s.task}-draft${s.iteration + 1}` };
    },
    evaluate: async (s) => {
      evaluated.push(s.draft);
      const score = scores[Math.min(evaluations, scores.length - 1)];
      evaluations++;
      return { score, feedback: `fix ${s.draft}` };
    },
  });
  return { graph: opts.checkpointer ? graph.compile({ checkpointer: new MemorySaver() }) : graph.compile(), seen, evaluated };
}

describe("buildEvaluatorOptimizer", () => {
  it("has the documented defaults", () => {
    expect(DEFAULT_SCORE_THRESHOLD).toBe(8);
    expect(DEFAULT_MAX_ITERATIONS).toBe(3);
  });

  it("stops as soon as the score reaches the threshold", async () => {
    const { graph, seen, evaluated } = makeLoop([5, 8, 10]);
    const out = await graph.invoke({ task: "T" });
    expect(out.stopReason).toBe("threshold");
    expect(out.iteration).toBe(2);
    expect(seen).toHaveLength(2);
    expect(evaluated).toEqual(["T-draft1", "T-draft2"]);
    expect(out.final).toBe("T-draft2");
    expect(out.finalScore).toBe(8);
    expect(out.attempts).toEqual([
      { iteration: 1, draft: "T-draft1", score: 5, feedback: "fix T-draft1" },
      { iteration: 2, draft: "T-draft2", score: 8, feedback: "fix T-draft2" },
    ]);
  });

  it("stops on the first draft when it is good enough", async () => {
    const { graph, seen } = makeLoop([9]);
    const out = await graph.invoke({ task: "T" });
    expect(out).toMatchObject({ stopReason: "threshold", iteration: 1, final: "T-draft1", finalScore: 9 });
    expect(seen).toHaveLength(1);
  });

  it("honours a threshold given in the input", async () => {
    const { graph } = makeLoop([5, 6, 7]);
    const out = await graph.invoke({ task: "T", threshold: 6 });
    expect(out).toMatchObject({ stopReason: "threshold", iteration: 2, finalScore: 6 });
  });

  it("stops at maxIterations when the score stays low", async () => {
    const { graph, seen } = makeLoop([2]);
    const out = await graph.invoke({ task: "T" });
    expect(out.stopReason).toBe("max_iterations");
    expect(out.iteration).toBe(DEFAULT_MAX_ITERATIONS);
    expect(seen).toHaveLength(DEFAULT_MAX_ITERATIONS);
    expect(out.attempts.map((a: Attempt) => a.iteration)).toEqual([1, 2, 3]);

    const { graph: g5, seen: seen5 } = makeLoop([2]);
    const out5 = await g5.invoke({ task: "T", maxIterations: 5 });
    expect(out5).toMatchObject({ stopReason: "max_iterations", iteration: 5 });
    expect(seen5).toHaveLength(5);
  });

  it("returns the best attempt, not the last", async () => {
    const { graph } = makeLoop([6, 7, 5]);
    const out = await graph.invoke({ task: "T" });
    expect(out.stopReason).toBe("max_iterations");
    expect(out.draft).toBe("T-draft3");
    expect(out.final).toBe("T-draft2");
    expect(out.finalScore).toBe(7);
  });

  it("returns the later of two equally good attempts", async () => {
    const { graph } = makeLoop([6, 6, 4]);
    const out = await graph.invoke({ task: "T" });
    expect(out.final).toBe("T-draft2");
    expect(out.finalScore).toBe(6);
  });

  it("shows generate iteration 0 and no feedback first, then the previous draft and its feedback", async () => {
    const { graph, seen } = makeLoop([3, 4, 5]);
    await graph.invoke({ task: "T" });
    expect(seen).toEqual([
      { iteration: 0, draft: "", feedback: "", score: null },
      { iteration: 1, draft: "T-draft1", feedback: "fix T-draft1", score: 3 },
      { iteration: 2, draft: "T-draft2", feedback: "fix T-draft2", score: 4 },
    ]);
  });

  it(`runs ${MAX_ITERATIONS_LIMIT} iterations inside LangGraph's default recursion limit`, async () => {
    const { graph, seen } = makeLoop([1]);
    // No recursionLimit in the config: LangGraph's default applies.
    const out = await graph.invoke({ task: "T", maxIterations: MAX_ITERATIONS_LIMIT });
    expect(out).toMatchObject({ stopReason: "max_iterations", iteration: MAX_ITERATIONS_LIMIT });
    expect(seen).toHaveLength(MAX_ITERATIONS_LIMIT);
    expect(out.attempts).toHaveLength(MAX_ITERATIONS_LIMIT);
  });

  it("starts afresh on a thread whose previous run finished", async () => {
    const { graph, seen } = makeLoop([9], { checkpointer: true });
    const config = { configurable: { thread_id: "eo-1" } };
    await graph.invoke({ task: "A" }, config);
    const second = await graph.invoke({ task: "B" }, config);
    expect(second).toMatchObject({ stopReason: "threshold", iteration: 1, final: "B-draft1", finalScore: 9 });
    expect(second.attempts).toEqual([{ iteration: 1, draft: "B-draft1", score: 9, feedback: "fix B-draft1" }]);
    // The second run's first generate saw a clean slate, not run A's draft.
    expect(seen[1]).toEqual({ iteration: 0, draft: "", feedback: "", score: null });
  });
});

describe("bestAttempt", () => {
  const a = (iteration: number, score: number): Attempt => ({ iteration, draft: `d${iteration}`, score, feedback: "" });
  it("is undefined with no attempts", () => {
    expect(bestAttempt([])).toBeUndefined();
  });
  it("picks the highest score wherever it is", () => {
    expect(bestAttempt([a(1, 9), a(2, 3), a(3, 4)])?.iteration).toBe(1);
    expect(bestAttempt([a(1, 3), a(2, 9), a(3, 4)])?.iteration).toBe(2);
    expect(bestAttempt([a(1, 3), a(2, 4), a(3, 9)])?.iteration).toBe(3);
  });
  it("picks the later one on a tie", () => {
    expect(bestAttempt([a(1, 7), a(2, 7), a(3, 2)])?.iteration).toBe(2);
  });
});

describe("stopReasonOf", () => {
  const base: EvaluatorOptimizerState = {
    threshold: 8,
    maxIterations: 3,
    iteration: 1,
    draft: "",
    score: null,
    feedback: "",
    attempts: [],
    final: "",
    finalScore: null,
    revisedAfter: 0,
    stopReason: null,
  };
  it("goes on with no score yet or a low score under the cap", () => {
    expect(stopReasonOf(base)).toBeNull();
    expect(stopReasonOf({ ...base, score: 7.99, iteration: 2 })).toBeNull();
  });
  it("stops on a score at or above the threshold", () => {
    expect(stopReasonOf({ ...base, score: 8 })).toBe("threshold");
    expect(stopReasonOf({ ...base, score: 10 })).toBe("threshold");
  });
  it("stops at the iteration cap", () => {
    expect(stopReasonOf({ ...base, score: 2, iteration: 3 })).toBe("max_iterations");
    expect(stopReasonOf({ ...base, score: 2, iteration: 4 })).toBe("max_iterations");
  });
  it("prefers threshold when both hold", () => {
    expect(stopReasonOf({ ...base, score: 9, iteration: 3 })).toBe("threshold");
  });
});
