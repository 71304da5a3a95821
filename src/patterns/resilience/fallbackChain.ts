/**
 * Fallback chain (the *Workflow Patterns Cheatsheet*, "Error Handling Patterns / Fallback Chain"): try
 * the strategies in order; the first that succeeds ends the chain, each
 * failure hands over to the next, and every failure is kept in state.
 *
 * ```
 * START -> primary -(fail)-> secondary -(fail)-> cache -(fail)-> all_failed (throws)
 *             \                  \                  \
 *              +-> END            +-> END            +-> END        (success)
 * ```
 *
 * A strategy fails when it throws after its retries (timeouts included) or
 * when `accept` rejects its result (the source's `result.get("success")`).
 * Failures are caught with LangGraph's node-level `errorHandler`, so each
 * strategy keeps its own retry policy and timeout (e.g. retry the primary, never
 * the cache). State ({@link fallbackFields}): `fallbackFailures` (one
 * {@link CaughtError} per failed strategy, in order) and `fallbackUsed` (the
 * strategy that succeeded, or null).
 *
 * @example
 * ```ts
 * const State = new StateSchema({ query: z.string(), answer: z.string().default(""), ...fallbackFields });
 * const graph = buildFallbackChain<typeof State.State>({
 *   state: State,
 *   strategies: [
 *     { name: "primary", run: askPrimaryModel, accept: (u) => Boolean(u.answer) || "empty answer" },
 *     { name: "secondary", run: askSmallerModel, timeoutMs: 10_000 },
 *     { name: "cache", run: readCache, retryPolicy: false },
 *   ],
 * }).compile();
 * ```
 * @module
 */
import { Command, END, START, type LangGraphRunnableConfig, type RetryPolicy } from "@langchain/langgraph";
import { z } from "zod";
import { GraphDefinitionError, LlmWorkflowsError } from "../../runtime/errors.js";
import { checkNodeNames } from "../core/nodeNames.js";
import { createGraph, type BuiltGraph, type GraphSchemas, type NodeFn } from "../core/graph.js";
import type { NodePolicyOptions } from "./retry.js";
import { addGuardedNode, caughtErrorSchema, formatCaught, type CaughtError } from "./tryCatch.js";

/** State fields a fallback chain needs: spread them into your `StateSchema`. */
export const fallbackFields = {
  fallbackFailures: z.array(caughtErrorSchema).default(() => []).describe("One entry per strategy that failed, in the order tried"),
  fallbackUsed: z.string().nullable().default(null).describe("The strategy whose result was kept; null when all failed"),
};

/** State a fallback chain reads: your fields plus {@link fallbackFields}. */
export interface FallbackState {
  fallbackFailures: CaughtError[];
  fallbackUsed: string | null;
}

/** One strategy: a node, an optional acceptance check, optional policies of its own. */
export interface FallbackStrategy<S> {
  name: string;
  run: NodeFn<S>;
  /**
   * Checks the strategy's update: `true` keeps it, `false` or a reason string
   * makes the strategy fail with {@link StrategyRejectedError} (not retried)
   * and the next one run. Default: every result is kept.
   */
  accept?: (update: Partial<S>, state: S) => boolean | string;
  /** This strategy's retry policy, instead of the chain's; `false`: one attempt. */
  retryPolicy?: RetryPolicy | false;
  /** This strategy's per-attempt timeout in ms, instead of the chain's. */
  timeoutMs?: number;
}

/** Options of {@link buildFallbackChain}. */
export interface FallbackChainOptions<S> extends GraphSchemas, NodePolicyOptions {
  /** Strategies in the order to try them (at least one). */
  strategies: FallbackStrategy<S>[];
  /**
   * When every strategy failed: `"throw"` (default) routes to the
   * `all_failed` node, which throws {@link AllStrategiesFailedError} (the
   * failures stay in the thread's state); `"end"` ends the run normally with
   * `fallbackUsed: null`, like the source's `{"success": False}`.
   */
  onExhausted?: "throw" | "end";
}

/** Name of the node that throws {@link AllStrategiesFailedError}. */
export const ALL_FAILED_NODE = "all_failed";

/** A strategy's result was rejected by its `accept` check. */
export class StrategyRejectedError extends LlmWorkflowsError {
  readonly strategy: string;

  constructor(strategy: string, reason: string) {
    super("STRATEGY_REJECTED", `strategy "${strategy}" returned a result its accept check rejected: ${reason}`);
    this.strategy = strategy;
  }
}

/** Every strategy of a fallback chain failed; `failures` lists them in order. */
export class AllStrategiesFailedError extends LlmWorkflowsError {
  readonly failures: CaughtError[];

  constructor(failures: CaughtError[]) {
    super("ALL_STRATEGIES_FAILED", `all ${failures.length} strategies failed: ${failures.map(formatCaught).join("; ")}`);
    this.failures = failures;
  }
}

/**
 * Builds a fallback chain (see the module doc). Your state must include
 * {@link fallbackFields}.
 *
 * @throws {GraphDefinitionError} with no strategy, or on a duplicate or
 *   reserved node name (`all_failed` is taken).
 * @throws {AllStrategiesFailedError} at run time when every strategy failed and `onExhausted` is `"throw"`.
 */
export function buildFallbackChain<S extends FallbackState>(options: FallbackChainOptions<S>): BuiltGraph {
  const { strategies } = options;
  if (strategies.length === 0) throw new GraphDefinitionError("buildFallbackChain", "needs at least one strategy");
  checkNodeNames("buildFallbackChain", [...strategies.map((s) => s.name), ALL_FAILED_NODE]);
  const exhausted = options.onExhausted ?? "throw";
  if (exhausted !== "throw" && exhausted !== "end") throw new GraphDefinitionError("buildFallbackChain", `onExhausted must be "throw" or "end", got ${JSON.stringify(exhausted)}`);
  const graph: any = createGraph(options, options);
  const whenAllFailed = exhausted === "throw" ? ALL_FAILED_NODE : END;

  strategies.forEach((strategy, i) => {
    const next = strategies[i + 1]?.name ?? whenAllFailed;
    const policy = {
      ...options,
      ...(strategy.retryPolicy !== undefined ? { retryPolicy: strategy.retryPolicy } : {}),
      ...(strategy.timeoutMs !== undefined ? { timeoutMs: strategy.timeoutMs } : {}),
    };
    addGuardedNode(
      graph,
      strategy.name,
      async (state: S, config: LangGraphRunnableConfig) => {
        const update = (await strategy.run(state, config)) ?? {};
        const verdict = strategy.accept ? strategy.accept(update, state) : true;
        if (verdict !== true) throw new StrategyRejectedError(strategy.name, typeof verdict === "string" ? verdict : "accept returned false");
        // The first strategy starts a fresh list (a thread's earlier run may have left failures).
        return { ...update, fallbackUsed: strategy.name, ...(i === 0 ? { fallbackFailures: [] } : {}) };
      },
      policy,
      (state: S, error) =>
        new Command({
          update: { fallbackFailures: i === 0 ? [error] : [...(state.fallbackFailures ?? []), error], fallbackUsed: null },
          goto: next,
        }),
      [next],
    );
    graph.addEdge(strategy.name, END);
  });
  graph.addEdge(START, strategies[0].name);
  if (exhausted === "throw") {
    graph.addNode(
      ALL_FAILED_NODE,
      (state: S) => {
        throw new AllStrategiesFailedError(state.fallbackFailures);
      },
      { retryPolicy: { maxAttempts: 1 } },
    );
  }
  return graph;
}
