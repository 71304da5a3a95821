/**
 * Retry with exponential backoff and jitter (the *Workflow Patterns Cheatsheet*, "Error Handling
 * Patterns / Retry with Backoff"), on LangGraph's own node `retryPolicy`, plus
 * what LangGraph's retry loop lacks: honouring a `Retry-After` header.
 *
 * ```
 * Try -> Fail -> Wait -> Retry -> Fail -> Wait -> Retry -> Success
 * ```
 *
 * - {@link withRetry} builds a LangGraph `RetryPolicy` from plain options:
 *   attempts ({@link DEFAULT_MAX_ATTEMPTS} by default) and `retryOn`
 *   ({@link isTransientError} by default: HTTP 408/409/429/5xx/529, timeouts
 *   and dropped connections; never 400/401/403/404, aborts or this library's
 *   own errors); the intervals are LangGraph's own defaults unless given.
 * - {@link retryNode} wraps a node function so that an attempt failing with a
 *   `Retry-After` (or OpenAI's `retry-after-ms`) that LangGraph will retry
 *   (`willRetry`, `runtime/retry.ts`) sleeps that long *before* rethrowing:
 *   LangGraph then sleeps its own interval (plus jitter) and retries, so the
 *   next attempt starts at least Retry-After after the failure. The wait is
 *   outside the attempt's timeout, which the wrapper applies itself around the
 *   node function only (`withTimeout`, `runtime/retry.ts`).
 * - {@link buildRetry} is the pattern as a one-node graph (a subgraph to embed);
 *   {@link addPolicyNode} adds any node with the same behaviour to a graph of
 *   your own. Every builder of this part (`tryCatch`, `fallbackChain`, `saga`,
 *   `stateMachine`, `dynamicWorkflow`, `pipeline`, `pubSub`) adds your nodes
 *   through {@link addPolicyNode}.
 *
 * @example
 * ```ts
 * const graph = buildRetry<State>({
 *   state: State,
 *   step: { name: "callProvider", run: async (s, config) => ({ answer: await callProvider(s.question, config) }) },
 *   retryPolicy: withRetry({ maxAttempts: 5, initialIntervalMs: 1_000 }),
 *   timeoutMs: 30_000,
 * }).compile();
 * ```
 * @module
 */
import { Command, END, NodeTimeoutError, START, isGraphBubbleUp, type LangGraphRunnableConfig, type NodeError, type RetryPolicy } from "@langchain/langgraph";
import { ConfigurationError, LlmWorkflowsError } from "../../runtime/errors.js";
import {
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_MAX_RETRY_AFTER_MS,
  isTransientError,
  resolveRetryPolicy,
  retryAfterMs,
  willRetry,
  withTimeout,
  type ResolvedRetryPolicy,
} from "../../runtime/retry.js";
import { checkNodeNames } from "../core/nodeNames.js";
import { createGraph, type BuiltGraph, type Fallback, type GraphSchemas, type NodeFn, type PolicyOptions } from "../core/graph.js";

// The runtime's one parser, policy resolver and Retry-After limit, where this pattern's users look for them.
export { DEFAULT_MAX_RETRY_AFTER_MS, resolveRetryPolicy, retryAfterMs };

/** A policy of one attempt: what `retryPolicy: false` sets on a node (a node without one would get the graph's default). */
export const NO_RETRY: RetryPolicy = { maxAttempts: 1 };

/** Plain options of {@link withRetry}; every field is optional. */
export interface RetryOptions {
  /** Attempts of one node, the first included (whole number >= 1). Default {@link DEFAULT_MAX_ATTEMPTS} (3). */
  maxAttempts?: number;
  /** Wait before the first retry, in ms (>= 0). Default: LangGraph's (500). */
  initialIntervalMs?: number;
  /** Multiplier of the wait after each retry (>= 1). Default: LangGraph's (2). */
  backoffFactor?: number;
  /** Longest wait between two attempts, in ms (>= 0). Default: LangGraph's (128 000). */
  maxIntervalMs?: number;
  /** Add LangGraph's random 0-1000 ms to each wait. Default: LangGraph's (true). */
  jitter?: boolean;
  /** Which errors to retry. Default {@link isTransientError}. */
  retryOn?: (error: unknown) => boolean;
  /** Log each retry on the console (LangGraph's `logWarning`). Default false. */
  logWarning?: boolean;
}

