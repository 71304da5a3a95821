/**
 * supportRouting: routing (*Lesson 05: Workflow Patterns* and *LLM Workflow Patterns*). A customer-support router
 * classifies the query with structured output into technical / billing /
 * general, a conditional edge sends it to that category's handler, and a
 * fallback takes queries whose classification is invalid or not confident
 * enough (below 0.7 by default, *Advanced Workflows*).
 */
import { StateSchema, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import { getChatModel } from "../src/models/factory.js";
import { optionList, tagged } from "../src/models/prompting.js";
import { invokeStructured } from "../src/models/structured.js";
import { buildRouter, DEFAULT_CONFIDENCE_THRESHOLD } from "../src/patterns/workflow/router.js";
import { StructuredOutputError } from "../src/runtime/errors.js";
import { defineWorkflow, inputSchema } from "../src/workflow.js";

/** The support categories and what each covers (the classifier's definitions). */
export const CATEGORIES = {
  technical:
    "problems using the app, the card or the account: errors, crashes, login, passcode, PIN blocked, card not working, contactless or ATM failures, failed identity verification, linking or activating a card, changing personal details",
  billing:
    "money and charges: fees, charged twice, refunds, payments, transfers, top-ups, cash withdrawals, pending or declined transactions, wrong amounts, exchange rate applied, statements, invoices",
  general:
    "information requests: how the service works, ordering or delivery of a card, supported countries and currencies, limits, opening or closing an account, age requirements, virtual cards",
} as const;
export type Category = keyof typeof CATEGORIES;
export const CATEGORY_NAMES = Object.keys(CATEGORIES) as [Category, ...Category[]];
/** Name of the fallback route. */
export const FALLBACK_ROUTE = "fallback";

export const Classification = z.object({
  category: z.enum(CATEGORY_NAMES).describe("The category of the user's query"),
  confidence: z.number().min(0).max(1).describe("How sure the classification is, from 0 to 1"),
});

export const CLASSIFY_PROMPT = `Classify the user's query into exactly one of these categories:
${optionList(CATEGORIES)}
Give your confidence from 0 to 1.`;

/** Handler instructions per route (*LLM Workflow Patterns*'s specialised prompts). */
export const HANDLER_PROMPTS: Record<Category | typeof FALLBACK_ROUTE, string> = {
  technical:
    "You are a helpful technical support agent. Give a helpful first response to the user's query, asking for details such as what troubleshooting steps they have already tried.",
  billing:
    "You are a helpful billing support agent. Acknowledge the user's concern and say that you will need to look up their account, asking for their account number.",
  general: "You are a helpful customer service representative. Answer the user's general question briefly and clearly.",
  fallback:
    "You are a general assistant. Apologise that you are not sure how to help with the user's query, and ask them to say more about what they need.",
};

const inputFields = {
  query: z.string().trim().min(1).max(20_000).describe("The customer's message"),
};
const outputFields = {
  category: z.enum(CATEGORY_NAMES).nullable().default(null).describe("The classifier's category"),
  confidence: z.number().nullable().default(null).describe("The classifier's confidence, 0-1"),
  route: z.enum([...CATEGORY_NAMES, FALLBACK_ROUTE]).nullable().default(null).describe("The handler that answered"),
  fallbackReason: z.string().nullable().default(null).describe("Why the fallback answered, when it did"),
  classificationError: z.string().nullable().default(null).describe("Why the classifier's answer was refused, when it was"),
  response: z.string().default("").describe("The reply to the customer"),
};

/** The input: checked whole (required fields too) by the facade, LangGraph and the server. */
export const SupportInput = inputSchema(inputFields);
export const SupportOutput = new StateSchema(outputFields);
export const SupportState = new StateSchema({ ...inputFields, ...outputFields });
export type SupportState = typeof SupportState.State;

/**
 * Classifier node: structured classification of the query. An answer that
 * stays invalid after repair (a category that does not exist, say) sends the
 * query to the fallback route, with the reason, instead of failing the run.
 */
export async function classifyQuery(state: SupportState, config: LangGraphRunnableConfig) {
  let result: z.infer<typeof Classification>;
  try {
    result = await classify(state, config);
  } catch (error) {
    if (!(error instanceof StructuredOutputError)) throw error;
    return { category: null, confidence: null, route: null, fallbackReason: null, classificationError: error.message };
  }
  return { category: result.category, confidence: result.confidence, route: null, fallbackReason: null, classificationError: null };
}

async function classify(state: SupportState, config: LangGraphRunnableConfig) {
  return invokeStructured(
    getChatModel("default", config),
    Classification,
    "Classification",
    [
      ["system", CLASSIFY_PROMPT],
      ["human", tagged("user_query", state.query)],
    ],
    config,
  );
}

function handler(route: Category | typeof FALLBACK_ROUTE) {
  return async (state: SupportState, config: LangGraphRunnableConfig, reason?: string) => {
    const answer = await getChatModel("default", config).invoke(
      [
        ["system", HANDLER_PROMPTS[route]],
        ["human", tagged("user_query", state.query)],
      ],
      config,
    );
    const response = answer.text;
    return { route, response, fallbackReason: reason ?? null };
  };
}

export const handleTechnical = handler("technical");
export const handleBilling = handler("billing");
export const handleGeneral = handler("general");
export const handleFallback = handler("fallback");

export const definition = defineWorkflow({
  name: "supportRouting",
  description: "Routing: classify a support query (technical/billing/general) and answer with that category's handler, or a fallback",
  pattern: "routing",
  input: SupportInput,
  builder: buildRouter<SupportState>({
    state: SupportState,
    input: SupportInput,
    output: SupportOutput,
    classifier: { name: "classify_query", run: classifyQuery },
    decision: (s) => ({ route: s.category, confidence: s.confidence }),
    routes: { technical: handleTechnical, billing: handleBilling, general: handleGeneral },
    fallback: { name: FALLBACK_ROUTE, run: handleFallback },
    confidenceThreshold: DEFAULT_CONFIDENCE_THRESHOLD,
  }),
  example: { query: "I was charged twice for the same payment, can I get a refund?" },
});

export const graph = definition.graph;
