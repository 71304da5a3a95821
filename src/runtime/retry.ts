/**
 * The one place for what retries and timeouts share, in the transport
 * (`models/transport.ts`) and in the graph builders:
 *
 * - {@link RETRIABLE_STATUSES}, the HTTP statuses worth another try;
 * - {@link retryAfterMs}, the one `Retry-After` / `retry-after-ms` parser;
 * - {@link isTransientError}, the `retryOn` of every retry policy this library
 *   sets, and {@link resolveRetryPolicy} / {@link willRetry}, the one
 *   "will LangGraph run this node again?" check;
 * - {@link withTimeout}, the one timeout helper (a cleared timer, so that it
 *   always fires).
 *
 * **Two layers, one budget.** A model request is retried by the transport
 * (HTTP 408/409/429/5xx, timeouts, resets, bodies cut short), up to the
 * model's `maxRetries` + 1 requests. When those are spent, the error that
 * reaches the node is a `ProviderRequestError` (one of this library's own
 * errors), which {@link isTransientError} never retries: LangGraph's node
 * `retryPolicy` re-runs a node for what the transport does not handle (a
 * model without the transport, a tool, a node timeout), so the two layers do
 * not multiply.
 *
 * **LangGraph's defaults.** {@link DEFAULT_RETRY_POLICY} sets `maxAttempts`,
 * `retryOn` and `logWarning` only: the intervals are LangGraph's own defaults
 * (500 ms, doubled after each attempt, at most 128 s, plus 0-1 s of jitter in
 * 1.4.18). LangGraph does not export its default `retryOn` handler
 * (`DEFAULT_RETRY_ON_HANDLER` is private to `dist/pregel/retry.js` in
 * 1.4.18), so a policy of this library always carries its own `retryOn`
 * ({@link resolveRetryPolicy}), and LangGraph and {@link willRetry} read the
 * same function.
 *
 * @module
 */
import type { RetryPolicy } from "@langchain/langgraph";
import { LlmWorkflowsError } from "./errors.js";

/** Attempts of one node, the first included (LangGraph's default too). */
export const DEFAULT_MAX_ATTEMPTS = 3;

/**
 * Longest `Retry-After` honoured, in ms (by the transport and by the retry
 * pattern's `retryNode`); a longer one fails at once instead of waiting.
 */
export const DEFAULT_MAX_RETRY_AFTER_MS = 60_000;

/**
 * HTTP statuses worth retrying: 408 (request timeout), 409 (conflict), 429
 * (rate limit, with or without Retry-After), 500, 502, 503, 504 and 529
 * (overloaded). Never 400/401/403/404/422: the same request would fail again.
 */
export const RETRIABLE_STATUSES: ReadonlySet<number> = new Set([408, 409, 429, 500, 502, 503, 504, 529]);

/**
 * Network error codes a node is retried for (a dropped, reset or refused
 * connection, a DNS hiccup). The model transport does not retry a refused
 * connection: it fails at once naming the URL (`models/transport.ts`).
 */
export const RETRIABLE_NETWORK_CODES: ReadonlySet<string> = new Set(["ECONNRESET", "ECONNREFUSED", "ETIMEDOUT", "EPIPE", "EAI_AGAIN", "UND_ERR_SOCKET", "UND_ERR_CONNECT_TIMEOUT"]);

/** How deep `cause` chains are followed (a chain may loop). */
const MAX_CAUSE_DEPTH = 8;

type HeaderSource = Headers | Record<string, unknown>;

function headerOf(headers: unknown, name: string): string | undefined {
  if (!headers || typeof headers !== "object") return undefined;
  const h = headers as { get?: (n: string) => unknown } & Record<string, unknown>;
  if (typeof h.get === "function") {
    const v = h.get(name);
    return v === null || v === undefined ? undefined : String(v);
  }
  for (const [key, value] of Object.entries(h)) {
    if (key.toLowerCase() === name && value !== undefined && value !== null) return String(Array.isArray(value) ? value[0] : value);
  }
  return undefined;
}

