/**
 * One small compiled graph per builder of part B (error handling and state
 * management patterns), for the README's Mermaid diagrams
 * (`examples[name].getGraph().drawMermaid()`) and as runnable examples. Node
 * functions are stand-ins; the shapes are the builders'.
 *
 * @module
 */
import { MemorySaver, StateSchema } from "@langchain/langgraph";
import { z } from "zod";
import { buildDynamicWorkflow, dynamicWorkflowFields } from "../../src/patterns/composition/dynamicWorkflow.js";
import { buildFallbackChain, fallbackFields } from "../../src/patterns/resilience/fallbackChain.js";
import { buildPipeline, filterItems, mapItems } from "../../src/patterns/composition/pipeline.js";
import { buildPubSub, pubSubFields } from "../../src/patterns/state/pubSub.js";
import { buildRetry, withRetry } from "../../src/patterns/resilience/retry.js";
import { buildSaga, sagaFields } from "../../src/patterns/resilience/saga.js";
import { buildStateMachine, stateMachineFields } from "../../src/patterns/control/stateMachine.js";
import { buildTryCatch, tryCatchFields } from "../../src/patterns/resilience/tryCatch.js";
import { buildPromptChain, chainFields } from "../../src/patterns/workflow/promptChain.js";

const OrderState = new StateSchema({
  order: z.string().default(""),
  reservation: z.string().default(""),
  chargeId: z.string().default(""),
  receipt: z.string().default(""),
  ...tryCatchFields,
  ...sagaFields,
});
type OrderState = typeof OrderState.State;

const tryCatch = buildTryCatch<OrderState>({
  state: OrderState,
  steps: [
    { name: "reserve", run: (s) => ({ reservation: `R-${s.order}` }) },
    { name: "charge", run: (s) => ({ chargeId: `C-${s.order}` }) },
  ],
  catch: { name: "report", run: (_s, error) => ({ receipt: `failed at ${error.node}: ${error.message}` }) },
  finally: { name: "release", run: () => ({}) },
}).compile();

const AnswerState = new StateSchema({ question: z.string().default(""), answer: z.string().default(""), ...fallbackFields });
type AnswerState = typeof AnswerState.State;

const retry = buildRetry<AnswerState>({
  state: AnswerState,
  step: { name: "callProvider", run: (s) => ({ answer: `answer to ${s.question}` }) },
  retryPolicy: withRetry({ maxAttempts: 5, initialIntervalMs: 1_000 }),
  timeoutMs: 30_000,
}).compile();

const fallbackChain = buildFallbackChain<AnswerState>({
  state: AnswerState,
  strategies: [
    { name: "primary", run: (s) => ({ answer: `primary: ${s.question}` }), accept: (u) => Boolean(u.answer) || "empty answer" },
    { name: "secondary", run: (s) => ({ answer: `secondary: ${s.question}` }) },
    { name: "cache", run: () => ({ answer: "cached" }), retryPolicy: false },
  ],
}).compile();

const saga = buildSaga<OrderState>({
  state: OrderState,
  steps: [
    { name: "reserve", run: (s) => ({ reservation: `R-${s.order}` }), compensate: () => ({ reservation: "" }) },
    { name: "charge", run: (s) => ({ chargeId: `C-${s.order}` }), compensate: () => ({ chargeId: "" }) },
    { name: "ship", run: (s) => ({ receipt: `shipped ${s.order}` }) },
  ],
}).compile();

const JobState = new StateSchema({ job: z.string().default(""), result: z.string().default(""), ...stateMachineFields });
type JobState = typeof JobState.State;

const stateMachine = buildStateMachine<JobState>({
  state: JobState,
  initial: "idle",
  transitions: { idle: { start: "running" }, running: { complete: "done", error: "failed" } },
  handlers: {
    idle: () => "start",
    running: (s) => ({ event: "complete", update: { result: `ran ${s.job}` } }),
  },
  onTerminal: { failed: () => ({ result: "failed" }) },
  errorEvent: "error",
}).compile();

const DocState = new StateSchema({ text: z.string().default(""), outline: z.string().default(""), draft: z.string().default(""), ...chainFields });
type DocState = typeof DocState.State;

/** Event sourcing and checkpoint/resume work on any graph compiled with a checkpointer: here a two-step chain. */
const eventSourcing = buildPromptChain<DocState>({
  state: DocState,
  steps: [
    { name: "makeOutline", run: (s) => ({ outline: `outline of ${s.text}` }) },
    { name: "writeDraft", run: (s) => ({ draft: `draft from ${s.outline}` }) },
  ],
}).compile({ checkpointer: new MemorySaver() });

const ProfileState = new StateSchema({
  userId: z.string().default(""),
  detailed: z.boolean().default(false),
  profile: z.string().default(""),
  orders: z.array(z.string()).default(() => []),
  summary: z.string().default(""),
  ...dynamicWorkflowFields,
});
type ProfileState = typeof ProfileState.State;

const dynamicWorkflow = buildDynamicWorkflow<ProfileState>({
  state: ProfileState,
  steps: {
    fetchProfile: { run: (s) => ({ profile: `profile ${s.userId}` }), reads: ["userId"], writes: ["profile"], description: "the user's profile" },
    fetchOrders: { run: (s) => ({ orders: [`order of ${s.userId}`] }), reads: ["userId"], writes: ["orders"], description: "the user's orders" },
    summarize: { run: (s) => ({ summary: `${s.profile}; ${s.orders.length} orders` }), reads: ["profile", "orders"], writes: ["summary"] },
  },
  planner: (s) => (s.detailed ? ["fetchProfile", "fetchOrders", "summarize"] : ["fetchProfile", "summarize"]),
}).compile();

const NumberState = new StateSchema({ numbers: z.array(z.number()).default(() => []), results: z.array(z.number()).default(() => []) });
type NumberState = typeof NumberState.State;

const pipeline = buildPipeline<NumberState, number, number>({
  state: NumberState,
  source: (s) => s.numbers,
  transforms: [
    { name: "double", run: mapItems((x: number) => x * 2) },
    { name: "addOne", run: mapItems((x: number) => x + 1) },
    { name: "keepLarge", run: filterItems((x: number) => x > 5) },
  ],
  collect: (items) => ({ results: items }),
}).compile();

const UserState = new StateSchema({ userId: z.string().default(""), notes: z.array(z.string()).default(() => []), ...pubSubFields });
type UserState = typeof UserState.State;

const pubSub = buildPubSub<UserState, undefined, string>({
  state: UserState,
  events: (s) => ({ type: "user_created", payload: { userId: s.userId } }),
  subscribers: {
    sendWelcomeEmail: (e) => `welcome sent for ${JSON.stringify(e.payload)}`,
    logUserCreation: (e) => `logged ${e.type}`,
    updateMetrics: (e) => `counted ${e.type}`,
  },
  subscriptions: { user_created: ["sendWelcomeEmail", "logUserCreation"], "*": ["updateMetrics"] },
  collect: (report) => ({ notes: report.deliveries.map((d) => `${d.subscriber}: ${d.result}`) }),
}).compile();

/** Builder name -> compiled example graph. */
export const examples = {
  tryCatch,
  retry,
  fallbackChain,
  saga,
  stateMachine,
  eventSourcing,
  dynamicWorkflow,
  pipeline,
  pubSub,
};

/** Names of the examples, in README order. */
export type PartBExample = keyof typeof examples;
