/**
 * Fork-join (the *Workflow Patterns Cheatsheet*, "Parallel Patterns: Fork-Join"): independent branches
 * run in parallel, in one superstep, and a join combines their results once
 * all of them have finished.
 *
 * ```
 *          +-> branch B -+
 * fork  ---+-> branch C -+--> join -> END
 *          +-> branch D -+
 * ```
 *
 * The `fork` node clears the results and failures of a previous run on the
 * same thread; each branch writes `{ [name]: value }` to the results channel
 * (see {@link forkJoinFields}); the join gets the results by branch name.
 * Every branch has its own edge to the join: they all run in the fork's next
 * superstep, so the join runs once, after the last of them (no barrier edge:
 * a branch that failed and was handled goes to the join through LangGraph's
 * error handler instead).
 *
 * **Failures.** By default a branch that still fails after its retries (an
 * error, or `NodeTimeoutError` after `timeoutMs`) fails the join and the run:
 * `invoke` rejects with that error. With `tolerateFailures`, the failure is
 * recorded in `branchFailures` (branch, error name, message), the branch has
 * no result, and the join runs with the others. With `fallback`, the failed
 * branch writes the fallback's update (which may put a substitute into the
 * results channel, e.g. `{ branchResults: { reviews: [] } }`), the failure is
 * recorded too, and the join runs. A join that fails for good, with a
 * `fallback`, writes the fallback's update and the run ends.
 *
 * @example
 * ```ts
 * const State = new StateSchema({ userId: z.string(), page: z.string().default(""), ...forkJoinFields(z.unknown()) });
 * const graph = buildForkJoin<typeof State.State, unknown>({
 *   state: State,
 *   branches: { profile: (s) => getProfile(s.userId), orders: (s) => getOrders(s.userId), reviews: (s) => getReviews(s.userId) },
 *   join: { name: "render", run: (s, results) => ({ page: render(results) }) },
 *   tolerateFailures: true,
 * }).compile();
 * ```
 * @module
 */
import { END, Overwrite, START, type LangGraphRunnableConfig, type ReducedValue } from "@langchain/langgraph";
import type { z } from "zod";
import { GraphDefinitionError } from "../../runtime/errors.js";
import { createGraph, nodeOptions, type BuiltGraph } from "../core/graph.js";
import { keyedResults } from "../workflow/parallel.js";
import {
  branchFailure,
  branchFailureList,
  checkNames,
  fallbackHandler,
  requireStateFields,
  TO_END,
  workNodeOptions,
  type BranchFailure,
  type OrchestrationOptions,
} from "../core/policies.js";

const BUILDER = "buildForkJoin";

/** Default name of the node that starts the branches. */
export const FORK_NODE = "fork";
/** Default state key of the branches' results. */
export const FORK_JOIN_RESULTS_KEY = "branchResults";
/** Default state key of the recorded failures. */
export const FORK_JOIN_FAILURES_KEY = "branchFailures";

/**
 * State fields of a fork-join, to spread into your `StateSchema`:
 * `branchResults` (branch name -> value, merged from parallel writes) and
 * `branchFailures` (the {@link BranchFailure}s of the branches that failed and
 * were tolerated or handled by the fallback).
 * @param value - The zod schema of one branch's value (`z.unknown()` for mixed types).
 */
export function forkJoinFields<T extends z.ZodType>(value: T): {
  branchResults: ReducedValue<Record<string, z.infer<T>>, Record<string, z.infer<T>>>;
  branchFailures: ReducedValue<BranchFailure[], BranchFailure[]>;
} {
  return { branchResults: keyedResults(value), branchFailures: branchFailureList() };
}

/** State a fork-join reads (with the default keys). */
export interface ForkJoinState<R> {
  branchResults: Record<string, R>;
  branchFailures: BranchFailure[];
}

/** One branch: the state in, its value out. */
export type ForkJoinBranch<S, R> = (state: S, config: LangGraphRunnableConfig) => Promise<R> | R;