const NUMBER = /^\s*\d+(\.\d+)?\s*$/;

function fromHeaders(headers: unknown, now: number): number | undefined {
  const ms = headerOf(headers, "retry-after-ms");
  if (ms !== undefined && NUMBER.test(ms)) return Number(ms);
  const value = headerOf(headers, "retry-after");
  if (value === undefined) return undefined;
  if (NUMBER.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * How long a response or an error asks to wait before the next attempt, in
 * ms: its `retry-after-ms` header (ms, OpenAI's), else its `Retry-After`
 * header (seconds, or an HTTP date counted from `now`). `source` is a
 * `Headers`, a plain header object, or an error: headers are looked for on
 * `error.headers`, `error.response.headers` and `error.error.headers`, then
 * along the `cause` chain. Undefined when there is none or it cannot be read;
 * a date in the past gives 0.
 *
 * @param now - The current time in ms since the epoch (a fake clock in tests).
 */
export function retryAfterMs(source: HeaderSource | unknown, now: number = Date.now()): number | undefined {
  if (typeof Headers !== "undefined" && source instanceof Headers) return fromHeaders(source, now);
  let current: unknown = source;
  for (let depth = 0; current && typeof current === "object" && depth <= MAX_CAUSE_DEPTH; depth++) {
    const e = current as { headers?: unknown; response?: { headers?: unknown }; error?: { headers?: unknown }; cause?: unknown };
    if (!(current instanceof Error) && depth === 0 && !("headers" in e) && !("response" in e)) return fromHeaders(current, now);
    for (const headers of [e.headers, e.response?.headers, e.error?.headers]) {
      const ms = fromHeaders(headers, now);
      if (ms !== undefined) return ms;
    }
    current = e.cause;
  }
  return undefined;
}

/**
 * Whether `error` is worth running the node again: an HTTP status in
 * {@link RETRIABLE_STATUSES}, a timeout (LangGraph's `NodeTimeoutError`
 * included), a dropped connection ({@link RETRIABLE_NETWORK_CODES}). Never an
 * abort, a 400/401/403/404, or one of this library's own errors (bad input,
 * schema mismatch, a budget, and `ProviderRequestError`: a model request whose
 * transport retries are spent). The `retryOn` of {@link DEFAULT_RETRY_POLICY}.
 */
export function isTransientError(error: unknown, depth = 0): boolean {
  if (!(error instanceof Error) || depth > MAX_CAUSE_DEPTH) return false;
  if (error instanceof LlmWorkflowsError) return false;
  if (error.name === "AbortError" || error.message.startsWith("Abort") || error.message.startsWith("Cancel")) return false;
  const e = error as Error & { status?: number; code?: string; response?: { status?: number }; cause?: unknown };
  const status = e.status ?? e.response?.status;
  if (typeof status === "number") return RETRIABLE_STATUSES.has(status);
  if (e.name === "NodeTimeoutError" || e.name === "TimeoutError" || /timed? ?out/i.test(e.message)) return true;
  if (e.name === "RateLimitCapacityError" || e.name === "APIConnectionError" || e.name === "APIConnectionTimeoutError") return true;
  if (e.code && RETRIABLE_NETWORK_CODES.has(e.code)) return true;
  return e.cause instanceof Error ? isTransientError(e.cause, depth + 1) : false;
}

/**
 * Default retry policy of every node a builder adds: {@link DEFAULT_MAX_ATTEMPTS}
 * attempts, {@link isTransientError}, no console line per retry; LangGraph's
 * own default intervals (see the module doc).
 */
export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  maxAttempts: DEFAULT_MAX_ATTEMPTS,
  retryOn: isTransientError,
  logWarning: false,
});

/** A retry policy whose `maxAttempts` and `retryOn` are set (what {@link resolveRetryPolicy} returns). */
export type ResolvedRetryPolicy = RetryPolicy & { maxAttempts: number; retryOn: (error: any) => boolean };

/**
 * The policy a builder's `retryPolicy` option stands for: {@link DEFAULT_RETRY_POLICY}
 * when undefined, none when `false`; a policy given without `maxAttempts` or
 * `retryOn` gets {@link DEFAULT_MAX_ATTEMPTS} and {@link isTransientError}.
 * Pass the result to `addNode`, so that LangGraph and {@link willRetry} apply
 * the same policy.
 */
export function resolveRetryPolicy(policy: RetryPolicy | false | undefined): ResolvedRetryPolicy | undefined {
  if (policy === false) return undefined;
  const given = policy ?? DEFAULT_RETRY_POLICY;
  return { ...given, maxAttempts: given.maxAttempts ?? DEFAULT_MAX_ATTEMPTS, retryOn: given.retryOn ?? isTransientError };
}

/**
 * Whether LangGraph will run a node with `policy` again after `error` ended
 * attempt `attempt` (1-based, `config.executionInfo.nodeAttempt`): attempts
 * left and `retryOn(error)`, as LangGraph 1.4's retry loop decides.
 */
export function willRetry(policy: ResolvedRetryPolicy | undefined, error: unknown, attempt: number): boolean {
  return policy !== undefined && attempt < policy.maxAttempts && policy.retryOn(error);
}

/** How often a deadline given as a function is read again, in ms (see {@link withTimeout}). */
const DEADLINE_RECHECK_MS = 1_000;

/**
 * Runs `run` with an abort signal of its own that aborts when `options.signal`
 * does, or `ms` milliseconds after the start with `options.timeoutError()`;
 * the returned promise then rejects with that error even if `run` ignores its
 * signal. The timer is an ordinary `setTimeout` cleared when `run` settles:
 * unlike `AbortSignal.any([signal, AbortSignal.timeout(ms)])`, nothing can
 * garbage-collect it before it fires. `ms` undefined or 0: no timeout.
 *
 * `ms` may be a function, read at the start and again at least every second
 * while `run` is pending, for a deadline that can move while `run` runs (the
 * transport's latency-derived timeout becomes known, or shorter, as other
 * requests answer); the time counts from the start either way.
 *
 * @throws the error of `run`, `options.timeoutError()` at the deadline, or the
 *   parent signal's reason when it aborts first.
 */
export async function withTimeout<T>(
  run: (signal: AbortSignal) => Promise<T> | T,
  ms: number | (() => number) | undefined,
  options: { signal?: AbortSignal | null; timeoutError: () => Error },
): Promise<T> {
  const parent = options.signal ?? undefined;
  const controller = new AbortController();
  const forward = () => controller.abort(parent!.reason);
  if (parent?.aborted) controller.abort(parent.reason);
  else parent?.addEventListener("abort", forward, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const stopped = new Promise<never>((_, reject) => {
    const fail = () => reject(controller.signal.reason);
    if (controller.signal.aborted) fail();
    else controller.signal.addEventListener("abort", fail, { once: true });
  });
  const started = performance.now();
  const arm = () => {
    const limit = typeof ms === "function" ? ms() : ms;
    if (!limit) return;
    if (typeof ms !== "function") {
      // A fixed deadline fires once, when its timer does: Node's timer clock can run a fraction of a
      // millisecond ahead of performance.now(), and a re-check would then push this deadline behind
      // a later one armed for the same time (two services with the same timeout would fire out of order).
      timer = setTimeout(() => controller.abort(options.timeoutError()), limit);
      return;
    }
    const left = limit - (performance.now() - started);
    if (left <= 0) controller.abort(options.timeoutError());
    else timer = setTimeout(arm, typeof ms === "function" ? Math.min(left, DEADLINE_RECHECK_MS) : left);
  };
  arm();
  try {
    return await Promise.race([Promise.resolve().then(() => run(controller.signal)), stopped]);
  } finally {
    clearTimeout(timer);
    parent?.removeEventListener("abort", forward);
  }
}
