/**
 * iterativeRefinement: evaluator-optimizer (*Lesson 05: Workflow Patterns* pattern 5). Generate a
 * draft, score it 1-10 with feedback, refine it with the feedback, until the
 * score reaches the threshold (default 8) or the iteration cap (default 3);
 * the result is the best attempt. With `humanReview`, a person approves,
 * edits or rejects the final draft (a rejection is refined once more).
 */
import { StateSchema, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import { getChatModel } from "../src/models/factory.js";
import { tagged } from "../src/models/prompting.js";
import { invokeStructured } from "../src/models/structured.js";
import { approvalFields } from "../src/patterns/state/approval.js";
import { buildEvaluatorOptimizer, evaluatorOptimizerFields } from "../src/patterns/workflow/evaluatorOptimizer.js";
import { defineWorkflow, inputSchema } from "../src/workflow.js";

export const Evaluation = z.object({
  score: z.number().int().min(1).max(10).describe("Quality of the draft for the task, 1 (poor) to 10 (excellent)"),
  feedback: z.string().describe("Specific feedback: what is missing or wrong and how to improve it"),
});

const { threshold, maxIterations, ...loopFields } = evaluatorOptimizerFields;
const inputFields = {
  task: z.string().trim().min(1).max(10_000).describe("What to write"),
  reference: z.string().max(500_000).default("").describe("Reference material to draw on (optional)"),
  threshold,
  maxIterations,
  humanReview: z.boolean().default(false).describe("Ask a human to approve, edit or reject the final draft"),
  reviewTimeoutMs: z.number().int().min(1).optional().describe("Time the reviewer has, in ms; after it the draft is rejected and revised"),
};
const outputFields = {
  final: loopFields.final,
  finalScore: loopFields.finalScore,
  stopReason: loopFields.stopReason,
  iteration: loopFields.iteration,
  attempts: loopFields.attempts,
  review: approvalFields.review,
};

/** The input: checked whole (required fields too) by the facade, LangGraph and the server. */
export const RefinementInput = inputSchema(inputFields);
export const RefinementOutput = new StateSchema(outputFields);
export const RefinementState = new StateSchema({ ...inputFields, ...loopFields, ...approvalFields });
export type RefinementState = typeof RefinementState.State;

export const GENERATE_PROMPT = "Complete the task. Draw on the reference when given.";
export const REFINE_PROMPT = "Improve the draft so that it does the task better, following the feedback. Draw on the reference when given.";
export const EVALUATE_PROMPT =
  "Score the draft from 1 to 10 for how completely and correctly it does the task, and give specific feedback on what to improve.";

/** Generator (optimizer): the first draft, or a refinement using the feedback. */
export async function generateDraft(state: RefinementState, config: LangGraphRunnableConfig) {
  const parts =
    state.iteration === 0
      ? [GENERATE_PROMPT, tagged("task", state.task)]
      : [REFINE_PROMPT, tagged("task", state.task), tagged("feedback", state.feedback), tagged("draft", state.draft)];
  if (state.reference) parts.push(tagged("reference", state.reference));
  const answer = await getChatModel("default", config).invoke(parts.join("\n\n"), config);
  return { draft: answer.text };
}

/** Evaluator: a structured score and feedback. */
export async function evaluateDraft(state: RefinementState, config: LangGraphRunnableConfig) {
  return invokeStructured(
    getChatModel("default", config),
    Evaluation,
    "Evaluation",
    [EVALUATE_PROMPT, tagged("task", state.task), tagged("draft", state.draft)].join("\n\n"),
    config,
  );
}

export const definition = defineWorkflow({
  name: "iterativeRefinement",
  description: "Evaluator-optimizer: generate, score 1-10 with feedback, refine until the threshold or the iteration cap",
  pattern: "evaluator-optimizer",
  input: RefinementInput,
  builder: buildEvaluatorOptimizer<RefinementState>({
    state: RefinementState,
    input: RefinementInput,
    output: RefinementOutput,
    generate: generateDraft,
    evaluate: evaluateDraft,
    review: { enabled: (s) => s.humanReview, deadlineMs: (s) => s.reviewTimeoutMs },
  }),
  example: {
    task: "Explain when to set a timeout on requests and what happens without one",
    reference:
      "Nearly all production code should use the timeout parameter in nearly all requests. Failure to do so can cause your program to hang indefinitely. The connect timeout is the number of seconds Requests will wait for your client to establish a connection. The read timeout is the number of seconds the client will wait for the server to send a response. If you specify a single value for the timeout, it is applied to both the connect and the read timeouts.",
  },
});

export const graph = definition.graph;
