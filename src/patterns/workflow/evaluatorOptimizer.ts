/**
 * Evaluator-optimizer (*Lesson 05: Workflow Patterns* pattern 5): generate -> evaluate (a score from
 * 1 to 10 with feedback) -> refine, until the score reaches the threshold
 * (default 8) or the iteration cap (default 3) is hit; the cap lives in state,
 * not in LangGraph's recursion limit. The result is the best attempt so far
 * (the highest score; the later one on a tie). An optional human review of
 * the final draft (see `approval.ts`) can approve, edit or send it back.
 *
 * ```
 * START -> generate -> evaluate -(score >= threshold | iteration >= max)-> finalize -> END
 *              ^------------------(otherwise)-----------/
 * ```
 *
 * @example
 * ```ts
 * const State = new StateSchema({ task: z.string(), ...evaluatorOptimizerFields });
 * const graph = buildEvaluatorOptimizer({
 *   state: State,
 *   generate: (s) => ({ draft: s.iteration === 0 ? write(s.task) : refine(s.draft, s.feedback) }),
 *   evaluate: async (s) => ({ score: 7, feedback: "cite sources" }),
 * }).compile();
 * ```
 * @module
 */
import { END, Overwrite, ReducedValue, START, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import { addApprovalStep, REQUEST_REVIEW_NODE, type Review } from "../state/approval.js";
import { createGraph, nodeOptions, type BuiltGraph, type GraphSchemas, type PolicyOptions, type FallbackOptions } from "../core/graph.js";

/** Score at or above which the loop stops (*Lesson 05: Workflow Patterns*: `score >= 8`). */
export const DEFAULT_SCORE_THRESHOLD = 8;
/** Iterations after which the loop stops whatever the score (*Lesson 05: Workflow Patterns*: `iterations >= 3`). */
export const DEFAULT_MAX_ITERATIONS = 3;
/**
 * Highest iteration cap a run may ask for: 10 iterations are 21 supersteps,
 * inside LangGraph's default recursion limit of 25 (which the LangGraph server
 * applies too), so the cap in state is always what stops the loop.
 */
export const MAX_ITERATIONS_LIMIT = 10;

/** Node names of the loop. */
export const GENERATE_NODE = "generate";
export const EVALUATE_NODE = "evaluate";
export const FINALIZE_NODE = "finalize";

/** One generate-evaluate round. */
export const Attempt = z.object({
  iteration: z.number().int().describe("1-based iteration"),
  draft: z.string(),
  score: z.number().describe("Evaluator's score, 1-10"),
  feedback: z.string(),
});
export type Attempt = z.infer<typeof Attempt>;

/** State fields of the loop: spread them into your `StateSchema`. */
export const evaluatorOptimizerFields = {
  threshold: z.number().min(1).max(10).default(DEFAULT_SCORE_THRESHOLD).describe("Stop when the score reaches this (1-10)"),
  maxIterations: z.number().int().min(1).max(MAX_ITERATIONS_LIMIT).default(DEFAULT_MAX_ITERATIONS).describe("Stop after this many iterations"),
  iteration: z.number().int().default(0).describe("Iterations done so far"),
  draft: z.string().default("").describe("The latest draft"),
  score: z.number().nullable().default(null).describe("The latest draft's score"),
  feedback: z.string().default("").describe("The evaluator's feedback on the latest draft"),
  attempts: new ReducedValue(z.array(Attempt).default(() => []), {
    reducer: (current: Attempt[], next: Attempt[]) => current.concat(next),
  }),
  final: z.string().default("").describe("The best draft"),
  finalScore: z.number().nullable().default(null).describe("The best draft's score"),
  stopReason: z.enum(["threshold", "max_iterations"]).nullable().default(null).describe("Why the loop stopped"),
  revisedAfter: z.number().int().default(0).describe("Attempts up to this iteration were rejected by a reviewer"),
};

/** State the loop reads. */
export interface EvaluatorOptimizerState {
  threshold: number;
  maxIterations: number;
  iteration: number;
  draft: string;
  score: number | null;
  feedback: string;
  attempts: Attempt[];
  final: string;
  finalScore: number | null;
  stopReason: "threshold" | "max_iterations" | null;
  revisedAfter: number;
}

/** Options of {@link buildEvaluatorOptimizer}. */
export interface EvaluatorOptimizerOptions<S extends EvaluatorOptimizerState> extends GraphSchemas, PolicyOptions, FallbackOptions<S> {
  /**
   * Writes `{ draft }`. On the first iteration `state.iteration` is 0 and
   * `feedback` is empty; later it sees the previous draft and its feedback.
   */
  generate: (state: S, config: LangGraphRunnableConfig) => Promise<Partial<S>> | Partial<S>;
  /** Scores `state.draft`: writes `{ score, feedback }` (score 1-10). */
  evaluate: (state: S, config: LangGraphRunnableConfig) => Promise<Pick<S, "score" | "feedback"> & Partial<S>>;
  /** Node that runs after the loop (and the review) ends; default `END`. Add it to the returned graph. */
  then?: string;
  /**
   * Optional human review of the final draft (state needs `approvalFields`):
   * approve or edit ends the run; reject feeds the reason back as feedback for
   * one more refinement, then the review is asked again. An invalid answer
   * (a rejection without a reason, an edit over `MAX_EDIT_CHARS`) changes
   * nothing: the question is asked again with the error (see `approval.ts`).
   */
  review?: {
    /** Whether this run asks for a review. */
    enabled: (state: S) => boolean;
    /** Time the reviewer has, in ms (undefined: no deadline). */
    deadlineMs?: (state: S) => number | undefined;
    /** What a resume after the deadline does (default `reject`). */
    onDeadline?: "reject" | "escalate";
    /** Clock, for tests. */
    now?: () => number;
  };
}

/** The best of `attempts`: the highest score, the later one on a tie. */
export function bestAttempt(attempts: readonly Attempt[]): Attempt | undefined {
  let best: Attempt | undefined;
  for (const a of attempts) if (!best || a.score >= best.score) best = a;
  return best;
}

/** Why the loop stops after this state, or null to go on. */
export function stopReasonOf(state: EvaluatorOptimizerState): EvaluatorOptimizerState["stopReason"] {
  if (state.score !== null && state.score >= state.threshold) return "threshold";
  if (state.iteration >= state.maxIterations) return "max_iterations";
  return null;
}

/** Builds the evaluator-optimizer loop (see the module doc). */
export function buildEvaluatorOptimizer<S extends EvaluatorOptimizerState>(options: EvaluatorOptimizerOptions<S>): BuiltGraph {
  const graph: any = createGraph(options, { ...options, nodeFallback: options.fallback });
  graph.addNode(GENERATE_NODE, async (state: S, config: LangGraphRunnableConfig) => {
    // A finished run on the same thread: start the loop afresh.
    const fresh = state.stopReason !== null;
    const view = fresh ? { ...state, iteration: 0, draft: "", score: null, feedback: "", attempts: [] } : state;
    const update = await options.generate(view, config);
    return {
      ...update,
      iteration: view.iteration + 1,
      ...(fresh ? { attempts: new Overwrite([]), stopReason: null, final: "", finalScore: null } : {}),
    };
  }, nodeOptions(options));
  graph.addNode(EVALUATE_NODE, async (state: S, config: LangGraphRunnableConfig) => {
    const update = await options.evaluate(state, config);
    const attempt: Attempt = { iteration: state.iteration, draft: state.draft, score: update.score ?? 0, feedback: update.feedback };
    return { ...update, attempts: [attempt] };
  }, nodeOptions(options));
  graph.addNode(FINALIZE_NODE, (state: S) => {
    const best = bestAttempt(state.attempts.filter((a) => a.iteration > (state.revisedAfter ?? 0)));
    return { final: best?.draft ?? state.draft, finalScore: best?.score ?? state.score, stopReason: stopReasonOf(state) };
  });
  graph.addEdge(START, GENERATE_NODE);
  graph.addEdge(GENERATE_NODE, EVALUATE_NODE);
  graph.addConditionalEdges(EVALUATE_NODE, (state: S) => (stopReasonOf(state) ? FINALIZE_NODE : GENERATE_NODE), [
    GENERATE_NODE,
    FINALIZE_NODE,
  ]);
  const review = options.review;
  const after = options.then ?? END;
  if (!review) {
    graph.addEdge(FINALIZE_NODE, after);
    return graph;
  }
  graph.addConditionalEdges(FINALIZE_NODE, (state: S) => (review.enabled(state) ? REQUEST_REVIEW_NODE : after), [
    ...new Set([REQUEST_REVIEW_NODE, after]),
  ]);
  addApprovalStep<S & { review: Review | null }>(graph, {
    ...options,
    question: "Approve the final draft, edit it, or reject it with what to change.",
    draft: (state) => ({ draft: state.final, score: state.finalScore }),
    applyEdit: (_state, value) => ({ final: typeof value === "string" ? value : JSON.stringify(value), finalScore: null }) as Partial<S & { review: Review | null }>,
    applyReject: (state, reason) =>
      ({ feedback: reason, draft: state.final, stopReason: null, revisedAfter: state.iteration }) as Partial<S & { review: Review | null }>,
    deadlineMs: review.deadlineMs,
    onDeadline: review.onDeadline,
    now: review.now,
    approvedTo: after,
    rejectedTo: GENERATE_NODE,
    escalatedTo: after,
  });
  return graph;
}
