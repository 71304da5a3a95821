// A graph of your own from two builders: a router whose "refunds" route is a
// two-step prompt chain. Run it with `llm-workflows run ./examples/ticketTriage.ts:graph`.
import { StateSchema, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import { buildPromptChain, buildRouter, chainFields, getChatModel, runWorkflow, tagged } from "llm-workflows";

const State = new StateSchema({
  ticket: z.string().min(1).describe("The customer's message"),
  route: z.string().nullable().default(null),
  summary: z.string().default(""),
  reply: z.string().default(""),
  ...chainFields,
});
type Ticket = typeof State.State;

const REFUND_POLICY =
  "Orders charged twice are refunded automatically within 5 business days. " +
  "Refunds go back to the card used for the order. " +
  "Gift cards cannot be exchanged for cash.";

/** One model call through the library's factory: the offline model unless OPENAI_API_KEY or OPENAI_BASE_URL is set. */
async function ask(prompt: string, config: LangGraphRunnableConfig): Promise<string> {
  const answer = await getChatModel("default", config).invoke(prompt, config);
  return answer.text;
}

// Builder 1: the refunds desk, a prompt chain (summarize, then draft a reply from the policy).
const refundsDesk = buildPromptChain<Ticket>({
  state: State,
  steps: [
    {
      name: "summarize",
      run: async (s, config) => ({ summary: await ask(`Summarize the customer's request in one sentence.\n\n${tagged("request", s.ticket)}`, config) }),
    },
    {
      name: "draft_reply",
      run: async (s, config) => ({
        reply: await ask(`Write a short, polite reply from our refund policy.\n\n${tagged("request", s.summary)}\n\n${tagged("policy", REFUND_POLICY)}`, config),
      }),
    },
  ],
}).compile();

// Builder 2: the router in front of it.
export const graph = buildRouter<Ticket>({
  state: State,
  input: z.object({ ticket: z.string().min(1) }),
  classifier: { name: "classify", run: (s) => ({ route: /refund|charged|money back/i.test(s.ticket) ? "refunds" : "general" }) },
  decision: (s) => ({ route: s.route }),
  routes: {
    refunds: refundsDesk,
    general: async (s, config) => ({ reply: await ask(`Answer the customer briefly.\n\n${tagged("request", s.ticket)}`, config) }),
  },
  fallback: { name: "fallback", run: (_s, _config, reason) => ({ reply: `Passed to a person (${reason}).` }) },
}).compile({ name: "ticketTriage" });

// Run it through the facade when this file is executed directly.
if (import.meta.url === `file://${process.argv[1]}`) {
  const out = await runWorkflow(graph, { ticket: "I was charged twice for my order and want a refund" });
  console.log(`${out.route}: ${out.reply}`);
}
