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
 * ```
 * ... -> request_review -> human_review -(approved | edited)-> approvedTo
 *                                       -(rejected)-> rejectedTo
 *                                       -(escalated)-> escalatedTo
 * ```
 * @module
 */
import { interrupt, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import { fieldIssues, InvalidInputError } from "../../runtime/errors.js";
import { nodeOptions, type PolicyOptions } from "../core/graph.js";

/** Node names of the approval step. */
export const REQUEST_REVIEW_NODE = "request_review";
export const HUMAN_REVIEW_NODE = "human_review";

/** A reviewer's answer to an approval interrupt. */
export const ReviewDecision = z.discriminatedUnion("action", [
  z.object({ action: z.literal("approve") }),
  z.object({ action: z.literal("edit"), value: z.unknown().refine((v) => v !== undefined, "an edit needs a value") }),
  z.object({ action: z.literal("reject"), reason: z.string().trim().min(1, "a rejection needs a reason") }),
]);
export type ReviewDecision = z.infer<typeof ReviewDecision>;

/** What the graph records about a review. */
export const Review = z.object({
  status: z.enum(["pending", "approved", "edited", "rejected", "escalated"]),
  decidedBy: z.enum(["reviewer", "deadline"]).nullable(),
  reason: z.string().nullable(),
  requestedAt: z.string(),
  deadline: z.string().nullable().describe("ISO time after which the default action applies"),
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
  deadline: string | null;
  actions: Array<ReviewDecision["action"]>;
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
 * Parses a reviewer's answer.
 * @throws {InvalidInputError} naming the field when it is not a {@link ReviewDecision}.
 */
export function parseReviewDecision(value: unknown): ReviewDecision {
  const parsed = ReviewDecision.safeParse(value);
  if (!parsed.success) throw new InvalidInputError("review decision", fieldIssues(parsed.error));
  return parsed.data;
}

/** Whether `value` is what an approval step interrupts with. */
export function isApprovalRequest(value: unknown): value is ApprovalRequest {
  return typeof value === "object" && value !== null && (value as { kind?: unknown }).kind === "approval";
}

/** Adds `request_review` and `human_review` to `graph` (edges into `request_review` are the caller's). */
export function addApprovalStep<S extends { review: Review | null }>(graph: any, options: ApprovalOptions<S>): void {
  const now = options.now ?? Date.now;
  graph.addNode(REQUEST_REVIEW_NODE, (state: S) => {
    const ms = options.deadlineMs?.(state);
    const requested = now();
    const review: Review = {
      status: "pending",
      decidedBy: null,
      reason: null,
      requestedAt: new Date(requested).toISOString(),
      deadline: ms === undefined ? null : new Date(requested + ms).toISOString(),
    };
    return { review };
  });
  graph.addNode(
    HUMAN_REVIEW_NODE,
    (state: S, _config: LangGraphRunnableConfig) => {
      const pending = state.review!;
      const request: ApprovalRequest = {
        kind: "approval",
        question: options.question,
        draft: options.draft(state),
        deadline: pending.deadline,
        actions: ["approve", "edit", "reject"],
      };
      const answer = interrupt(request);
      if (pending.deadline && now() > Date.parse(pending.deadline)) {
        const action = options.onDeadline ?? "reject";
        const reason = `no decision before the deadline ${pending.deadline}; default action: ${action}`;
        const review: Review = { ...pending, status: action === "reject" ? "rejected" : "escalated", decidedBy: "deadline", reason };
        return action === "reject" ? { ...options.applyReject(state, reason), review } : { review };
      }
      const decision = parseReviewDecision(answer);
      if (decision.action === "approve") return { review: { ...pending, status: "approved", decidedBy: "reviewer" } };
      if (decision.action === "edit") return { ...options.applyEdit(state, decision.value), review: { ...pending, status: "edited", decidedBy: "reviewer" } };
      return { ...options.applyReject(state, decision.reason), review: { ...pending, status: "rejected", decidedBy: "reviewer", reason: decision.reason } };
    },
    nodeOptions({ ...options, timeoutMs: undefined }),
  );
  graph.addEdge(REQUEST_REVIEW_NODE, HUMAN_REVIEW_NODE);
  const escalatedTo = options.escalatedTo ?? options.approvedTo;
  graph.addConditionalEdges(
    HUMAN_REVIEW_NODE,
    (state: S) => {
      const status = state.review?.status;
      if (status === "rejected") return options.rejectedTo;
      if (status === "escalated") return escalatedTo;
      return options.approvedTo;
    },
    [...new Set([options.approvedTo, options.rejectedTo, escalatedTo])],
  );
}