/**
 * A LangGraph `RetryPolicy` from plain options (see {@link RetryOptions}):
 * `maxAttempts` (default 3), `retryOn` (default {@link isTransientError}),
 * `logWarning` (default false) and only the interval fields given, so that
 * LangGraph's own interval defaults apply to the others. `withRetry()` has
 * the same fields as `DEFAULT_RETRY_POLICY`.
 *
 * @throws {ConfigurationError} naming the first option out of range.
 */
export function withRetry(options: RetryOptions = {}): ResolvedRetryPolicy {
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  const { initialIntervalMs, backoffFactor, maxIntervalMs, jitter } = options;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new ConfigurationError("maxAttempts", "a whole number >= 1", options.maxAttempts);
  if (initialIntervalMs !== undefined && !(initialIntervalMs >= 0 && Number.isFinite(initialIntervalMs))) throw new ConfigurationError("initialIntervalMs", "a number of ms >= 0", initialIntervalMs);
  if (backoffFactor !== undefined && !(backoffFactor >= 1 && Number.isFinite(backoffFactor))) throw new ConfigurationError("backoffFactor", "a number >= 1", backoffFactor);
  if (maxIntervalMs !== undefined && !(maxIntervalMs >= 0 && Number.isFinite(maxIntervalMs))) throw new ConfigurationError("maxIntervalMs", "a number of ms >= 0", maxIntervalMs);
  return {
    maxAttempts,
    ...(initialIntervalMs !== undefined ? { initialInterval: initialIntervalMs } : {}),
    ...(backoffFactor !== undefined ? { backoffFactor } : {}),
    ...(maxIntervalMs !== undefined ? { maxInterval: maxIntervalMs } : {}),
    ...(jitter !== undefined ? { jitter } : {}),
    retryOn: options.retryOn ?? isTransientError,
    logWarning: options.logWarning ?? false,
  };
}

/** The provider asked to wait longer than the node allows (`maxRetryAfterMs`); not retried. */
export class RetryAfterTooLongError extends LlmWorkflowsError {
  readonly node: string;
  /** The wait asked for, in ms. */
  readonly retryAfterMs: number;
  /** The longest wait allowed, in ms. */
  readonly maxRetryAfterMs: number;

