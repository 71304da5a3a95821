/**
 * Retry with exponential backoff and jitter (seed 004, "Error Handling
 * Patterns / Retry with Backoff"), on LangGraph's own node `retryPolicy`, plus
 * what LangGraph's retry loop lacks: honouring a `Retry-After` header.
 *
 * ```
 * Try -> Fail -> Wait -> Retry -> Fail -> Wait -> Retry -> Success
 * ```
 *
 * - {@link withRetry} builds a LangGraph `RetryPolicy` from plain options whose
 *   defaults are the project's ({@link DEFAULT_RETRY_POLICY}) and whose
 *   `retryOn` is {@link isTransientError}: HTTP 408/409/429 (with or without
 *   Retry-After)/5xx/529, timeouts and dropped connections are retried;
 *   400/401/403/404, aborts and this library's own errors (bad input, schema
 *   mismatch) never are.
 * - {@link retryNode} wraps a node function so that an attempt failing with a
 *   `Retry-After` (or OpenAI's `retry-after-ms`) longer than the interval
 *   LangGraph is about to wait sleeps the difference *before* rethrowing:
 *   LangGraph then sleeps its own interval (plus jitter) and retries, so the
 *   next attempt starts at least Retry-After after the failure. The wait is
 *   outside the attempt's timeout, which the wrapper applies itself around the
 *   node function only.
 * - {@link buildRetry} is the pattern as a one-node graph (a subgraph to embed);
 *   {@link addPolicyNode} adds any node with the same behaviour to a graph of
 *   your own. Every builder of this part (`tryCatch`, `fallbackChain`, `saga`,
 *   `stateMachine`, `dynamicWorkflow`, `pipeline`, `pubSub`) adds your nodes
 *   through {@link addPolicyNode}.
 *
 * LangGraph's loop (1.4.x): after a failed attempt `n` (1-based) for which
 * `retryOn` is true and `n < maxAttempts`, it sleeps
 * `min(maxInterval, initialInterval * backoffFactor^(n-1))` ms, plus a random
 * 0-1000 ms when `jitter` is true, then runs the node again.
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
  DEFAULT_INITIAL_INTERVAL_MS,
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_MAX_INTERVAL_MS,
  DEFAULT_RETRY_POLICY,
  isTransientError,
} from "../../runtime/retry.js";
import { checkNodeNames } from "../core/nodeNames.js";
import { createGraph, type BuiltGraph, type GraphSchemas, type NodeFn, type PolicyOptions } from "../core/graph.js";

/** Longest `Retry-After` honoured by default, in ms; a longer one fails the node at once. */
export const DEFAULT_MAX_RETRY_AFTER_MS = 60_000;
/** LangGraph's defaults for a `RetryPolicy` field left out (1.4.x `_runWithRetry`). */
const LANGGRAPH_DEFAULTS = { maxAttempts: 3, initialInterval: 500, backoffFactor: 2, maxInterval: 128_000 };
/** A policy of one attempt: what `retryPolicy: false` sets on a node (a node without one would get the graph's default). */
export const NO_RETRY: RetryPolicy = { maxAttempts: 1 };
/** How deep `cause` chains are searched for headers. */
const MAX_CAUSE_DEPTH = 8;

/** Plain options of {@link withRetry}; every field is optional. */
export interface RetryOptions {
  /** Attempts of one node, the first included (whole number >= 1). Default {@link DEFAULT_MAX_ATTEMPTS} (3). */
  maxAttempts?: number;
  /** Wait before the first retry, in ms (>= 0). Default {@link DEFAULT_INITIAL_INTERVAL_MS} (500). */
  initialIntervalMs?: number;
  /** Multiplier of the wait after each retry (>= 1). Default 2. */
  backoffFactor?: number;
  /** Longest wait between two attempts, in ms (>= 0). Default {@link DEFAULT_MAX_INTERVAL_MS} (30 000). */
  maxIntervalMs?: number;
  /** Add LangGraph's random 0-1000 ms to each wait. Default true. */
  jitter?: boolean;
  /** Which errors to retry. Default {@link isTransientError}. */
  retryOn?: (error: unknown) => boolean;
  /** Log each retry on the console (LangGraph's `logWarning`). Default false. */
  logWarning?: boolean;
}

