/**
 * intelligentSupport: combined patterns (*Lesson 05: Workflow Patterns*, "Combining patterns",
 * example 1). The support router of `supportRouting` (its classifier and its
 * general and fallback handlers, imported, not copied) sends each category to
 * a pattern of its own, mounted as a subgraph:
 *
 * - technical: a prompt chain diagnose -> solution -> verification;
 * - billing: sectioning, an account check and a policy lookup (retrieval over
 *   the billing policies below) in one superstep, then a combined reply;
 * - general: one call.
 */
import { StateSchema, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import { getChatModel } from "../src/models/factory.js";
import { tagged } from "../src/models/prompting.js";
import { invokeStructured } from "../src/models/structured.js";
import { buildPromptChain, chainFields } from "../src/patterns/workflow/promptChain.js";
import { buildSectioning, keyedResults } from "../src/patterns/workflow/parallel.js";
import { buildRouter, DEFAULT_CONFIDENCE_THRESHOLD } from "../src/patterns/workflow/router.js";
import { retrieve, type KnowledgeDocument } from "../src/runtime/retrieval.js";
import { defineWorkflow, inputSchema } from "../src/workflow.js";
import { CATEGORY_NAMES, classifyQuery, FALLBACK_ROUTE, handleFallback, handleGeneral } from "./supportRouting.js";

/** The billing policies the policy lookup searches (this workflow's own knowledge base). */
export const BILLING_POLICIES: KnowledgeDocument[] = [
  { title: "Refunds", content: "Card payments charged twice are refunded automatically within 5 business days once the duplicate is confirmed. Other refunds need the merchant's agreement; we can open a chargeback after 15 days." },
  { title: "Fees", content: "Top-ups by bank transfer are free. Top-ups by card carry a 0.5% fee. Cash withdrawals are free up to 200 per month, then 2% per withdrawal." },
  { title: "Pending transactions", content: "Card payments stay pending for up to 7 days until the merchant settles them. A pending payment that is cancelled by the merchant is released back to the balance automatically." },
  { title: "Exchange rates", content: "Payments in a foreign currency use the card network's rate on the day the payment settles, plus 0.5% on weekends. The rate shown in the app at payment time is an estimate." },
  { title: "Transfers", content: "Transfers to other banks arrive within 1 business day in the same currency and within 3 business days in other currencies. A transfer can be cancelled while it is pending." },
];

const shared = {
  query: z.string().trim().min(1).max(20_000).describe("The customer's message"),
  route: z.enum([...CATEGORY_NAMES, FALLBACK_ROUTE]).nullable().default(null).describe("The handler that answered"),
  response: z.string().default("").describe("The reply to the customer"),
  details: z.record(z.string(), z.unknown()).default({}).describe("What the handler's steps found"),
};

// --- technical: diagnose -> solution -> verification (prompt chain) ---
const TechnicalState = new StateSchema({ ...shared, diagnosis: z.string().default(""), solution: z.string().default(""), ...chainFields });
type TechnicalState = typeof TechnicalState.State;

async function ask(prompt: string, config: LangGraphRunnableConfig): Promise<string> {
  const answer = await getChatModel("default", config).invoke(prompt, config);
  return answer.text;
}

/** Technical step 1: the likely cause. */
export async function diagnose(state: TechnicalState, config: LangGraphRunnableConfig) {
  return { diagnosis: await ask(`You are a technical support specialist. Diagnose the likely cause of the customer's problem in one or two sentences.\n\n${tagged("user_query", state.query)}`, config) };
}
/** Technical step 2: the fix. */
export async function proposeSolution(state: TechnicalState, config: LangGraphRunnableConfig) {
  return { solution: await ask(`Propose the steps that fix the problem, as a list.\n\n${tagged("user_query", state.query)}\n\n${tagged("diagnosis", state.diagnosis)}`, config) };
}
/** Technical step 3: how the customer checks it worked; the reply. */
export async function verifySolution(state: TechnicalState, config: LangGraphRunnableConfig) {
  const verification = await ask(`Tell the customer how to check that the fix worked, briefly.\n\n${tagged("user_query", state.query)}\n\n${tagged("solution", state.solution)}`, config);
  return {
    route: "technical" as const,
    response: [state.diagnosis, state.solution, verification].filter(Boolean).join("\n\n"),
    details: { diagnosis: state.diagnosis, solution: state.solution, verification },
  };
}

export const technicalSubgraph = buildPromptChain<TechnicalState>({
  state: TechnicalState,
  output: new StateSchema(shared),
  steps: [
    { name: "diagnose", run: diagnose },
    { name: "propose_solution", run: proposeSolution },
    { name: "verify_solution", run: verifySolution },
  ],
}).compile({ name: "technical" });

// --- billing: account check + policy lookup (sectioning) -> combine ---
const AccountCheck = z.object({
  concern: z.string().describe("The billing concern, in a sentence"),
  needs_account_number: z.boolean().describe("Whether the account number is needed to look into it"),
});
const BillingState = new StateSchema({ ...shared, billing: keyedResults(z.unknown()) });
type BillingState = typeof BillingState.State;

/** Billing section: what the account check must establish. */
export async function checkAccount(state: BillingState, config: LangGraphRunnableConfig) {
  return invokeStructured(getChatModel("default", config), AccountCheck, "AccountCheck", `Check what must be verified on the customer's account.\n\n${tagged("user_query", state.query)}`, config);
}
/** Billing section: the policies that apply (retrieval over {@link BILLING_POLICIES}). */
export async function lookupPolicy(state: BillingState) {
  return (await retrieve(state.query, BILLING_POLICIES, 2)).map((p) => ({ title: p.title, text: p.text }));
}
/** Billing aggregator: one reply from the account check and the policies. */
export async function combineBilling(state: BillingState, config: LangGraphRunnableConfig) {
  const account = state.billing.check_account as z.infer<typeof AccountCheck> | undefined;
  const policies = (state.billing.lookup_policy as Array<{ title: string; text: string }> | undefined) ?? [];
  const response = await ask(
    [
      "You are a billing specialist. Reply to the customer using the policies that apply; ask for their account number if it is needed.",
      tagged("user_query", state.query),
      tagged("policies", policies.map((p) => `${p.title}: ${p.text}`).join("\n") || "none found"),
    ].join("\n\n"),
    config,
  );
  const ask4number = account?.needs_account_number ? "\n\nCould you send us your account number so that we can look into it?" : "";
  return { route: "billing" as const, response: `${response}${ask4number}`, details: { account, policies: policies.map((p) => p.title) } };
}

export const billingSubgraph = buildSectioning<BillingState, unknown>({
  state: BillingState,
  output: new StateSchema(shared),
  sections: { check_account: checkAccount, lookup_policy: lookupPolicy },
  sectionsKey: "billing",
  aggregator: { name: "combine", run: combineBilling },
}).compile({ name: "billing" });

// --- the router ---
const inputFields = { query: shared.query };
const outputFields = {
  category: z.enum(CATEGORY_NAMES).nullable().default(null).describe("The classifier's category"),
  confidence: z.number().nullable().default(null).describe("The classifier's confidence, 0-1"),
  fallbackReason: z.string().nullable().default(null).describe("Why the fallback answered, when it did"),
  classificationError: z.string().nullable().default(null).describe("Why the classifier's answer was refused, when it was"),
  route: shared.route,
  response: shared.response,
  details: shared.details,
};

/** The input: checked whole (required fields too) by the facade, LangGraph and the server. */
export const IntelligentInput = inputSchema(inputFields);
export const IntelligentOutput = new StateSchema(outputFields);
export const IntelligentState = new StateSchema({ ...inputFields, ...outputFields });
export type IntelligentState = typeof IntelligentState.State;

export const definition = defineWorkflow({
  name: "intelligentSupport",
  description: "Combined patterns: router -> technical chain (diagnose, solution, verification) | billing sectioning (account + policy) | general call",
  pattern: "routing + chaining + sectioning (subgraphs)",
  input: IntelligentInput,
  builder: buildRouter<IntelligentState>({
    state: IntelligentState,
    input: IntelligentInput,
    output: IntelligentOutput,
    classifier: { name: "classify_query", run: classifyQuery as any },
    decision: (s) => ({ route: s.category, confidence: s.confidence }),
    routes: { technical: technicalSubgraph, billing: billingSubgraph, general: handleGeneral as any },
    fallback: { name: FALLBACK_ROUTE, run: handleFallback as any },
    confidenceThreshold: DEFAULT_CONFIDENCE_THRESHOLD,
  }),
  example: { query: "I was charged twice for the same card payment, can I get a refund?" },
});

export const graph = definition.graph;
