import { spawnSync } from "node:child_process";
import { BaseChatModel } from "@langchain/core/language_models/chat_models";
import { AIMessage, type BaseMessage } from "@langchain/core/messages";
import type { ChatResult } from "@langchain/core/outputs";
import { MemorySaver } from "@langchain/langgraph";
import { describe, expect, it } from "vitest";
import {
  buildCodeGeneration,
  CodeGenerationInput,
  definition,
  evaluateCode,
  extractCode,
  feedbackOf,
  generateCode,
  scoreOf,
  type CodeGenerationState,
} from "../../graphs/codeGeneration.js";
import { parseInput } from "../../src/runtime/errors.js";

/** The evaluator runs the drafts with this interpreter: without it the tests that run Python are skipped. */
const hasPython = spawnSync(process.env.LLM_WORKFLOWS_PYTHON || "python3", ["-c", "pass"]).status === 0;

const TASK = "Write a function count_vowels(s) that returns how many vowels the string s contains.";
const TESTS = ["assert count_vowels('hello') == 2", "assert count_vowels('SKY') == 0", "assert count_vowels('Apple') == 2"];
const WRONG = "def count_vowels(s):\n    return sum(c in 'aeiou' for c in s)\n"; // misses upper case: 'Apple' gives 1
const RIGHT = "def count_vowels(s):\n    return sum(c in 'aeiouAEIOU' for c in s)\n";

function baseState(over: Partial<CodeGenerationState> = {}): CodeGenerationState {
  return {
    task: TASK, tests: TESTS, setup: "", threshold: 10, maxIterations: 3, timeoutMs: 5000,
    iteration: 0, draft: "", score: null, feedback: "", attempts: [], final: "", finalScore: null,
    stopReason: null, revisedAfter: 0, passed: 0, total: 0, testRuns: [], ...over,
  } as CodeGenerationState;
}

/** A chat model that answers `answer` to every call and keeps each prompt's text. */
class RecordingModel extends BaseChatModel {
  prompts: string[] = [];
  constructor(private readonly answer: string) {
    super({});
  }
  _llmType() {
    return "recording";
  }
  async _generate(messages: BaseMessage[]): Promise<ChatResult> {
    this.prompts.push(messages.map((m) => String(m.content)).join("\n"));
    return { generations: [{ text: this.answer, message: new AIMessage(this.answer) }] };
  }
}
const withModel = (model: BaseChatModel) => ({ configurable: { modelOverride: model } });

/** A generator that returns `drafts[i]` on the i-th call and records what it saw. */
function scripted(drafts: string[]) {
  const seen: Array<{ iteration: number; feedback: string; draft: string }> = [];
  const generate = (s: CodeGenerationState) => {
    seen.push({ iteration: s.iteration, feedback: s.feedback, draft: s.draft });
    return { draft: drafts[Math.min(seen.length - 1, drafts.length - 1)] };
  };
  return { generate, seen };
}

