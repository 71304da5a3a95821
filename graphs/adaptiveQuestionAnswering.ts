/**
 * adaptiveQuestionAnswering: adaptive question answering (*Advanced Workflows*, "Dynamic
 * routing"): classify the question's complexity and whether it needs external
 * data, then route to a direct answer, a research answer over a local
 * knowledge base (BM25 retrieval over the documents given, with cited
 * sources), or step-by-step reasoning with a validation step and one stricter
 * retry when validation fails. Unsure reasoning (classifier confidence < 0.7)
 * goes to the `strong` model. The reasoning route is a subgraph (a prompt
 * chain) mounted as a route of the router.
 */
import { StateSchema, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import { getChatModel } from "../src/models/factory.js";
import { optionList, tagged } from "../src/models/prompting.js";
import { invokeStructured } from "../src/models/structured.js";
import { terms } from "../src/runtime/text.js";
import { buildPromptChain } from "../src/patterns/workflow/promptChain.js";
import { buildRouter } from "../src/patterns/workflow/router.js";
import { retrieve } from "../src/runtime/retrieval.js";
import { defineWorkflow, inputSchema } from "../src/workflow.js";

/** Below this classifier confidence, the reasoning route uses the `strong` model (*Advanced Workflows*). */
export const STRONG_BELOW_CONFIDENCE = 0.7;
/** Passages retrieved for a research answer. */
export const PASSAGES = 4;

export const COMPLEXITY = {
  simple: "a single fact or definition, answerable in a sentence: what is, who is, when, define",
  moderate: "an explanation of how or why something works, a few connected facts",
  complex: "several steps of reasoning, a comparison, a calculation, a plan, trade-offs: compare, calculate, plan, should, trade-off, step by step",
};

export const QueryClassification = z.object({
  complexity: z.enum(["simple", "moderate", "complex"]).describe("How much reasoning the question needs"),
  requires_external_data: z
    .boolean()
    .describe("Whether the question needs facts from the documents, the docs, the knowledge base, or current or recent data"),
  confidence: z.number().min(0).max(1).describe("How sure the classification is, from 0 to 1"),
});
export const SimpleAnswer = z.object({ answer: z.string().describe("The answer, concise") });
export const ResearchAnswer = z.object({
  answer: z.string().describe("The answer, from the sources"),
  sources: z.array(z.string()).describe("Titles of the sources used"),
  confidence: z.number().min(0).max(1).describe("How well the sources support the answer, 0 to 1"),
});
export const MultiStepAnswer = z.object({
  reasoning_steps: z.array(z.string()).min(1).max(8).describe("The reasoning, one step per item"),
  final_answer: z.string().describe("The final answer"),
  assumptions: z.array(z.string()).max(5).describe("Assumptions made"),
});
export type MultiStepAnswer = z.infer<typeof MultiStepAnswer>;

const Document = z.object({ title: z.string().trim().min(1), content: z.string().trim().min(1) });
const inputFields = {
  question: z.string().trim().min(1).max(10_000).describe("The question"),
  documents: z.array(Document).max(1000).default(() => []).describe("The local knowledge base for research answers (optional)"),
};
const outputFields = {
  classification: QueryClassification.nullable().default(null).describe("The classifier's decision"),
  route: z.enum(["direct_answer", "research_answer", "reason_step_by_step", "fallback_answer"]).nullable().default(null).describe("The route taken"),
  answer: z.string().default("").describe("The answer"),
  sources: z.array(z.string()).default(() => []).describe("Titles of the documents the research answer cites"),
  reasoning: MultiStepAnswer.nullable().default(null).describe("The step-by-step reasoning (reasoning route)"),
  validation: z.object({ valid: z.boolean(), problems: z.array(z.string()) }).nullable().default(null).describe("The reasoning's validation"),
  retried: z.boolean().default(false).describe("Whether the reasoning was redone more strictly after failing validation"),
  note: z.string().nullable().default(null).describe("What limited the answer, if anything"),
};

/** The input: checked whole (required fields too) by the facade, LangGraph and the server. */
export const QuestionInput = inputSchema(inputFields);
export const QuestionOutput = new StateSchema(outputFields);
export const QuestionState = new StateSchema({ ...inputFields, ...outputFields });
export type QuestionState = typeof QuestionState.State;

/** Classifier: complexity, need for external data, confidence. */
export async function classifyQuestion(state: QuestionState, config: LangGraphRunnableConfig) {
  const classification = await invokeStructured(
    getChatModel("default", config),
    QueryClassification,
    "QueryClassification",
    [
      "Classify this question's complexity and data needs. Does it require a factual lookup or reasoning? Can it be answered directly or does it need decomposition? Does it need external or current data?",
      `Complexity:\n${optionList(COMPLEXITY)}`,
      tagged("question", state.question),
    ].join("\n\n"),
    config,
  );
  return { classification, route: null, answer: "", sources: [], reasoning: null, validation: null, retried: false, note: null };
}

/** The route for a classification (*Advanced Workflows*'s if/elif/else). */
export function routeFor(c: QuestionState["classification"]): { route: string } | undefined {
  if (!c) return undefined;
  if (c.requires_external_data) return { route: "research_answer" };
  if (c.complexity === "simple") return { route: "direct_answer" };
  return { route: "reason_step_by_step" };
}

/** Direct answer from the model's own knowledge. */
export async function answerDirectly(state: QuestionState, config: LangGraphRunnableConfig) {
  const { answer } = await invokeStructured(getChatModel("default", config), SimpleAnswer, "SimpleAnswer", `Answer concisely.\n\n${tagged("question", state.question)}`, config);
  return { route: "direct_answer" as const, answer };
}

/** Research answer: retrieval over the knowledge base, an answer citing its sources. */
export async function answerFromSources(state: QuestionState, config: LangGraphRunnableConfig) {
  if (state.documents.length === 0) {
    const { answer } = await invokeStructured(getChatModel("default", config), SimpleAnswer, "SimpleAnswer", `Answer concisely.\n\n${tagged("question", state.question)}`, config);
    return { route: "research_answer" as const, answer, sources: [], note: "the question needs external data but no documents were given: answered without sources" };
  }
  const passages = await retrieve(state.question, state.documents, PASSAGES);
  if (passages.length === 0) {
    return { route: "research_answer" as const, answer: "", sources: [], note: "no passage of the documents matches the question" };
  }
  const result = await invokeStructured(
    getChatModel("default", config),
    ResearchAnswer,
    "ResearchAnswer",
    [
      "Answer using the sources provided. Cite the titles of the sources you use and give your confidence.",
      tagged("question", state.question),
      tagged("sources", passages.map((p) => `[${p.title}] ${p.text}`).join("\n\n")),
    ].join("\n\n"),
    config,
  );
  // Only titles of retrieved passages count as sources; a model may cite others.
  const retrieved = [...new Set(passages.map((p) => p.title))];
  const cited = result.sources.filter((s) => retrieved.some((t) => s.includes(t)));
  return { route: "research_answer" as const, answer: result.answer, sources: cited.length ? retrieved.filter((t) => cited.some((c) => c.includes(t))) : retrieved };
}

/** The programmatic check of a reasoning: steps present, and a final answer the steps support (shared content words). */
export function validateReasoning(reasoning: MultiStepAnswer, question: string): { valid: boolean; problems: string[] } {
  const problems: string[] = [];
  const steps = reasoning.reasoning_steps.filter((s) => s.trim());
  if (steps.length === 0) problems.push("no reasoning steps");
  if (!reasoning.final_answer.trim()) problems.push("no final answer");
  const stepTerms = new Set(terms(`${steps.join(" ")} ${question}`));
  const answerTerms = terms(reasoning.final_answer);
  if (answerTerms.length && !answerTerms.some((t) => stepTerms.has(t))) problems.push("the final answer does not follow from the steps");
  return { valid: problems.length === 0, problems };
}

const ReasoningState = new StateSchema({
  question: inputFields.question,
  classification: outputFields.classification,
  route: outputFields.route,
  answer: outputFields.answer,
  reasoning: outputFields.reasoning,
  validation: outputFields.validation,
  retried: outputFields.retried,
  stopReason: z.string().nullable().default(null),
  stoppedAfter: z.string().nullable().default(null),
});
type ReasoningState = typeof ReasoningState.State;

/** Reasoning step 1: step-by-step answer (strong model when the classifier was unsure). */
export async function reason(state: ReasoningState, config: LangGraphRunnableConfig) {
  const unsure = (state.classification?.confidence ?? 0) < STRONG_BELOW_CONFIDENCE;
  const prompt = unsure
    ? "Break down this complex question into reasoning steps. Show your work step by step, then give the final answer."
    : "Answer with step-by-step reasoning.";
  const reasoning = await invokeStructured(getChatModel(unsure ? "strong" : "default", config), MultiStepAnswer, "MultiStepAnswer", `${prompt}\n\n${tagged("question", state.question)}`, config);
  return { route: "reason_step_by_step" as const, reasoning, answer: reasoning.final_answer, retried: false };
}

/** Reasoning step 2: validation (programmatic). */
export function checkReasoning(state: ReasoningState) {
  return { validation: validateReasoning(state.reasoning!, state.question) };
}

/** Reasoning step 3 (only after a failed validation): one stricter attempt. */
export async function retryStrictly(state: ReasoningState, config: LangGraphRunnableConfig) {
  const reasoning = await invokeStructured(
    getChatModel("default", config),
    MultiStepAnswer,
    "MultiStepAnswer",
    [
      "A previous attempt had logical inconsistencies. Answer carefully with explicit reasoning: every step must follow from the one before, and the final answer must follow from the steps.",
      tagged("question", state.question),
      tagged("feedback", (state.validation?.problems ?? []).join("; ")),
    ].join("\n\n"),
    config,
  );
  return { reasoning, answer: reasoning.final_answer, retried: true, validation: validateReasoning(reasoning, state.question) };
}

/**
 * The reasoning route: reason -> validate -> (failed) retry strictly, as a
 * subgraph. `reasoner` replaces the first step (tests drive a failed validation with it).
 */
export function buildReasoningSubgraph(reasoner: typeof reason = reason) {
  return buildPromptChain<ReasoningState>({
    state: ReasoningState,
    steps: [
      { name: "reason", run: reasoner },
      { name: "validate_reasoning", run: checkReasoning },
      { name: "retry_strictly", run: retryStrictly },
    ],
    gate: (s, step) => (step === "validate_reasoning" && s.validation?.valid ? "the reasoning passed validation" : undefined),
  }).compile({ name: "reason_step_by_step" });
}

export const reasoningSubgraph = buildReasoningSubgraph();

/** Fallback: the classification was missing; answer directly and say so. */
export async function fallbackAnswer(state: QuestionState, config: LangGraphRunnableConfig, reason: string) {
  const { answer } = await answerDirectly(state, config);
  return { route: "fallback_answer" as const, answer, note: `answered directly: ${reason}` };
}

export const definition = defineWorkflow({
  name: "adaptiveQuestionAnswering",
  description: "Adaptive QA: classify complexity and data needs -> direct answer, research over local documents with sources, or validated step-by-step reasoning",
  pattern: "routing + subgraph",
  input: QuestionInput,
  builder: buildRouter<QuestionState>({
    state: QuestionState,
    input: QuestionInput,
    output: QuestionOutput,
    classifier: { name: "classify_question", run: classifyQuestion },
    decision: (s) => routeFor(s.classification),
    routes: { direct_answer: answerDirectly, research_answer: answerFromSources, reason_step_by_step: reasoningSubgraph },
    fallback: { name: "fallback_answer", run: fallbackAnswer },
  }),
  example: {
    question: "How do I set a timeout in the docs' examples, and what happens without one?",
    documents: [
      { title: "Timeouts", content: "Most requests to external servers should have a timeout attached. Without a timeout, your code may hang for minutes or more. The timeout is given in seconds with the timeout argument." },
      { title: "Sessions", content: "A Session object persists cookies and parameters across requests and reuses connections." },
    ],
  },
});

export const graph = definition.graph;
