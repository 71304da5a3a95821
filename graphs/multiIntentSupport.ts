/**
 * multiIntentSupport: orchestrator-workers with typed workers and a human
 * approval before sending (*LLM Workflow Patterns*). The orchestrator splits one customer
 * message into typed tasks (BillingInquiry with an invoice number,
 * ProductReturn with product and reason, StatusUpdate with an order id); one
 * worker per task acts on the support desk (opens a case, issues an RMA number
 * with shipping instructions, looks the order up); the synthesizer writes one
 * email; a reviewer approves, edits or rejects it (with what to change); then
 * it is sent. A task of a type no worker handles is reported, not dropped.
 * Desk actions and the email go through the task ledger: a retried or resumed
 * task never issues a second id or sends a second email. The email is sent
 * once per review decision: a new answer given at the review's old checkpoint
 * replays the old decision and sends nothing again; to decide again, see
 * docs/threads-and-human-in-the-loop.md.
 */
import { END, StateSchema, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import { getChatModel } from "../src/models/factory.js";
import { optionList, tagged } from "../src/models/prompting.js";
import { invokeStructured } from "../src/models/structured.js";
import { addApprovalStep, approvalFields, onceForDecision, REQUEST_REVIEW_NODE } from "../src/patterns/state/approval.js";
import { indexedResults } from "../src/patterns/core/fanOut.js";
import { buildOrchestratorWorkers } from "../src/patterns/workflow/orchestratorWorkers.js";
import { onceForTask } from "../src/runtime/ledger.js";
import { supportDeskFrom } from "./lib/supportDesk.js";
import { defineWorkflow, inputSchema } from "../src/workflow.js";

/** The task types, with what each covers (the orchestrator's definitions). */
export const TASK_TYPES = {
  BillingInquiry: "a question or problem about an invoice, a bill, a charge, a payment or a refund of money",
  ProductReturn: "returning, exchanging or sending back a product that is broken, damaged, faulty, wrong or unwanted",
  StatusUpdate: "where an order or purchase is: its status, tracking, shipping or delivery date",
  Other: "anything else",
} as const;
export type TaskType = keyof typeof TASK_TYPES;
/** Most tasks one message may be split into. */
export const MAX_TASKS = 6;
/** Name of the node that sends the approved email. */
export const SEND_NODE = "send_email";

export const SupportTask = z.object({
  type: z.string().describe("The task type"),
  text: z.string().describe("The part of the message this task is about"),
  invoiceNumber: z.string().nullable().describe("Invoice number (BillingInquiry)"),
  orderId: z.string().nullable().describe("Order id (StatusUpdate)"),
  product: z.string().nullable().describe("The product (ProductReturn)"),
  reason: z.string().nullable().describe("Why it goes back (ProductReturn)"),
});
export type SupportTask = z.infer<typeof SupportTask>;

export const TaskOutcome = z.object({
  type: z.string(),
  text: z.string(),
  status: z.enum(["done", "unhandled", "failed"]).describe("done; unhandled (no worker for the type); failed (could not be done)"),
  detail: z.string().describe("What was done, in a sentence for the email"),
  caseId: z.string().optional(),
  rma: z.string().optional(),
  shippingInstructions: z.string().optional(),
  order: z
    .object({
      orderId: z.string(),
      found: z.boolean(),
      status: z.enum(["processing", "shipped", "out for delivery", "delivered"]).optional(),
      expectedDelivery: z.string().optional(),
      carrier: z.string().optional(),
    })
    .optional()
    .describe("What the order lookup found (StatusUpdate)"),
});
export type TaskOutcome = z.infer<typeof TaskOutcome>;

/** What the model returns for the plan (snake_case keys, flat, for strict JSON schema providers). */
export const TaskPlan = z.object({
  tasks: z
    .array(
      z.object({
        type: z.enum(Object.keys(TASK_TYPES) as [TaskType, ...TaskType[]]).describe("The task type"),
        text: z.string().describe("The sentence or part of the message this task is about"),
        invoice_number: z.string().describe("Invoice number for a BillingInquiry; empty otherwise"),
        order_id: z.string().describe("Order id for a StatusUpdate; empty otherwise"),
        product: z.string().describe("The product to return for a ProductReturn; empty otherwise"),
        reason: z.string().describe("Why the product goes back for a ProductReturn; empty otherwise"),
      }),
    )
    .min(1)
    .max(MAX_TASKS),
});

export const PLAN_PROMPT = `Split the customer's message into separate tasks, one per request. Task types:
${optionList(TASK_TYPES)}
Fill the fields that apply to the type; leave the others empty.`;

const inputFields = {
  message: z.string().trim().min(1).max(50_000).describe("The customer's message, possibly with several requests"),
  customerEmail: z.string().trim().min(3).default("customer@example.com").describe("Where the reply goes"),
  reviewBeforeSend: z.boolean().default(true).describe("Ask a human to approve, edit or reject the email before it is sent"),
  reviewTimeoutMs: z.number().int().min(1).optional().describe("Time the reviewer has, in ms; after it the email is escalated unsent"),
};
const outputFields = {
  tasks: z.array(SupportTask).default(() => []).describe("The orchestrator's tasks"),
  outcomes: z.array(TaskOutcome).default(() => []).describe("One outcome per task, in task order"),
  unhandled: z.array(z.string()).default(() => []).describe("Tasks no worker handles, reported instead of dropped"),
  email: z.string().default("").describe("The reply to the customer"),
  reviewerFeedback: z.string().nullable().default(null).describe("What the reviewer asked to change"),
  sent: z.object({ messageId: z.string(), to: z.string() }).nullable().default(null).describe("The sent email, once sent"),
  ...approvalFields,
};

/** The input: checked whole (required fields too) by the facade, LangGraph and the server. */
export const MultiIntentInput = inputSchema(inputFields);
export const MultiIntentOutput = new StateSchema(outputFields);
export const MultiIntentState = new StateSchema({ ...inputFields, ...outputFields, taskResults: indexedResults(TaskOutcome) });
export type MultiIntentState = typeof MultiIntentState.State;

const empty = (s: string) => (s.trim() ? s.trim() : null);

/** Orchestrator: the typed tasks in the message. */
export async function splitTasks(state: MultiIntentState, config: LangGraphRunnableConfig) {
  const plan = await invokeStructured(
    getChatModel("default", config),
    TaskPlan,
    "TaskPlan",
    [
      ["system", PLAN_PROMPT],
      ["human", tagged("message", state.message)],
    ],
    config,
  );
  const tasks: SupportTask[] = plan.tasks.map((t) => ({
    type: t.type,
    text: t.text,
    invoiceNumber: empty(t.invoice_number),
    orderId: empty(t.order_id),
    product: empty(t.product),
    reason: empty(t.reason),
  }));
  return { tasks, outcomes: [], unhandled: [], email: "", reviewerFeedback: null, sent: null, review: null };
}

const Concern = z.object({ concern: z.string().describe("The customer's billing concern, in one sentence") });

type Worker = (task: SupportTask, config: LangGraphRunnableConfig) => Promise<TaskOutcome>;

/** The typed workers: task type -> worker. */
export const WORKERS: Record<string, Worker> = {
  async BillingInquiry(task, config) {
    const { concern } = await onceForTask(config, "extract-concern", () =>
      invokeStructured(getChatModel("default", config), Concern, "Concern", `State the customer's billing concern.\n\n${tagged("request", task.text)}`, config),
    );
    const record = await onceForTask(config, "open-case", () => supportDeskFrom(config).openCase({ invoiceNumber: task.invoiceNumber, concern }));
    const invoice = task.invoiceNumber ? ` about invoice ${task.invoiceNumber}` : "";
    return { type: task.type, text: task.text, status: "done", caseId: record.caseId, detail: `We opened billing case ${record.caseId}${invoice}: ${concern}` };
  },
  async ProductReturn(task, config) {
    const product = task.product ?? task.text;
    const reason = task.reason ?? task.text;
    const rma = await onceForTask(config, "create-return", () => supportDeskFrom(config).createReturn({ product, reason }));
    return {
      type: task.type,
      text: task.text,
      status: "done",
      rma: rma.rma,
      shippingInstructions: rma.shippingInstructions,
      detail: `We issued return authorisation ${rma.rma}. ${rma.shippingInstructions}`,
    };
  },
  async StatusUpdate(task, config) {
    if (!task.orderId) return { type: task.type, text: task.text, status: "failed", detail: "We need your order number to look up your order." };
    const order = await supportDeskFrom(config).lookupOrder(task.orderId);
    if (!order.found) return { type: task.type, text: task.text, status: "failed", order, detail: `We could not find order ${task.orderId}.` };
    const eta = order.expectedDelivery ? `, expected on ${order.expectedDelivery}` : "";
    return { type: task.type, text: task.text, status: "done", order, detail: `Your order ${order.orderId} is ${order.status} with ${order.carrier}${eta}.` };
  },
};

/** Worker dispatch: the typed worker for the task, or an `unhandled` outcome. */
export async function handleTask(task: SupportTask, _index: number, _context: undefined, config: LangGraphRunnableConfig): Promise<TaskOutcome> {
  const worker = Object.hasOwn(WORKERS, task.type) ? WORKERS[task.type] : undefined;
  if (!worker) {
    return { type: task.type, text: task.text, status: "unhandled", detail: `A colleague will get back to you about: ${task.text}` };
  }
  return worker(task, config);
}

export const SYNTHESIZE_PROMPT =
  "Write one email to the customer that answers every request in their message, using the outcomes below. Keep every case, return and order number.";

/** Synthesizer: the email, from the outcomes in task order (and the reviewer's feedback after a rejection). */
export async function writeEmail(state: MultiIntentState, outcomes: TaskOutcome[], config: LangGraphRunnableConfig) {
  const parts = [SYNTHESIZE_PROMPT, tagged("message", state.message), tagged("outcomes", outcomes.map((o) => o.detail).join("\n"))];
  if (state.reviewerFeedback) parts.push(tagged("feedback", state.reviewerFeedback));
  const answer = await getChatModel("default", config).invoke(parts.join("\n\n"), config);
  const email = answer.text;
  return { outcomes, unhandled: outcomes.filter((o) => o.status === "unhandled").map((o) => `${o.type}: ${o.text}`), email };
}

/**
 * Sends the approved email: once per review decision (once per task without a
 * review), whatever the retries, resumes and forks that replay the decision.
 */
export async function sendEmail(state: MultiIntentState, config: LangGraphRunnableConfig) {
  const sent = await onceForDecision(config, state.review, "send-email", () =>
    supportDeskFrom(config).sendEmail({ to: state.customerEmail, body: state.email }),
  );
  return { sent: { messageId: sent.messageId, to: sent.to } };
}

function buildGraph() {
  const graph: any = buildOrchestratorWorkers<MultiIntentState, SupportTask, undefined, TaskOutcome>({
    state: MultiIntentState,
    input: MultiIntentInput,
    output: MultiIntentOutput,
    orchestrator: { name: "split_tasks", run: splitTasks },
    subtasks: (s) => s.tasks,
    worker: { name: "handle_task", run: handleTask },
    resultsKey: "taskResults",
    synthesizer: { name: "write_email", run: writeEmail },
    then: { path: (s) => (s.reviewBeforeSend ? REQUEST_REVIEW_NODE : SEND_NODE), targets: [REQUEST_REVIEW_NODE, SEND_NODE] },
  });
  addApprovalStep<MultiIntentState>(graph, {
    question: "Approve this email to the customer, edit it, or reject it with what to change.",
    draft: (s) => ({ to: s.customerEmail, email: s.email, outcomes: s.outcomes }),
    applyEdit: (_s, value) => ({ email: typeof value === "string" ? value : JSON.stringify(value) }),
    applyReject: (_s, reason) => ({ reviewerFeedback: reason }),
    deadlineMs: (s) => s.reviewTimeoutMs,
    onDeadline: "escalate",
    approvedTo: SEND_NODE,
    rejectedTo: "write_email",
    escalatedTo: END,
  });
  graph.addNode(SEND_NODE, sendEmail);
  graph.addEdge(SEND_NODE, END);
  return graph;
}

export const definition = defineWorkflow({
  name: "multiIntentSupport",
  description: "Orchestrator-workers with typed workers (billing case, return RMA, order status), one email, human approval, then send",
  pattern: "orchestrator-workers + human-in-the-loop",
  input: MultiIntentInput,
  builder: buildGraph(),
  example: {
    message:
      "I was charged twice on invoice INV-20931, please fix the charge. The headphones I bought are broken and I want to return them. Where is my order 738201554?",
    customerEmail: "jane@example.com",
    reviewBeforeSend: false,
  },
});

export const graph = definition.graph;