/**
 * A LangGraph `RetryPolicy` from plain options (see {@link RetryOptions} for
 * the defaults: 3 attempts, 500 ms doubling up to 30 s, jitter, `retryOn:
 * isTransientError`). `withRetry()` equals {@link DEFAULT_RETRY_POLICY}.
 *
 * @throws {ConfigurationError} naming the first option out of range.
 */
export function withRetry(options: RetryOptions = {}): RetryPolicy {
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  const initialInterval = options.initialIntervalMs ?? DEFAULT_INITIAL_INTERVAL_MS;
  const backoffFactor = options.backoffFactor ?? 2;
  const maxInterval = options.maxIntervalMs ?? DEFAULT_MAX_INTERVAL_MS;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new ConfigurationError("maxAttempts", "a whole number >= 1", options.maxAttempts);
  if (!(initialInterval >= 0) || !Number.isFinite(initialInterval)) throw new ConfigurationError("initialIntervalMs", "a number of ms >= 0", options.initialIntervalMs);
  if (!(backoffFactor >= 1) || !Number.isFinite(backoffFactor)) throw new ConfigurationError("backoffFactor", "a number >= 1", options.backoffFactor);
  if (!(maxInterval >= 0) || !Number.isFinite(maxInterval)) throw new ConfigurationError("maxIntervalMs", "a number of ms >= 0", options.maxIntervalMs);
  return {
    maxAttempts,
    initialInterval,
    backoffFactor,
    maxInterval,
    jitter: options.jitter ?? true,
    retryOn: options.retryOn ?? isTransientError,
    logWarning: options.logWarning ?? false,
  };
}

/**
 * The retry policy `policy` stands for: {@link DEFAULT_RETRY_POLICY} when
 * undefined, none when `false`; a policy without `retryOn` gets
 * {@link isTransientError} (so that {@link retryNode} and LangGraph agree on
 * what is retried).
 */
export function resolveRetryPolicy(policy: RetryPolicy | false | undefined): RetryPolicy | undefined {
  if (policy === false) return undefined;
  if (policy === undefined) return DEFAULT_RETRY_POLICY;
  return policy.retryOn ? policy : { ...policy, retryOn: isTransientError };
}

/**
 * The wait LangGraph sleeps after failed attempt `attempt` (1-based) of a node
 * with `policy`, jitter excluded, in ms.
 */
export function backoffIntervalMs(policy: RetryPolicy, attempt: number): number {
  const initial = policy.initialInterval ?? LANGGRAPH_DEFAULTS.initialInterval;
  const factor = policy.backoffFactor ?? LANGGRAPH_DEFAULTS.backoffFactor;
  const max = policy.maxInterval ?? LANGGRAPH_DEFAULTS.maxInterval;
  return Math.min(max, initial * factor ** (attempt - 1));
}

function headerOf(headers: unknown, name: string): string | undefined {
  if (!headers || typeof headers !== "object") return undefined;
  const h = headers as { get?: (n: string) => unknown } & Record<string, unknown>;
  if (typeof h.get === "function") {
    const v = h.get(name);
    if (v !== null && v !== undefined) return String(v);
  }
  for (const [key, value] of Object.entries(h)) {
    if (key.toLowerCase() === name && value !== undefined && value !== null) return String(Array.isArray(value) ? value[0] : value);
  }
  return undefined;
}

/**
 * How long `error` asks to wait before the next attempt, in ms, from its
 * `retry-after-ms` header (ms, OpenAI's) or `Retry-After` header (delay in
 * seconds, or an HTTP date, counted from `now`). Headers are looked for on
 * `error.headers`, `error.response.headers` and `error.error.headers` (plain
 * objects or `Headers`), then along the `cause` chain. Undefined when there is
 * none or it cannot be read; a date in the past gives 0.
 *
 * @param now - The current time, in ms since the epoch (a fake clock in tests).
 */
