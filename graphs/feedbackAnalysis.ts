/**
 * feedbackAnalysis: customer feedback analysis (*Advanced Workflows*, "The Engineering
 * Shift"): sentiment with confidence -> topics (escalated to the `strong`
 * model role when confidence < 0.7) -> an action plan with a priority -> an
 * escalation ticket when the sentiment is negative and the priority high.
 * A prompt chain whose gate ends the run, with the reason, when no
 * escalation is called for.
 */
import { StateSchema, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import { getChatModel } from "../src/models/factory.js";
import { optionList, tagged } from "../src/models/prompting.js";
import { invokeStructured } from "../src/models/structured.js";
import { buildPromptChain, chainFields } from "../src/patterns/workflow/promptChain.js";
import { onceForTask } from "../src/runtime/ledger.js";
import { supportDeskFrom } from "./lib/supportDesk.js";
import { defineWorkflow, inputSchema } from "../src/workflow.js";

/** Below this sentiment confidence, topics are extracted by the `strong` model (*Advanced Workflows*). */
export const ESCALATE_BELOW_CONFIDENCE = 0.7;

export const SENTIMENTS = {
  positive: "praise or satisfaction: good, great, excellent, love, works well, happy, recommend, perfect, best",
  negative: "complaint or disappointment: bad, poor, broken, fails, stopped working, disappointed, waste, worst, never, useless, problem",
  neutral: "neither praise nor complaint: a question, a fact, a request",
};
export const PRIORITIES = {
  high: "the product fails or is unusable, money is lost, safety, a customer is leaving: broken, dead, stopped working, refund, waste, dangerous",
  medium: "a real but limited problem: annoying, poor quality, slow, uncomfortable, disappointing",
  low: "suggestions, praise, cosmetic details, nothing to fix: nice, good, would be better, minor",
};

export const SentimentAnalysis = z.object({
  sentiment: z.enum(["positive", "negative", "neutral"]).describe("The sentiment of the feedback"),
  confidence: z.number().min(0).max(1).describe("How sure, from 0 to 1"),
  reasoning: z.string().describe("Why, in a sentence"),
});
export const TopicExtraction = z.object({
  topics: z.array(z.string()).min(1).max(5).describe("The topics the feedback is about"),
  primary_concern: z.string().describe("The main concern, in a sentence"),
});
export const ActionPlan = z.object({
  items: z.array(z.string()).min(1).max(5).describe("Action items for the product team"),
  priority: z.enum(["high", "medium", "low"]).describe("How urgent the actions are"),
  reasoning: z.string().describe("Why this priority"),
});

const inputFields = {
  feedback: z.string().trim().min(1).max(50_000).describe("The customer's feedback"),
};
const outputFields = {
  sentiment: SentimentAnalysis.nullable().default(null).describe("Step 1: sentiment with confidence"),
  topics: TopicExtraction.nullable().default(null).describe("Step 2: topics and the primary concern"),
  topicsModel: z.enum(["default", "strong"]).nullable().default(null).describe("The model role that extracted the topics"),
  actionPlan: ActionPlan.nullable().default(null).describe("Step 3: action items with a priority"),
  escalationId: z.string().nullable().default(null).describe("Step 4: the escalation ticket, when one was opened"),
  ...chainFields,
};

/** The input: checked whole (required fields too) by the facade, LangGraph and the server. */
export const FeedbackInput = inputSchema(inputFields);
export const FeedbackOutput = new StateSchema(outputFields);
export const FeedbackState = new StateSchema({ ...inputFields, ...outputFields });
export type FeedbackState = typeof FeedbackState.State;

/** Step 1: sentiment. */
export async function analyzeSentiment(state: FeedbackState, config: LangGraphRunnableConfig) {
  const sentiment = await invokeStructured(
    getChatModel("default", config),
    SentimentAnalysis,
    "SentimentAnalysis",
    `Analyse the sentiment of the customer feedback as one of:\n${optionList(SENTIMENTS)}\nGive your confidence from 0 to 1.\n\n${tagged("feedback", state.feedback)}`,
    config,
  );
  return { sentiment, topics: null, topicsModel: null, actionPlan: null, escalationId: null };
}

/** Step 2: topics; ambiguous feedback (confidence < 0.7) goes to the strong model. */
export async function extractTopics(state: FeedbackState, config: LangGraphRunnableConfig) {
  const role: "strong" | "default" = (state.sentiment?.confidence ?? 0) < ESCALATE_BELOW_CONFIDENCE ? "strong" : "default";
  const instruction =
    role === "strong" ? "Extract the nuanced topics of this ambiguous feedback and its primary concern." : "Extract the main topics of the feedback and its primary concern.";
  const topics = await invokeStructured(getChatModel(role, config), TopicExtraction, "TopicExtraction", `${instruction}\n\n${tagged("feedback", state.feedback)}`, config);
  return { topics, topicsModel: role };
}

/** Step 3: action plan with a priority. */
export async function planActions(state: FeedbackState, config: LangGraphRunnableConfig) {
  const actionPlan = await invokeStructured(
    getChatModel("default", config),
    ActionPlan,
    "ActionPlan",
    [
      `Given the sentiment (${state.sentiment?.sentiment}, ${state.sentiment?.confidence}) and the primary concern (${state.topics?.primary_concern}), list action items for the product team and set their priority:`,
      optionList(PRIORITIES),
      tagged("feedback", state.feedback),
    ].join("\n\n"),
    config,
  );
  return { actionPlan };
}

/** Step 4: an escalation ticket (once per task, whatever the retries). */
export async function openEscalation(state: FeedbackState, config: LangGraphRunnableConfig) {
  const plan = state.actionPlan!;
  const ticket = await onceForTask(config, "escalation", () =>
    supportDeskFrom(config).createEscalation({ priority: plan.priority, summary: state.topics?.primary_concern ?? state.feedback, actions: plan.items }),
  );
  return { escalationId: ticket.ticketId };
}

/** The gate: escalate only negative feedback with a high priority (*Advanced Workflows*'s deterministic routing). */
export function feedbackGate(state: FeedbackState, step: string): string | undefined {
  if (step !== "plan_actions") return undefined;
  if (state.sentiment?.sentiment === "negative" && state.actionPlan?.priority === "high") return undefined;
  return `no escalation: sentiment ${state.sentiment?.sentiment}, priority ${state.actionPlan?.priority}`;
}

export const definition = defineWorkflow({
  name: "feedbackAnalysis",
  description: "Customer feedback: sentiment -> topics (strong model when unsure) -> action plan -> escalation ticket when negative and high priority",
  pattern: "prompt chaining + routing",
  input: FeedbackInput,
  builder: buildPromptChain<FeedbackState>({
    state: FeedbackState,
    input: FeedbackInput,
    output: FeedbackOutput,
    steps: [
      { name: "analyze_sentiment", run: analyzeSentiment },
      { name: "extract_topics", run: extractTopics },
      { name: "plan_actions", run: planActions },
      { name: "open_escalation", run: openEscalation },
    ],
    gate: feedbackGate,
  }),
  example: { feedback: "The charger stopped working after two days and support never answered. Complete waste of money, I want a refund." },
});

export const graph = definition.graph;
