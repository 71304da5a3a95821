/**
 * codeGeneration: evaluator-optimizer (*Lesson 05: Workflow Patterns* pattern 5, "code generation
 * with quality control") where the evaluator is not a model but the tests:
 * `generate` writes Python for the task, `evaluate` runs it against the
 * task's assert lines in a confined `python3` subprocess
 * (`src/runtime/python.ts`: fresh temporary folder, empty environment, no
 * network, a time limit that kills the process group), scores it
 * `round(10 * passed / total)` and feeds the failing asserts with their
 * errors back to `generate`, until every test passes (`threshold` 10 by
 * default) or `maxIterations` (default 3) is reached. The result is the best
 * attempt (most tests passed, the later one on a tie), with every attempt's
 * failures kept in `testRuns`.
 *
 * The workflow reads nothing but its input: no reference solution is ever
 * shown to the model. With the offline model (which cannot write code) the
 * drafts are extracts of the prompt and the tests fail; the loop reports that
 * as it is.
 *
 * Reported, not thrown: a syntax error, an exception, a failed assert, a
 * hang (a timeout failure), a crash, an empty answer. Thrown: invalid input
 * (refused before anything runs, naming the field) and a machine without
 * Python ({@link PythonUnavailableError}).
 */
import { Overwrite, ReducedValue, StateSchema, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import { getChatModel } from "../src/models/factory.js";
import { tagged } from "../src/models/prompting.js";
import { bestAttempt, buildEvaluatorOptimizer, evaluatorOptimizerFields } from "../src/patterns/workflow/evaluatorOptimizer.js";
import type { BuiltGraph } from "../src/patterns/core/graph.js";
import { DEFAULT_PYTHON_TIMEOUT_MS, runPythonTests, type PythonRunOptions, type PythonTestResult } from "./lib/python.js";
import { defineWorkflow, inputSchema } from "../src/workflow.js";

/** Longest feedback passed back to the generator, in characters. */
export const MAX_FEEDBACK_CHARS = 4_000;
/** Failures listed in the feedback before "and N more". */
export const MAX_FEEDBACK_FAILURES = 10;

/** One failed test of one attempt. */
export const TestFailure = z.object({
  test: z.string(),
  kind: z.string().describe("assert, error, timeout, syntax, code (the code itself failed) or not_run"),
  error: z.string(),
});

/** The test outcome of one attempt. */
export const TestRun = z.object({
  iteration: z.number().int().describe("1-based iteration of the attempt"),
  passed: z.number().int(),
  total: z.number().int(),
  timedOut: z.boolean().describe("Whether a test (or the code) ran out of time"),
  failed: z.array(TestFailure),
});
export type TestRun = z.infer<typeof TestRun>;

const { threshold: _threshold, maxIterations, ...loopFields } = evaluatorOptimizerFields;
const inputFields = {
  task: z.string().trim().min(1).max(20_000).describe("What the code must do (e.g. an MBPP problem's text)"),
  tests: z
    .array(z.string().trim().min(1, "a test cannot be empty").max(10_000))
    .min(1, "give at least one test")
    .max(100)
    .describe("Python test statements, typically assert lines, run one by one against the code"),
  setup: z.string().max(100_000).default("").describe("Python run after the code and before the tests (optional)"),
  threshold: z.number().min(1).max(10).default(10).describe("Stop when the score reaches this (1-10; 10 = every test passes)"),
  maxIterations,
  timeoutMs: z.number().int().min(100).max(120_000).default(DEFAULT_PYTHON_TIMEOUT_MS).describe("Time limit of one test run in ms (the process group is killed after it)"),
};
const testRuns = new ReducedValue(z.array(TestRun).default(() => []), {
  reducer: (current: TestRun[], next: TestRun[]) => current.concat(next),
});
const resultFields = {
  passed: z.number().int().default(0).describe("Tests the final code passes"),
  total: z.number().int().default(0).describe("Tests run"),
};
const outputFields = {
  final: loopFields.final.describe("The final code: the attempt that passed most tests (the later one on a tie)"),
  finalScore: loopFields.finalScore,
  ...resultFields,
  stopReason: loopFields.stopReason,
  iteration: loopFields.iteration,
  attempts: loopFields.attempts,
  testRuns,
};

/**
 * The input `{ task, tests, setup?, threshold?, maxIterations?, timeoutMs? }`:
 * checked whole (required fields too) by the facade, LangGraph and the server.
 */
export const CodeGenerationInput = inputSchema(inputFields);
/** The output: the final code (`final`), its score and `passed`/`total`, why the loop stopped, every attempt and test run. */
export const CodeGenerationOutput = new StateSchema(outputFields);
/** The whole state: input, the evaluator-optimizer loop's fields, the best attempt's pass count and the test runs. */
export const CodeGenerationState = new StateSchema({ ...inputFields, ...loopFields, ...resultFields, testRuns });
export type CodeGenerationState = typeof CodeGenerationState.State;

/** The first draft: code only, named as the tests call it. */
export const GENERATE_PROMPT =
  "Write a Python solution to the task. The tests below are run against your code as they are, so use the function names and signatures they call. Reply with the complete code only, in one ```python block: no explanations, no tests, no example usage.";
/** A refinement: the failing tests with their errors come in the `<feedback>` block. */
export const REFINE_PROMPT =
  "Your code failed some of the tests below; the feedback lists each failing test with its error. Fix the code so that every test passes. Reply with the complete corrected code only, in one ```python block.";

/**
 * The code in a model's answer: the first fenced block (```python or ```),
 * else the whole answer; MBPP-style `[BEGIN]`/`[DONE]` markers are removed.
 */
export function extractCode(answer: string): string {
  const fenced = /```[ \t]*(?:python3?|py)?[ \t]*\r?\n([\s\S]*?)```/i.exec(answer);
  const code = fenced ? fenced[1] : answer;
  return code.replace(/^\s*\[BEGIN\]\s*$/m, "").replace(/^\s*\[DONE\]\s*$/m, "").replace(/\s+$/, "").replace(/^\s*\n/, "");
}

/** The score of a test run: round(10 * passed / total), in 1..10, and 10 only when every test passes. */
export function scoreOf(passed: number, total: number): number {
  if (total <= 0) return 1;
  if (passed >= total) return 10;
  return Math.min(9, Math.max(1, Math.round((10 * passed) / total)));
}

/** The evaluator's feedback: each failing test with its error (truncated), or that every test passes. */
export function feedbackOf(result: Pick<PythonTestResult, "passed" | "total" | "failed">): string {
  if (result.failed.length === 0) return `All ${result.total} tests pass.`;
  const lines = [`${result.failed.length} of ${result.total} tests failed:`];
  for (const f of result.failed.slice(0, MAX_FEEDBACK_FAILURES)) lines.push(`- ${f.test}\n  ${f.error}`);
  if (result.failed.length > MAX_FEEDBACK_FAILURES) lines.push(`… and ${result.failed.length - MAX_FEEDBACK_FAILURES} more`);
  const text = lines.join("\n");
  return text.length <= MAX_FEEDBACK_CHARS ? text : `${text.slice(0, MAX_FEEDBACK_CHARS - 1)}…`;
}

/** Generates `{ draft }` (the code) from the state: the first draft at iteration 0, else a refinement. */
export type CodeGenerator = (state: CodeGenerationState, config: LangGraphRunnableConfig) => Promise<{ draft: string }> | { draft: string };
/** Runs the tests (the default is {@link runPythonTests}). */
export type TestRunner = (code: string, tests: readonly string[], options: PythonRunOptions) => Promise<PythonTestResult>;

/** Generator (optimizer): asks the model for code, or for a fix with the failing tests as feedback. */
export async function generateCode(state: CodeGenerationState, config: LangGraphRunnableConfig): Promise<{ draft: string }> {
  const tests = state.tests.join("\n");
  const parts =
    state.iteration === 0
      ? [GENERATE_PROMPT, tagged("task", state.task), tagged("tests", tests)]
      : [REFINE_PROMPT, tagged("task", state.task), tagged("feedback", state.feedback), tagged("code", state.draft), tagged("tests", tests)];
  if (state.setup.trim()) parts.push(tagged("setup", state.setup));
  const answer = await getChatModel("default", config).invoke(parts.join("\n\n"), config);
  return { draft: extractCode(answer.text) };
}

/**
 * Evaluator: runs the draft against the tests and scores it; keeps the test
 * run, and `passed`/`total` of the best attempt so far (the one `finalize`
 * picks: highest score, the later on a tie).
 */
export async function evaluateCode(
  state: CodeGenerationState,
  config: LangGraphRunnableConfig,
  runTests: TestRunner = runPythonTests,
): Promise<Pick<CodeGenerationState, "score" | "feedback"> & Partial<CodeGenerationState>> {
  const result: Pick<PythonTestResult, "passed" | "total" | "failed" | "timedOut"> = state.draft.trim()
    ? await runTests(state.draft, state.tests, { timeoutMs: state.timeoutMs, setup: state.setup, signal: config.signal })
    : {
        passed: 0,
        total: state.tests.length,
        timedOut: false,
        failed: state.tests.map((test, index) => ({ test, index, kind: "code" as const, error: "the model returned no code" })),
      };
  const score = scoreOf(result.passed, result.total);
  const run: TestRun = {
    iteration: state.iteration,
    passed: result.passed,
    total: result.total,
    timedOut: result.timedOut,
    failed: result.failed.map((f) => ({ test: f.test, kind: f.kind, error: f.error })),
  };
  const best = bestAttempt(state.attempts);
  const isBest = !best || score >= best.score;
  return { score, feedback: feedbackOf(result), testRuns: [run], ...(isBest ? { passed: result.passed, total: result.total } : {}) };
}

/**
 * The workflow's graph with a given generator and test runner (tests pass a
 * scripted generator; the registered workflow uses {@link generateCode} and
 * {@link runPythonTests}).
 */
export function buildCodeGeneration(deps: { generate?: CodeGenerator; runTests?: TestRunner } = {}): BuiltGraph {
  const generate = deps.generate ?? generateCode;
  return buildEvaluatorOptimizer<CodeGenerationState>({
    state: CodeGenerationState,
    input: CodeGenerationInput,
    output: CodeGenerationOutput,
    generate: async (state, config) => ({
      ...(await generate(state, config)),
      // A new loop (first iteration, or a finished thread run again) starts with no test runs.
      ...(state.iteration === 0 ? { testRuns: new Overwrite([]) as unknown as TestRun[], passed: 0, total: 0 } : {}),
    }),
    evaluate: (state, config) => evaluateCode(state, config, deps.runTests),
  });
}

/** The workflow's registration: name, description, pattern, input schema, graph and example. */
export const definition = defineWorkflow({
  name: "codeGeneration",
  description: "Evaluator-optimizer: write Python, run it against the tests in a sandboxed python3, feed the failures back until all pass",
  pattern: "evaluator-optimizer",
  input: CodeGenerationInput,
  builder: buildCodeGeneration(),
  example: {
    task: "Write a function count_vowels(s) that returns how many vowels (a, e, i, o, u, either case) the string s contains.",
    tests: ["assert count_vowels('hello') == 2", "assert count_vowels('SKY') == 0", "assert count_vowels('Queue') == 4"],
    maxIterations: 2,
  },
});

/** The compiled graph (no checkpointer), for `langgraph.json`. */
export const graph = definition.graph;