describe("codeGeneration: parts", () => {
  it("extracts the code from a fenced answer, or takes the answer as it is", () => {
    expect(extractCode("Here you go:\n```python\ndef f():\n    return 1\n```\nEnjoy.")).toBe("def f():\n    return 1");
    expect(extractCode("```\nx = 1\n```")).toBe("x = 1");
    expect(extractCode("[BEGIN]\ndef f(): pass\n[DONE]")).toBe("def f(): pass");
    expect(extractCode("def f(): pass")).toBe("def f(): pass");
  });

  it("scores round(10 * passed / total), 1 at least, 10 only when every test passes", () => {
    expect(scoreOf(0, 3)).toBe(1);
    expect(scoreOf(2, 3)).toBe(7);
    expect(scoreOf(3, 3)).toBe(10);
    expect(scoreOf(19, 20)).toBe(9);
    expect(scoreOf(0, 0)).toBe(1);
  });

  it("writes feedback from the failures, truncated", () => {
    expect(feedbackOf({ passed: 3, total: 3, failed: [] })).toBe("All 3 tests pass.");
    const many = Array.from({ length: 30 }, (_, i) => ({ test: `assert f(${i}) == ${i}`, index: i, kind: "assert" as const, error: "AssertionError: got None, expected 1" }));
    const text = feedbackOf({ passed: 0, total: 30, failed: many });
    expect(text.startsWith("30 of 30 tests failed:\n- assert f(0) == 0\n  AssertionError: got None, expected 1")).toBe(true);
    expect(text).toMatch(/… and 20 more$/);
  });

  it.skipIf(!hasPython)("evaluate runs the draft against the tests and scores it", async () => {
    const out = await evaluateCode(baseState({ draft: WRONG, iteration: 1 }), {});
    expect(out).toMatchObject({ score: 7, passed: 2, total: 3 });
    expect(out.feedback).toBe("1 of 3 tests failed:\n- assert count_vowels('Apple') == 2\n  AssertionError: got 1, expected 2");
    expect(out.testRuns).toEqual([
      { iteration: 1, passed: 2, total: 3, timedOut: false, failed: [{ test: TESTS[2], kind: "assert", error: "AssertionError: got 1, expected 2" }] },
    ]);
  });

  it("evaluate reports an empty draft without running Python", async () => {
    let ran = false;
    const out = await evaluateCode(baseState({ draft: "  ", iteration: 1 }), {}, async () => {
      ran = true;
      throw new Error("should not run");
    });
    expect(ran).toBe(false);
    expect(out.score).toBe(1);
    expect(out.feedback).toContain("the model returned no code");
  });

  it("generate sends the task and the tests, then also the feedback and the last draft, and keeps the code of a fenced answer", async () => {
    const model = new RecordingModel(`Here it is:\n\`\`\`python\n${RIGHT}\`\`\`\nIt counts both cases.`);
    const first = await generateCode(baseState(), withModel(model));
    expect(first.draft).toBe(RIGHT.trim());
    expect(model.prompts[0]).toContain(`<task>\n${TASK}\n</task>`);
    expect(model.prompts[0]).toContain(`<tests>\n${TESTS.join("\n")}\n</tests>`);
    expect(model.prompts[0]).not.toContain("<feedback>");
    const feedback = "1 of 3 tests failed:\n- assert count_vowels('Apple') == 2\n  AssertionError: got 1, expected 2";
    await generateCode(baseState({ iteration: 1, draft: WRONG, feedback }), withModel(model));
    expect(model.prompts[1]).toContain(`<feedback>\n${feedback}\n</feedback>`);
    expect(model.prompts[1]).toContain(`<code>\n${WRONG}\n</code>`);
    expect(model.prompts[1]).toContain(`<tests>\n${TESTS.join("\n")}\n</tests>`);
  });

  it("generate offline gives an extract of the prompt, not code", async () => {
    const out = await generateCode(baseState(), {});
    expect(out.draft).toContain("count_vowels");
    expect(out.draft).not.toMatch(/^def /m);
  });
});

