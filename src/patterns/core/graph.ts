/**
 * What every pattern builder shares: node function types, the policy options
 * each builder accepts, the one fallback type, and graph construction.
 *
 * **Fallbacks.** A {@link Fallback} is what a node writes instead of failing
 * once its retries are spent. Every builder applies it through LangGraph's own
 * node `errorHandler`, which LangGraph runs only after the node's retry policy
 * is exhausted (timeouts included): the orchestration builders per node with
 * an explicit target (`policies.ts`), the core builders through
 * {@link createGraph}'s `nodeFallback`, a graph-wide handler
 * (`setNodeDefaults({ errorHandler })`) that sends the run on along the failed
 * node's own edges.
 *
 * @module
 */
import { Command, StateGraph, type LangGraphRunnableConfig, type NodeError, type RetryPolicy, type StateSchema } from "@langchain/langgraph";
import type { z } from "zod";
import { LlmWorkflowsError } from "../../runtime/errors.js";
import { resolveRetryPolicy, type ResolvedRetryPolicy } from "../../runtime/retry.js";

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
  /**
   * Retry policy; `false` disables retries. Default: `DEFAULT_RETRY_POLICY`
   * (`runtime/retry.ts`); a policy without `maxAttempts` or `retryOn` gets the
   * defaults' (`resolveRetryPolicy`).
   */
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
 * What a node writes instead of failing once its retries are spent (an error
 * or a timeout): gets the error, the node's input state and the node's name,
 * returns the update to apply instead. May be async; one that throws fails the
 * run. The one fallback type of every builder.
 * @typeParam S - The graph's state type.
 */
export type Fallback<S = any> = (error: Error, state: S, node: string) => Partial<S> | Promise<Partial<S>>;

/** The `fallback` option every builder that supports one accepts. */
export interface FallbackOptions<S> {
  /**
   * What a node that still fails after its retries writes instead (see
   * {@link Fallback}); the run then goes on where the node would have gone.
   * Default: none, the error fails the run.
   */
  fallback?: Fallback<S>;
}

/**
 * A builder's result: an uncompiled `StateGraph`. Compile it with or without a
 * checkpointer (`graph.compile({ checkpointer })`).
 */
export type BuiltGraph = StateGraph<any, any, any, string, any, any, any>;

/**
 * An error a {@link Fallback} must not replace: it fails the run even when the
 * graph has a fallback (a fan-out whose items failed: its finished results are
 * on the error, and `minSuccesses` is the option that keeps them).
 */
export interface NotForFallback {
  readonly notForFallback: true;
}

function isNotForFallback(error: unknown): boolean {
  return error instanceof LlmWorkflowsError && (error as Partial<NotForFallback>).notForFallback === true;
}

/**
 * A copy of `error` (same class, message, stack and fields). A LangGraph error
 * handler must not rethrow the node's own error object, which LangGraph 1.4
 * then treats as handled (the run would end silently); a copy fails the run.
 */
function rethrowable(error: Error): Error {
  return Object.create(Object.getPrototypeOf(error), Object.getOwnPropertyDescriptors(error)) as Error;
}

/** `config.configurable.__pregel_send`: how a task writes to channels (LangGraph 1.4 `CONFIG_KEY_SEND`). */
const CONFIG_KEY_SEND = "__pregel_send";

/**
 * Where a node's own edges lead after `state`: static edges, conditional
 * branches (evaluated on `state`) and join edges. Static and conditional
 * targets come back as `goto` targets; for a join edge (`addEdge([a, b], c)`)
 * the node's part of the join is written directly, so that `c` still waits for
 * its other parents, exactly as after a success.
 */
async function followEdges(graph: BuiltGraph, node: string, state: unknown, config: LangGraphRunnableConfig | undefined): Promise<{ goto: unknown[]; writes: Array<[string, unknown]> }> {
  const g = graph as unknown as {
    edges: Set<[string, string]>;
    waitingEdges: Set<[string[], string]>;
    branches: Record<string, Record<string, { path: { invoke(input: unknown, config?: unknown): Promise<unknown> }; ends?: Record<string, string> }>>;
  };
  const goto: unknown[] = [];
  const writes: Array<[string, unknown]> = [];
  for (const [start, end] of g.edges) if (start === node) goto.push(end);
  for (const [starts, end] of g.waitingEdges) if (starts.includes(node)) writes.push([`join:${starts.join("+")}:${end}`, node]);
  for (const branch of Object.values(g.branches[node] ?? {})) {
    const result = await branch.path.invoke(state, config);
    for (const r of Array.isArray(result) ? result : [result]) goto.push(typeof r === "string" && branch.ends ? branch.ends[r] : r);
  }
  return { goto, writes };
}

/**
 * The graph-wide LangGraph `errorHandler` of a graph built with a fallback:
 * applies `fallback` (errors marked {@link NotForFallback} fail the run
 * instead), then goes where the failed node's own edges lead, evaluated on
 * its input state with the fallback's update applied (see {@link followEdges}).
 */
function fallbackAlongEdges(graph: BuiltGraph, fallback: Fallback) {
  return async (state: Record<string, unknown>, nodeError: NodeError, config?: LangGraphRunnableConfig) => {
    const error = nodeError.error instanceof Error ? nodeError.error : new Error(String(nodeError.error));
    if (isNotForFallback(error)) throw rethrowable(error);
    const update = (await fallback(error, state, nodeError.node)) ?? {};
    const { goto, writes } = await followEdges(graph, nodeError.node, { ...state, ...update }, config);
    if (writes.length) {
      const send = (config?.configurable as Record<string, unknown> | undefined)?.[CONFIG_KEY_SEND];
      if (typeof send !== "function") throw new Error(`LangGraph gave the error handler of "${nodeError.node}" no channel writer (${CONFIG_KEY_SEND}); a join after it cannot go on`);
      send(writes);
    }
    return new Command({ update, goto: goto as string[] });
  };
}

/**
 * Creates the StateGraph for `schemas`, with the node defaults of `policy`:
 * its retry policy ({@link resolveRetryPolicy}: the default unless `false`)
 * and, with `nodeFallback`, a LangGraph error handler for every node that has none
 * of its own: once a node's retries are spent, the fallback's update is
 * applied and the run goes on along the node's own edges (static, conditional
 * and join edges). Timeouts are set per node with {@link nodeOptions}, so that
 * fan-out workers can time themselves instead (see `fanOut.ts`).
 */
export function createGraph(schemas: GraphSchemas, policy: PolicyOptions & { nodeFallback?: Fallback } = {}): BuiltGraph {
  const graph = new StateGraph(schemas.state as any, {
    ...(schemas.input ? { input: schemas.input } : {}),
    ...(schemas.output ? { output: schemas.output } : {}),
  } as any) as unknown as BuiltGraph;
  const retryPolicy = effectiveRetryPolicy(policy);
  const fallback = policy.nodeFallback;
  graph.setNodeDefaults({
    ...(retryPolicy ? { retryPolicy } : {}),
    ...(fallback ? { errorHandler: fallbackAlongEdges(graph, fallback) as any } : {}),
  });
  return graph;
}

/** The retry policy nodes of a graph built with `policy` get (the default when unset; undefined for `false`). */
export function effectiveRetryPolicy(policy: PolicyOptions): ResolvedRetryPolicy | undefined {
  return resolveRetryPolicy(policy.retryPolicy);
}

/** `addNode` options carrying `policy`'s timeout. */
export function nodeOptions(policy: PolicyOptions): { timeout?: number } {
  return policy.timeoutMs ? { timeout: policy.timeoutMs } : {};
}