export function retryAfterMs(error: unknown, now: number = Date.now()): number | undefined {
  let current: unknown = error;
  for (let depth = 0; current && typeof current === "object" && depth <= MAX_CAUSE_DEPTH; depth++) {
    const e = current as { headers?: unknown; response?: { headers?: unknown }; error?: { headers?: unknown }; cause?: unknown };
    for (const headers of [e.headers, e.response?.headers, e.error?.headers]) {
      const ms = headerOf(headers, "retry-after-ms");
      if (ms !== undefined && /^\s*\d+(\.\d+)?\s*$/.test(ms)) return Number(ms);
      const value = headerOf(headers, "retry-after");
      if (value === undefined) continue;
      if (/^\s*\d+(\.\d+)?\s*$/.test(value)) return Number(value) * 1000;
      const date = Date.parse(value);
      if (!Number.isNaN(date)) return Math.max(0, date - now);
    }
    current = e.cause;
  }
  return undefined;
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

/** Runs `run` with `config.signal` combined with a timeout of `ms` (LangGraph's `NodeTimeoutError`). */
async function withAttemptTimeout<T>(run: (config: LangGraphRunnableConfig) => Promise<T>, config: LangGraphRunnableConfig, ms: number | undefined, node: string): Promise<T> {
  if (!ms) return run(config);
  const controller = new AbortController();
  const signal = config.signal ? AbortSignal.any([config.signal, controller.signal]) : controller.signal;
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new NodeTimeoutError({ node, elapsed: Date.now() - started, kind: "run", runTimeout: ms });
      controller.abort(error);
      reject(error);
    }, ms);
  });
  try {
    return await Promise.race([run({ ...config, signal }), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Wraps node function `fn` (any node input: a state or a `Send` payload) so
 * that Retry-After is honoured by LangGraph's retry loop, and applies
 * `timeoutMs` to each attempt of `fn` itself.
 *
 * When an attempt fails and LangGraph will retry it (`retryOn(error)` and
 * attempts left, read from `config.executionInfo.nodeAttempt`), and the error
 * carries a Retry-After ({@link retryAfterMs}) longer than LangGraph's interval
 * for that attempt ({@link backoffIntervalMs}), the wrapper sleeps the
 * difference before rethrowing, so the next attempt starts no sooner than
 * Retry-After after the failure. A Retry-After above `maxRetryAfterMs` is
 * thrown as {@link RetryAfterTooLongError} (not retried). Interrupts and other
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
  const policy = options.policy;
  return async (input, config) => {
    try {
      return await withAttemptTimeout(async (c) => fn(input, c), config, options.timeoutMs, name);
    } catch (error) {
      if (!policy || isGraphBubbleUp(error)) throw error;
      const attempt = config.executionInfo?.nodeAttempt ?? 1;
      const maxAttempts = policy.maxAttempts ?? LANGGRAPH_DEFAULTS.maxAttempts;
      const retryOn = policy.retryOn ?? isTransientError;
      if (attempt >= maxAttempts || !retryOn(error)) throw error;
      const asked = retryAfterMs(error, clock.now());
      if (asked === undefined) throw error;
      if (asked > maxRetryAfter) throw new RetryAfterTooLongError(name, asked, maxRetryAfter, error);
      const remaining = asked - backoffIntervalMs(policy, attempt);
      if (remaining > 0) await clock.sleep(remaining, config.signal);
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
 * (default {@link DEFAULT_RETRY_POLICY}; `false`: {@link NO_RETRY}, one
 * attempt) set on the node, and `policy.timeoutMs` per attempt, through
 * {@link retryNode} (Retry-After honoured). `extra` is passed to `addNode` (`errorHandler`, `ends`, ...); an
 * `extra.retryPolicy` replaces the node's policy.
 *
 * @returns `graph`, for chaining.
 */
export function addPolicyNode(graph: BuiltGraph, name: string, fn: (input: any, config: LangGraphRunnableConfig) => unknown, policy: NodePolicyOptions = {}, extra: Record<string, unknown> = {}): BuiltGraph {
  const retryPolicy = "retryPolicy" in extra ? (extra.retryPolicy as RetryPolicy | undefined) : resolveRetryPolicy(policy.retryPolicy);
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

/**
 * The `fallback` option (as in the orchestration builders of `policies.ts`):
 * what a node that still fails after its retries writes instead; gets the
 * error, the node's input state and the node's name.
 */
export type FallbackFn<S> = (error: Error, state: S, node: string) => Partial<S> | Promise<Partial<S>>;

/** Options of {@link buildRetry}. */
export interface RetryGraphOptions<S> extends GraphSchemas, NodePolicyOptions {
  /** The step to retry: node name and function. */
  step: { name: string; run: NodeFn<S> };
  /**
   * What the step writes instead when its attempts run out (the run then
   * ends normally). Default: none, the last error fails the run.
   */
  fallback?: FallbackFn<S>;
}

/**
 * Builds the retry pattern as a graph: `START -> step -> END`, the step retried
 * by LangGraph with `retryPolicy` (default {@link DEFAULT_RETRY_POLICY}; build
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
