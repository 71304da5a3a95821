/**
 * Human-in-the-loop approval on LangGraph's `interrupt()`: a reviewer approves
 * a draft, edits it (the edited value replaces the draft), or rejects it with a
 * reason that routes back to revision. A review may carry a deadline: a resume
 * after it applies the default action (`reject` or `escalate`) instead of the
 * answer, and records that the deadline decided.
 *
 * Two nodes: `request_review` stores the request time and deadline (so that
 * they stay fixed while the graph waits), then `human_review` interrupts.
 * `human_review` re-runs from its start on resume, so it does nothing before
 * `interrupt()` but build the question.
 *
 * An invalid answer is not an error: `human_review` records why it was refused
 * (`review.error`, the review stays `pending`) and routes to itself, which asks
 * again with the error in the request. The question is a new interrupt (a new
 * task, so a new interrupt id), and the refused answer is never replayed.
 * (Asking twice inside one node, with a second `interrupt()`, does not work
 * with LangGraph 1.4: `getState().next` is then empty while the thread waits,
 * and a plain `Command({ resume })` left in the checkpoint is replayed as an
 * answer to the next question.)
 *
 * A decision is identified by the `human_review` task that made it
 * (`review.decisionId`). LangGraph stores an answer with the checkpoint it
 * answered, and a `Command({ resume })` given at that checkpoint again replays
 * the stored answer, not the new one; the replayed decision keeps its id: wrap
 * the side effect that follows a decision in {@link onceForDecision} and the
 * replay does not repeat it. To decide again, see {@link addApprovalStep}.
 *
 * ```
 * ... -> request_review -> human_review -(approved | edited)-> approvedTo
 *                           ^     |     -(rejected)-> rejectedTo
 *                           '-----'     -(escalated)-> escalatedTo
 *                      (invalid answer: asked again)
 * ```
 * @module
 */
