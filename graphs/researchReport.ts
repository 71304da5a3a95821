/**
 * researchReport: combined patterns (*Lesson 05: Workflow Patterns*, "Combining patterns",
 * example 2): orchestrator-workers (the `researchAssistant` workflow:
 * decompose -> research -> synthesize) -> evaluator-optimizer (the
 * `iterativeRefinement` workflow: draft -> review -> polish) -> final report.
 * Both are the registered workflows' own graphs, run as subgraphs from the
 * steps of a prompt chain (so their nodes stream and checkpoint as nested
 * namespaces).
 */
import { StateSchema, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import { Attempt } from "../src/patterns/workflow/evaluatorOptimizer.js";
import { buildPromptChain, chainFields } from "../src/patterns/workflow/promptChain.js";
import { defineWorkflow, inputSchema } from "../src/workflow.js";
import { graph as researchGraph, Finding } from "./researchAssistant.js";
import { graph as refinementGraph } from "./iterativeRefinement.js";

const inputFields = {
  topic: z.string().trim().min(1).max(5_000).describe("What the report is about"),
  sources: z.string().max(500_000).default("").describe("Source text for the research (optional)"),
  maxSubtasks: z.number().int().min(1).max(10).default(3).describe("Most research subtasks"),
  threshold: z.number().min(1).max(10).default(8).describe("Review score that ends the polishing (1-10)"),
  maxIterations: z.number().int().min(1).max(10).default(3).describe("Most polishing rounds"),
};
const outputFields = {
  subtasks: z.array(z.string()).default(() => []).describe("The research plan"),
  findings: z.array(Finding).default(() => []).describe("The workers' findings"),
  draft: z.string().default("").describe("The synthesized draft report"),
  report: z.string().default("").describe("The final, reviewed report"),
  score: z.number().nullable().default(null).describe("The final report's review score, 1-10"),
  reviews: z.array(Attempt).default(() => []).describe("Each polishing round: draft, score, feedback"),
  ...chainFields,
};

/** The input: checked whole (required fields too) by the facade, LangGraph and the server. */
export const ReportInput = inputSchema(inputFields);
export const ReportOutput = new StateSchema(outputFields);
export const ReportState = new StateSchema({ ...inputFields, ...outputFields });
export type ReportState = typeof ReportState.State;

/** Step 1: orchestrator-workers research (the researchAssistant graph). */
export async function research(state: ReportState, config: LangGraphRunnableConfig) {
  const out = await researchGraph.invoke({ task: state.topic, sources: state.sources, maxSubtasks: state.maxSubtasks }, config);
  return { subtasks: out.subtasks, findings: out.findings, draft: out.synthesis };
}

/** Step 2: evaluator-optimizer polishing of the draft (the iterativeRefinement graph). */
export async function polish(state: ReportState, config: LangGraphRunnableConfig) {
  const reference = [state.draft, ...state.findings.map((f) => f.finding)].join("\n\n");
  const out = await refinementGraph.invoke(
    { task: `Write a clear, complete report on: ${state.topic}`, reference, threshold: state.threshold, maxIterations: state.maxIterations },
    config,
  );
  return { report: out.final, score: out.finalScore, reviews: out.attempts };
}

export const definition = defineWorkflow({
  name: "researchReport",
  description: "Combined patterns: orchestrator-workers research, then evaluator-optimizer polishing, as subgraphs",
  pattern: "orchestrator-workers + evaluator-optimizer (subgraphs)",
  input: ReportInput,
  builder: buildPromptChain<ReportState>({
    state: ReportState,
    input: ReportInput,
    output: ReportOutput,
    steps: [
      { name: "research", run: research },
      { name: "polish", run: polish },
    ],
    gate: (s, step) => (step === "research" && !s.draft.trim() ? "the research produced no draft to polish" : undefined),
  }),
  example: {
    topic: "How the requests library handles sessions and timeouts",
    sources:
      "A Session object persists cookies and parameters across requests. It uses connection pooling, so requests to the same host reuse the TCP connection. Timeouts are set per request with the timeout argument, in seconds. Without a timeout a request can hang indefinitely.",
  },
});

export const graph = definition.graph;