describe.skipIf(!hasPython)("codeGeneration: the loop", () => {
  it("feeds the failing test back, and stops on the threshold when the second draft passes", async () => {
    const { generate, seen } = scripted([WRONG, RIGHT, "unused"]);
    const out = await buildCodeGeneration({ generate }).compile().invoke({ task: TASK, tests: TESTS });
    expect(seen).toHaveLength(2);
    expect(seen[0]).toEqual({ iteration: 0, feedback: "", draft: "" });
    expect(seen[1].iteration).toBe(1);
    expect(seen[1].draft).toBe(WRONG);
    expect(seen[1].feedback).toContain("assert count_vowels('Apple') == 2");
    expect(seen[1].feedback).toContain("AssertionError: got 1, expected 2");
    expect(out).toMatchObject({ stopReason: "threshold", iteration: 2, final: RIGHT, finalScore: 10, passed: 3, total: 3 });
    expect(out.attempts.map((a: { score: number }) => a.score)).toEqual([7, 10]);
    expect(out.testRuns.map((r: { passed: number }) => r.passed)).toEqual([2, 3]);
  });

  it("stops at maxIterations and returns the best attempt with its pass count", async () => {
    const { generate } = scripted([WRONG, "def count_vowels(s):\n    return 0\n"]);
    const out = await buildCodeGeneration({ generate }).compile().invoke({ task: TASK, tests: TESTS, maxIterations: 2 });
    expect(out).toMatchObject({ stopReason: "max_iterations", iteration: 2, final: WRONG, finalScore: 7, passed: 2, total: 3 });
    expect(out.testRuns[1]).toMatchObject({ iteration: 2, passed: 1 });
  });

  it("a hanging draft is a timeout failure, and the loop goes on", async () => {
    const { generate, seen } = scripted(["def count_vowels(s):\n    while True:\n        pass\n", RIGHT]);
    // No clock is read: a draft that hung the caller would fail at the test timeout, and
    // the run reports the timeout itself (the first test timed out; the others timed out
    // too or were not run, depending on how much of the 800 ms budget was left).
    const out = await buildCodeGeneration({ generate }).compile().invoke({ task: TASK, tests: TESTS, timeoutMs: 800 });
    expect(out.testRuns[0]).toMatchObject({ iteration: 1, passed: 0, total: 3, timedOut: true });
    expect(out.testRuns[0].failed[0]).toMatchObject({ test: TESTS[0], kind: "timeout" });
    for (const f of out.testRuns[0].failed) expect(["timeout", "not_run"]).toContain(f.kind);
    expect(seen[1].feedback).toMatch(/timed out after \d+ ms/);
    expect(out).toMatchObject({ stopReason: "threshold", passed: 3 });
  });

  it("a second run on the same thread starts a fresh loop", async () => {
    const { generate } = scripted([RIGHT]);
    const graph = buildCodeGeneration({ generate }).compile({ checkpointer: new MemorySaver() });
    const config = { configurable: { thread_id: "cg-1" } };
    await graph.invoke({ task: TASK, tests: TESTS }, config);
    const again = await graph.invoke({ task: TASK, tests: TESTS }, config);
    expect(again.attempts).toHaveLength(1);
    expect(again.testRuns).toHaveLength(1);
  });

  it("runs offline end to end and reports the failures honestly", async () => {
    const out = await definition.graph.invoke({ ...definition.example, maxIterations: 1 });
    expect(out).toMatchObject({ stopReason: "max_iterations", iteration: 1, passed: 0, total: 3, finalScore: 1 });
    expect(out.testRuns[0].failed).toHaveLength(3);
  });
});

describe("codeGeneration: input", () => {
  it("refuses missing or empty tests and an empty task, naming the field", () => {
    expect(() => parseInput("codeGeneration", CodeGenerationInput, { task: TASK, tests: [] })).toThrow(/tests: give at least one test/);
    expect(() => parseInput("codeGeneration", CodeGenerationInput, { task: TASK, tests: ["assert True", "  "] })).toThrow(/tests\.1: a test cannot be empty/);
    expect(() => parseInput("codeGeneration", CodeGenerationInput, { task: " ", tests: TESTS })).toThrow(/task:/);
    expect(() => parseInput("codeGeneration", CodeGenerationInput, { task: TASK })).toThrow(/tests:/);
    expect(() => parseInput("codeGeneration", CodeGenerationInput, { task: TASK, tests: TESTS, timeoutMs: 10 })).toThrow(/timeoutMs:/);
  });

  it("has defaults: threshold 10, 3 iterations, 10 s per test run", () => {
    expect(parseInput("codeGeneration", CodeGenerationInput, { task: TASK, tests: TESTS })).toMatchObject({ threshold: 10, maxIterations: 3, timeoutMs: 10_000, setup: "" });
  });
});
