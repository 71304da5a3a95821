/**
 * What every pattern builder shares: node function types, the policy options
 * each builder accepts, and graph construction.
 *
 * @module
 */
import { isGraphBubbleUp, StateGraph, type LangGraphRunnableConfig, type RetryPolicy, type StateSchema } from "@langchain/langgraph";
import type { z } from "zod";
import { USAGE_HANDLER_KEY } from "../../models/factory.js";
import { DEFAULT_RETRY_POLICY } from "../../runtime/retry.js";
import { UsageTracker } from "../../runtime/usage.js";

/**
 * A node: reads the state, returns a partial update.
 * @typeParam S - The graph's state type (`typeof MyState.State`).
 */
export type NodeFn<S> = (state: S, config: LangGraphRunnableConfig) => Promise<Partial<S>> | Partial<S>;

/** A state schema of any fields (a LangGraph `StateSchema`). */
export type AnyStateSchema = StateSchema<any>;

/** Schemas of a graph: its state, and optionally the narrower input and output Studio shows. */
export interface GraphSchemas {
  state: AnyStateSchema;
  /**
   * Fields the graph accepts when invoked (defaults to the whole state). A zod
   * object is checked whole (required fields included) when the graph is
   * invoked; a `StateSchema` only checks the keys present.
   */
  input?: AnyStateSchema | z.ZodObject;
  /** Fields the graph returns (defaults to the whole state). */
  output?: AnyStateSchema;
}

/** Policies applied to every node of a built graph (per-node options still win). */
export interface PolicyOptions {
  /** Retry policy; `false` disables retries. Default: {@link DEFAULT_RETRY_POLICY}. */
  retryPolicy?: RetryPolicy | false;
  /**
   * Per-attempt timeout of each node, in ms (LangGraph's node `timeout`). For
   * fan-out workers it runs from the moment the worker holds a concurrency
   * slot, not while it waits for one. Default: none (the model client's own
   * timeout applies).
   */
  timeoutMs?: number;
}

/**
 * A builder's result: an uncompiled `StateGraph`. Compile it with or without a
 * checkpointer (`graph.compile({ checkpointer })`).
 */
export type BuiltGraph = StateGraph<any, any, any, string, any, any, any>;

/**
 * Creates the StateGraph for `schemas` with the retry policy from `policy` as
 * the node default. Timeouts are set per node with {@link nodeOptions}, so that
 * fan-out workers can time themselves instead (see `fanOut.ts`).
 */
export function createGraph(schemas: GraphSchemas, policy: PolicyOptions & { nodeFallback?: NodeFallback } = {}): BuiltGraph {
  const graph = new StateGraph(schemas.state as any, {
    ...(schemas.input ? { input: schemas.input } : {}),
    ...(schemas.output ? { output: schemas.output } : {}),
  } as any) as unknown as BuiltGraph;
  const retryPolicy = policy.retryPolicy === undefined ? DEFAULT_RETRY_POLICY : policy.retryPolicy;
  if (retryPolicy) graph.setNodeDefaults({ retryPolicy });
  const fallback = policy.nodeFallback;
  const add = (graph as any).addNode.bind(graph);
  // Every node function the builder adds reports its errors to the run's usage tracker, and gets
  // the fallback if there is one (subgraphs and fan-out workers excepted).
  (graph as any).addNode = (name: string | Record<string, unknown>, fn: unknown, options?: unknown) => {
    if (typeof name !== "string" || typeof fn !== "function") return add(name, fn, options);
    const withFallback = fallback && !(fn as any)[NO_FALLBACK] ? withNodeFallback(name, fn as NodeFn<any>, fallback, retryPolicy || undefined) : (fn as NodeFn<any>);
    return add(name, reportingOutcome(withFallback), options);
  };
  return graph;
}

/**
 * `fn`, reporting each attempt's outcome to the run's usage tracker (when the
 * facade runs the graph), so that the facade's node events carry the error of
 * a failed task: LangGraph's `tasks` stream does not, and a run-level callback
 * handler to catch it costs about 0.2 ms per task (see `models/factory.ts`).
 */
function reportingOutcome<S>(fn: NodeFn<S>): NodeFn<S> {
  return async (state, config) => {
    const configurable = config?.configurable as Record<string, unknown> | undefined;
    const tracker = configurable?.[USAGE_HANDLER_KEY];
    if (!(tracker instanceof UsageTracker) || typeof configurable?.checkpoint_ns !== "string") return fn(state, config);
    try {
      const update = await fn(state, config);
      tracker.noteTaskOutcome(configurable.checkpoint_ns);
      return update;
    } catch (error) {
      if (!isGraphBubbleUp(error)) tracker.noteTaskOutcome(configurable.checkpoint_ns, error);
      throw error;
    }
  };
}

/**
 * What a node writes instead of failing, once its retries are spent: the
 * update is applied and the graph goes on along the node's edges.
 */
export type NodeFallback<S = any> = (error: Error, state: S, node: string) => Partial<S> | Promise<Partial<S>>;

/**
 * The `fallback` option of the core builders (chain, router, parallel,
 * orchestrator-workers, evaluator-optimizer, DAG, map-reduce). Default: none,
 * the error fails the run (after the retry policy). Fan-out workers are not
 * covered: use `minSuccesses` for them.
 */
export interface FallbackOption<S> {
  fallback?: NodeFallback<S>;
}

/** Marks a node function that a builder-level fallback must not wrap (fan-out workers). */
export const NO_FALLBACK = Symbol.for("llm-workflows.noFallback");

/**
 * Wraps `fn` so that, once the retry policy will not try again (the last
 * attempt, or an error it does not retry), `fallback`'s update is returned in
 * place of the error. Interrupts and other graph signals pass through.
 */
export function withNodeFallback<S>(name: string, fn: NodeFn<S>, fallback: NodeFallback<S>, retryPolicy?: RetryPolicy): NodeFn<S> {
  return async (state, config) => {
    try {
      return await fn(state, config);
    } catch (error) {
      if (isGraphBubbleUp(error)) throw error;
      const attempt = (config as { executionInfo?: { nodeAttempt?: number } }).executionInfo?.nodeAttempt ?? 1;
      const willRetry = retryPolicy && attempt < (retryPolicy.maxAttempts ?? 3) && (retryPolicy.retryOn ? retryPolicy.retryOn(error) : true);
      if (willRetry) throw error;
      return fallback(error instanceof Error ? error : new Error(String(error)), state, name);
    }
  };
}

/** The retry policy nodes of a graph built with `policy` get (the default when unset; undefined for `false`). */
export function effectiveRetryPolicy(policy: PolicyOptions): RetryPolicy | undefined {
  const retryPolicy = policy.retryPolicy === undefined ? DEFAULT_RETRY_POLICY : policy.retryPolicy;
  return retryPolicy || undefined;
}

/** `addNode` options carrying `policy`'s timeout. */
export function nodeOptions(policy: PolicyOptions): { timeout?: number } {
  return policy.timeoutMs ? { timeout: policy.timeoutMs } : {};
}