/** Options of {@link buildForkJoin}. */
export interface ForkJoinOptions<S, R> extends OrchestrationOptions<S> {
  /** Branch name (its node's name) -> function. At least two. */
  branches: Record<string, ForkJoinBranch<S, R>>;
  /**
   * Runs once every branch has finished (or failed and been tolerated or
   * handled). `results` has a value per successful branch; `failures` lists the
   * others (always empty without `tolerateFailures` or `fallback`).
   */
  join: {
    name: string;
    run: (state: S, results: Record<string, R>, failures: BranchFailure[], config: LangGraphRunnableConfig) => Promise<Partial<S>> | Partial<S>;
  };
  /** Record a failed branch and join the others instead of failing the run. Default: false. */
  tolerateFailures?: boolean;
  /** Name of the node that starts the branches (and clears the previous run's results). Default {@link FORK_NODE}. */
  forkName?: string;
  /** State key of the `keyedResults` channel the branches write. Default {@link FORK_JOIN_RESULTS_KEY}. */
  resultsKey?: string;
  /** State key of the failure list (`branchFailureList()`). Default {@link FORK_JOIN_FAILURES_KEY}. */
  failuresKey?: string;
}

/**
 * Builds a fork-join (the *Workflow Patterns Cheatsheet*, "Fork-Join"; see the module doc):
 * `START -> fork -> every branch (one superstep) -> join -> END`.
 *
 * Policies: `retryPolicy` (default {@link DEFAULT_RETRY_POLICY}, `false` for
 * none) and `timeoutMs` (per attempt, in ms; default none) apply to each
 * branch and to the join; `tolerateFailures` (default false) and `fallback`
 * (default none) decide what a branch that fails for good does.
 *
 * @example
 * ```ts
 * buildForkJoin<State, Profile | Order[]>({
 *   state: State,                                      // ...forkJoinFields(z.unknown())
 *   branches: { profile: (s) => getProfile(s.userId), orders: (s) => getOrders(s.userId) },
 *   join: { name: "combine", run: (_s, results, failures) => ({ page: render(results, failures) }) },
 *   tolerateFailures: true,
 *   timeoutMs: 5_000,
 * });
 * ```
 *
 * @returns the uncompiled `StateGraph`.
 * @throws {GraphDefinitionError} with fewer than two branches, on a duplicate or
 *   reserved node name, and when the state lacks the results or failures field.
 * @throws the failing branch's own error at run time (e.g. `NodeTimeoutError`),
 *   unless `tolerateFailures` or `fallback` is set.
 */
export function buildForkJoin<S, R = unknown>(options: ForkJoinOptions<S, R>): BuiltGraph {
  const names = Object.keys(options.branches);
  if (names.length < 2) throw new GraphDefinitionError(BUILDER, `needs at least two branches, got ${names.length}`);
  const fork = options.forkName ?? FORK_NODE;
  const resultsKey = options.resultsKey ?? FORK_JOIN_RESULTS_KEY;
  const failuresKey = options.failuresKey ?? FORK_JOIN_FAILURES_KEY;
  checkNames(BUILDER, [fork, ...names, options.join.name], options);
  requireStateFields(BUILDER, options, [resultsKey, failuresKey], "spread forkJoinFields(valueSchema) into your StateSchema (or set resultsKey/failuresKey)");

  const graph: any = createGraph(options, options);
  graph.addNode(fork, () => ({ [resultsKey]: new Overwrite({}), [failuresKey]: new Overwrite([]) }));
  const handled = options.tolerateFailures || options.fallback;
  for (const [name, run] of Object.entries(options.branches)) {
    graph.addNode(
      name,
      async (state: S, config: LangGraphRunnableConfig) => ({ [resultsKey]: { [name]: await run(state, config) } }),
      {
        ...nodeOptions(options),
        ...(handled
          ? { errorHandler: fallbackHandler<S>(options.fallback, options.join.name, (_s, error) => ({ [failuresKey]: [branchFailure(name, error)] })) }
          : {}),
      },
    );
    graph.addEdge(fork, name);
    graph.addEdge(name, options.join.name);
  }
  graph.addNode(
    options.join.name,
    (state: S, config: LangGraphRunnableConfig) => {
      const record = state as Record<string, unknown>;
      return options.join.run(state, (record[resultsKey] ?? {}) as Record<string, R>, (record[failuresKey] ?? []) as BranchFailure[], config);
    },
    workNodeOptions(options, TO_END),
  );
  graph.addEdge(START, fork);
  graph.addEdge(options.join.name, END);
  return graph;
}