  constructor(node: string, retryAfter: number, max: number, cause: unknown) {
    super(
      "RETRY_AFTER_TOO_LONG",
      `node "${node}": the provider asked to retry after ${Math.round(retryAfter)} ms, more than the ${max} ms allowed (maxRetryAfterMs); last error: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
    this.node = node;
    this.retryAfterMs = retryAfter;
    this.maxRetryAfterMs = max;
  }
}

/** Time source of {@link retryNode}: real by default, fake in tests. */
export interface RetryClock {
  /** Current time in ms since the epoch. */
  now(): number;
  /** Resolves after `ms` ms, or rejects when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The real clock: `Date.now` and an abortable `setTimeout`. */
export const realClock: RetryClock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
    }),
};

/** Options of {@link retryNode}. */
export interface RetryNodeOptions {
  /** Node name, for timeout and Retry-After errors. Default "node". */
  name?: string;
  /**
   * The retry policy LangGraph applies to this node (pass the same one to
   * `addNode`; {@link addPolicyNode} does). `undefined`: no retries, so no
   * Retry-After wait either.
   */
  policy?: RetryPolicy;
  /**
   * Per-attempt timeout in ms around the node function (not around the
   * Retry-After wait); an attempt that exceeds it fails with LangGraph's
   * `NodeTimeoutError` (retried by {@link isTransientError}) and its signal is
   * aborted. Default: none.
   */
  timeoutMs?: number;
  /** Longest Retry-After to wait for, in ms; a longer one throws {@link RetryAfterTooLongError}. Default {@link DEFAULT_MAX_RETRY_AFTER_MS}. */
  maxRetryAfterMs?: number;
  /** Time source (tests). Default {@link realClock}. */
  clock?: RetryClock;
}

/**
 * Wraps node function `fn` (any node input: a state or a `Send` payload) so
 * that Retry-After is honoured by LangGraph's retry loop, and applies
 * `timeoutMs` to each attempt of `fn` itself.
 *
 * When an attempt fails, LangGraph will retry it (`willRetry`: attempts left
 * and `retryOn(error)`, the attempt read from `config.executionInfo.nodeAttempt`)
 * and the error carries a Retry-After (`retryAfterMs`), the wrapper sleeps that
 * long before rethrowing, so the next attempt starts no sooner than
 * Retry-After after the failure (LangGraph's own interval comes on top). A
 * Retry-After above `maxRetryAfterMs` is thrown as
 * {@link RetryAfterTooLongError} (not retried). Interrupts and other
 * LangGraph control flow pass through untouched.
 *
 * @returns A node function to add with `{ retryPolicy: options.policy }` and
 *   without LangGraph's `timeout` (the wrapper times attempts itself).
 */
export function retryNode<I, O>(
  fn: (input: I, config: LangGraphRunnableConfig) => Promise<O> | O,
  options: RetryNodeOptions = {},
): (input: I, config: LangGraphRunnableConfig) => Promise<O> {
  const name = options.name ?? "node";
  const clock = options.clock ?? realClock;
  const maxRetryAfter = options.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS;
  const policy = options.policy ? resolveRetryPolicy(options.policy) : undefined;
  const timeoutMs = options.timeoutMs;
  return async (input, config) => {
    try {
      if (!timeoutMs) return await fn(input, config);
      const started = clock.now();
      return await withTimeout((signal) => fn(input, { ...config, signal }), timeoutMs, {
        signal: config.signal,
        timeoutError: () => new NodeTimeoutError({ node: name, elapsed: clock.now() - started, kind: "run", runTimeout: timeoutMs }),
      });
    } catch (error) {
      if (isGraphBubbleUp(error) || !willRetry(policy, error, config.executionInfo?.nodeAttempt ?? 1)) throw error;
      const asked = retryAfterMs(error, clock.now());
      if (asked === undefined) throw error;
      if (asked > maxRetryAfter) throw new RetryAfterTooLongError(name, asked, maxRetryAfter, error);
      if (asked > 0) await clock.sleep(asked, config.signal);
      throw error;
    }
  };
}

/** Options of {@link addPolicyNode}: the builder's policies plus Retry-After settings. */
export interface NodePolicyOptions extends PolicyOptions {
  /** See {@link RetryNodeOptions.maxRetryAfterMs}. Default {@link DEFAULT_MAX_RETRY_AFTER_MS}. */
  maxRetryAfterMs?: number;
  /** See {@link RetryNodeOptions.clock}. */
  clock?: RetryClock;
}

/**
 * Adds node `name` running `fn` to `graph` with `policy`'s retry policy
 * (default `DEFAULT_RETRY_POLICY`, resolved by `resolveRetryPolicy`; `false`: {@link NO_RETRY}, one
 * attempt) set on the node, and `policy.timeoutMs` per attempt, through
 * {@link retryNode} (Retry-After honoured). `extra` is passed to `addNode` (`errorHandler`, `ends`, ...); an
 * `extra.retryPolicy` replaces the node's policy.
 *
 * @returns `graph`, for chaining.
 */
export function addPolicyNode(graph: BuiltGraph, name: string, fn: (input: any, config: LangGraphRunnableConfig) => unknown, policy: NodePolicyOptions = {}, extra: Record<string, unknown> = {}): BuiltGraph {
  const retryPolicy = resolveRetryPolicy("retryPolicy" in extra ? ((extra.retryPolicy as RetryPolicy | undefined) ?? false) : policy.retryPolicy);
  const run = retryNode(fn, { name, policy: retryPolicy, timeoutMs: policy.timeoutMs, maxRetryAfterMs: policy.maxRetryAfterMs, clock: policy.clock });
  // No policy must also override the graph's default (setNodeDefaults): one attempt.
  (graph as any).addNode(name, run, { ...extra, retryPolicy: retryPolicy ?? NO_RETRY });
  return graph;
}

/** Name of the error-handler node LangGraph adds for `node` (`__error_handler__<node>`). */
export function errorHandlerNodeName(node: string): string {
  return `__error_handler__${node}`;
}

/**
 * Adds node `name` through {@link addPolicyNode} with a LangGraph
 * `errorHandler`: once the node's retries are exhausted (timeouts included),
 * `onError` gets the node's input, the error (an `Error`; after a resume, one
 * rebuilt by LangGraph with the name and message only), the node's name and
 * the config, and returns a `Command({ update, goto })` or an update.
 * `targets` are the nodes it may go to, declared so that the graph validates
 * and its Mermaid diagram shows `name -.-> __error_handler__name -.-> target`.
 *
 * An error handler must not rethrow the node's own error object: LangGraph
 * 1.4 treats that object as handled and the run would end silently. Throw a
 * new error instead.
 */
export function addHandledNode(
  graph: BuiltGraph,
  name: string,
  fn: (input: any, config: LangGraphRunnableConfig) => unknown,
  policy: NodePolicyOptions,
  onError: (input: any, error: Error, node: string, config: LangGraphRunnableConfig | undefined) => unknown,
  targets: string[],
  extra: Record<string, unknown> = {},
): BuiltGraph {
  const handler = errorHandlerNodeName(name);
  addPolicyNode(graph, name, fn, policy, {
    ...extra,
    ends: [...((extra.ends as string[] | undefined) ?? []), handler],
    errorHandler: (input: unknown, error: NodeError, config?: LangGraphRunnableConfig) =>
      onError(input, error.error instanceof Error ? error.error : new Error(String(error.error)), error.node, config),
  });
  const spec = (graph as any).nodes[handler];
  if (spec) spec.ends = targets;
  return graph;
}

/** Options of {@link buildRetry}. */
export interface RetryGraphOptions<S> extends GraphSchemas, NodePolicyOptions {
  /** The step to retry: node name and function. */
  step: { name: string; run: NodeFn<S> };
  /**
   * What the step writes instead when its attempts run out (the run then
   * ends normally). Default: none, the last error fails the run.
   */
  fallback?: Fallback<S>;
}

/**
 * Builds the retry pattern as a graph: `START -> step -> END`, the step retried
 * by LangGraph with `retryPolicy` (default `DEFAULT_RETRY_POLICY`; build
 * one with {@link withRetry}), each attempt limited to `timeoutMs`, Retry-After
 * honoured (see {@link retryNode}). When the attempts run out, `fallback`'s
 * update is written instead, or without one the last error fails the run
 * (`buildTryCatch` and `buildFallbackChain` handle failures in more ways).
 * Compile it on its own or embed it as a node of a parent graph whose state
 * shares its keys.
 *
 * @throws {GraphDefinitionError} on a reserved node name.
 */
export function buildRetry<S>(options: RetryGraphOptions<S>): BuiltGraph {
  checkNodeNames("buildRetry", [options.step.name]);
  const graph: any = createGraph(options, options);
  const fallback = options.fallback;
  if (!fallback) addPolicyNode(graph, options.step.name, options.step.run, options);
  else {
    addHandledNode(graph, options.step.name, options.step.run, options, async (state: S, error, node) => new Command({ update: (await fallback(error, state, node)) ?? {}, goto: END }), [END]);
  }
  graph.addEdge(START, options.step.name);
  graph.addEdge(options.step.name, END);
  return graph;
}