import { interrupt, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import { fieldIssues, InvalidInputError } from "../../runtime/errors.js";
import { onceForTask } from "../../runtime/ledger.js";
import { nodeOptions, type PolicyOptions } from "../core/graph.js";

/** Node names of the approval step. */
export const REQUEST_REVIEW_NODE = "request_review";
export const HUMAN_REVIEW_NODE = "human_review";

/**
 * Largest edit a reviewer may give, in characters (UTF-16 code units; a value
 * that is not a string is measured as its JSON text). The edit replaces a
 * model's draft (an email, a final text), and current models write at most
 * 16,000-32,000 output tokens in one answer, about 64,000-128,000 characters
 * of English at ~4 characters a token: 100,000 characters (about 15,000 words,
 * 40 pages) is more than any draft a reviewer edits, and stops a pasted file
 * or a runaway client (a 1 MB "edited email" was accepted and sent, issue #14)
 * before it is stored in every later checkpoint and sent.
 */
export const MAX_EDIT_CHARS = 100_000;

/** Size of an edit value in characters (see {@link MAX_EDIT_CHARS}); Infinity when it has no JSON form. */
function editChars(value: unknown): number {
  if (typeof value === "string") return value.length;
  try {
    return JSON.stringify(value)?.length ?? 0;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

const EditValue = z.unknown().superRefine((value, ctx) => {
  if (value === undefined) {
    ctx.addIssue({ code: "custom", message: "an edit needs a value" });
    return;
  }
  const chars = editChars(value);
  if (chars > MAX_EDIT_CHARS) {
    const size = Number.isFinite(chars) ? `${chars} characters` : "a value with no JSON form";
    ctx.addIssue({ code: "custom", message: `an edit is at most ${MAX_EDIT_CHARS} characters (MAX_EDIT_CHARS); got ${size}` });
  }
});

/**
 * A reviewer's answer to an approval interrupt: `{ action: "approve" }`,
 * `{ action: "edit", value }` (the value replaces the draft; at most
 * {@link MAX_EDIT_CHARS} characters) or `{ action: "reject", reason }` (a
 * non-blank reason).
 */
export const ReviewDecision = z.discriminatedUnion("action", [
  z.object({ action: z.literal("approve") }),
  z.object({ action: z.literal("edit"), value: EditValue }),
  z.object({
    action: z.literal("reject"),
    reason: z
      .string({ error: (issue) => (issue.input === undefined ? "a rejection needs a reason" : "a reason is text") })
      .trim()
      .min(1, "a rejection needs a reason"),
  }),
]);
export type ReviewDecision = z.infer<typeof ReviewDecision>;

/** What the graph records about a review. */
export const Review = z.object({
  status: z.enum(["pending", "approved", "edited", "rejected", "escalated"]),
  decidedBy: z.enum(["reviewer", "deadline"]).nullable(),
  reason: z.string().nullable(),
  requestedAt: z.string(),
  deadline: z.string().nullable().describe("ISO time after which the default action applies"),
  error: z.string().nullable().default(null).describe("Why the last answer was refused; the review is asked again"),
  decisionId: z
    .string()
    .nullable()
    .default(null)
    .describe("The human_review task that decided (LangGraph checkpoint namespace); a fork that replays the decision keeps it"),
});
export type Review = z.infer<typeof Review>;

/** State fields of the approval step: spread them into your `StateSchema`. */
export const approvalFields = {
  review: Review.nullable().default(null).describe("The latest human review of the draft"),
};

/** What `human_review` interrupts with: shown to the reviewer. */
export interface ApprovalRequest {
  kind: "approval";
  question: string;
  draft: unknown;
  /** ISO time after which an answer is ignored and the default action applies; null for none. */
  deadline: string | null;
  actions: Array<ReviewDecision["action"]>;
  /**
   * Why the previous answer was refused (one line naming the field, e.g.
   * `reason: a rejection needs a reason`); null on the first ask.
   */
  error: string | null;
}

/** Options of {@link addApprovalStep}. */
export interface ApprovalOptions<S extends { review: Review | null }> extends PolicyOptions {
  /** What the reviewer sees. */
  draft: (state: S) => unknown;
  /** The question put to the reviewer. */
  question: string;
  /** The update an edit makes (the edited value replaces the draft). */
  applyEdit: (state: S, value: unknown) => Partial<S>;
  /** The update a rejection makes (e.g. the reason becomes feedback for the revision). */
  applyReject: (state: S, reason: string) => Partial<S>;
  /** Time the reviewer has, in ms; undefined for no deadline. */
  deadlineMs?: (state: S) => number | undefined;
  /** What a resume after the deadline does (default `reject`). */
  onDeadline?: "reject" | "escalate";
  /** Where an approved or edited draft goes. */
  approvedTo: string;
  /** Where a rejected draft goes (the revision). */
  rejectedTo: string;
  /** Where an escalated draft goes (default: `approvedTo`). */
  escalatedTo?: string;
  /** Clock, for tests (ms since the epoch). */
  now?: () => number;
}

/**
 * Parses a reviewer's answer: call it before resuming, so that a mistake is
 * reported at once (`human_review` checks again and re-asks).
 * @throws {InvalidInputError} naming the field when it is not a {@link ReviewDecision}
 *   (a rejection without a reason, an edit without a value or over {@link MAX_EDIT_CHARS}).
 */
export function parseReviewDecision(value: unknown): ReviewDecision {
  const parsed = ReviewDecision.safeParse(value);
  if (!parsed.success) throw new InvalidInputError("review decision", fieldIssues(parsed.error));
  return parsed.data;
}

/** Why `value` is not a {@link ReviewDecision}, in one line naming the fields; null when it is one. */
export function reviewDecisionError(value: unknown): string | null {
  const parsed = ReviewDecision.safeParse(value);
  if (parsed.success) return null;
  return fieldIssues(parsed.error)
    .map((i) => `${i.path}: ${i.message}`)
    .join("; ");
}

/** Whether `value` is what an approval step interrupts with. */
export function isApprovalRequest(value: unknown): value is ApprovalRequest {
  return typeof value === "object" && value !== null && (value as { kind?: unknown }).kind === "approval";
}

/** A pending review requested at `requestedMs` (ms since the epoch), with a deadline `deadlineMs` later (none when undefined). */
export function pendingReview(requestedMs: number, deadlineMs?: number): Review {
  return {
    status: "pending",
    decidedBy: null,
    reason: null,
    requestedAt: new Date(requestedMs).toISOString(),
    deadline: deadlineMs === undefined ? null : new Date(requestedMs + deadlineMs).toISOString(),
    error: null,
    decisionId: null,
  };
}

/**
 * Adds `request_review` and `human_review` to `graph` (edges into
 * `request_review` are the caller's). See the module doc for the flow.
 *
 * Re-deciding a review that was answered (docs/threads-and-human-in-the-loop.md):
 * a `Command({ resume })` at the checkpoint before `human_review` replays the
 * stored answer (LangGraph keeps a task's answers with its checkpoint). Either
 * fork there without input (LangGraph's time travel drops the stored answers:
 * `human_review` asks again, with the request's deadline), or re-open the
 * review: `graph.updateState(checkpoint, { review: null }, REQUEST_REVIEW_NODE)`
 * writes a checkpoint whose `human_review` is a new task, which asks again
 * with no deadline (write `{ review: pendingReview(Date.now(), ms) }` to give
 * it one; with null, `review` stays null while it waits). Then resume with the
 * new decision.
 */
export function addApprovalStep<S extends { review: Review | null }>(graph: any, options: ApprovalOptions<S>): void {
  const now = options.now ?? Date.now;
  graph.addNode(REQUEST_REVIEW_NODE, (state: S) => ({ review: pendingReview(now(), options.deadlineMs?.(state)) }));
  graph.addNode(
    HUMAN_REVIEW_NODE,
    (state: S, config: LangGraphRunnableConfig) => {
      // Pending, or re-asked after an invalid answer; anything else was re-opened (see above).
      const pending = state.review?.status === "pending" ? state.review : pendingReview(now());
      const request: ApprovalRequest = {
        kind: "approval",
        question: options.question,
        draft: options.draft(state),
        deadline: pending.deadline,
        actions: ["approve", "edit", "reject"],
        error: pending.error ?? null,
      };
      const answer = interrupt(request);
      const decided = { ...pending, error: null, decisionId: (config.configurable?.checkpoint_ns as string | undefined) || null };
      if (pending.deadline && now() > Date.parse(pending.deadline)) {
        const action = options.onDeadline ?? "reject";
        const reason = `no decision before the deadline ${pending.deadline}; default action: ${action}`;
        const review: Review = { ...decided, status: action === "reject" ? "rejected" : "escalated", decidedBy: "deadline", reason };
        return action === "reject" ? { ...options.applyReject(state, reason), review } : { review };
      }
      const parsed = ReviewDecision.safeParse(answer);
      // Refused: stay pending with the reason, and ask again (the edge below loops back here).
      if (!parsed.success) return { review: { ...pending, error: reviewDecisionError(answer) } };
      const decision = parsed.data;
      if (decision.action === "approve") return { review: { ...decided, status: "approved", decidedBy: "reviewer" } };
      if (decision.action === "edit") return { ...options.applyEdit(state, decision.value), review: { ...decided, status: "edited", decidedBy: "reviewer" } };
      return { ...options.applyReject(state, decision.reason), review: { ...decided, status: "rejected", decidedBy: "reviewer", reason: decision.reason } };
    },
    nodeOptions({ ...options, timeoutMs: undefined }),
  );
  graph.addEdge(REQUEST_REVIEW_NODE, HUMAN_REVIEW_NODE);
  const escalatedTo = options.escalatedTo ?? options.approvedTo;
  graph.addConditionalEdges(
    HUMAN_REVIEW_NODE,
    (state: S) => {
      const status = state.review?.status;
      if (status === "pending") return HUMAN_REVIEW_NODE;
      if (status === "rejected") return options.rejectedTo;
      if (status === "escalated") return escalatedTo;
      return options.approvedTo;
    },
    [...new Set([HUMAN_REVIEW_NODE, options.approvedTo, options.rejectedTo, escalatedTo])],
  );
}

/**
 * Runs `step` (a side effect that follows a review: sending the approved
 * email) at most once per decision of `review`: a fork that replays the
 * decision gets the stored result instead of doing it again; a new decision
 * (after the review is re-opened) does it again. Uses the task ledger
 * (`runtime/ledger.ts`) keyed by the deciding task instead of the running one;
 * without a decision (no review, or no thread) it is `onceForTask`.
 *
 * @example
 * ```ts
 * const sent = await onceForDecision(config, state.review, "send-email", () => mailer.send(state.email));
 * ```
 */
export function onceForDecision<T>(config: LangGraphRunnableConfig, review: Review | null | undefined, label: string, step: () => Promise<T>): Promise<T> {
  const decisionId = review?.decisionId;
  if (!decisionId) return onceForTask(config, label, step);
  // The ledger key is thread / task namespace / label: give it the deciding task's namespace.
  return onceForTask({ ...config, configurable: { ...config.configurable, checkpoint_ns: decisionId } }, label, step);
}
