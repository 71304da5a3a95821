/**
 * The HTTP transport under ChatOpenAI (its `configuration.fetch`): every
 * request to the provider goes through {@link resilientFetch}, which
 *
 * - waits for rate-limit capacity (`rateLimit.ts`: RPM, TPM, adaptive concurrency);
 * - times each attempt out (`timeoutMs`);
 * - retries HTTP 408/409/429 (with or without Retry-After) and 5xx, timeouts,
 *   connection resets and bodies cut short, with exponential backoff and full
 *   jitter (a delay drawn uniformly from 0 to min(cap, base x 2^attempt)), never
 *   shorter than the server's Retry-After; never retries 400/401/403/404/422;
 * - counts retries per LangGraph task, for the call log.
 *
 * The OpenAI client's own retries are turned off (`maxRetries: 0`): ChatOpenAI
 * does not retry a 429 without Retry-After (../shared/STACK.md), and two retry
 * layers would multiply attempts. LangGraph's node `retryPolicy` stays the outer
 * layer for whole-node failures.
 *
 * @module
 */
import { AsyncLocalStorageProviderSingleton } from "@langchain/core/singletons";
import { countTokens } from "../runtime/text.js";
import type { ModelRateLimiter } from "../runtime/rateLimit.js";

/** Retry settings of the transport. */
export interface TransportRetry {
  /** Attempts per request, the first included. */
  maxAttempts: number;
  /** Backoff base, in ms. */
  baseDelayMs: number;
  /** Longest backoff, in ms. */
  maxDelayMs: number;
  /** Per-attempt timeout, in ms. */
  timeoutMs: number;
}

/** Attempts per provider request unless configured (`maxRetries` + 1). */
export const DEFAULT_TRANSPORT_ATTEMPTS = 6;
/** Backoff base in ms. */
export const DEFAULT_BASE_DELAY_MS = 500;
/** Backoff cap in ms. */
export const DEFAULT_MAX_DELAY_MS = 30_000;
/** Tokens assumed for an answer when estimating a request's TPM cost. */
export const ESTIMATED_COMPLETION_TOKENS = 256;

const RETRIABLE_STATUS = new Set([408, 409, 429, 500, 502, 503, 504, 529]);

/** Retries made for requests of each LangGraph task (read and cleared by the call log). */
const retriesByTask = new Map<string, number>();

/** The retries the transport made for `taskId` since the last call, then forgets them. */
export function takeTaskRetries(taskId: string | undefined): number {
  if (!taskId) return 0;
  const n = retriesByTask.get(taskId) ?? 0;
  retriesByTask.delete(taskId);
  return n;
}

function currentTask(): string | undefined {
  const config = AsyncLocalStorageProviderSingleton.getRunnableConfig() as { metadata?: Record<string, unknown> } | undefined;
  const ns = config?.metadata?.langgraph_checkpoint_ns;
  return typeof ns === "string" ? ns.split("|").pop()?.split(":")[1] : undefined;
}

/** Milliseconds a response asks to wait (`retry-after-ms`, or `retry-after` in seconds or as an HTTP date). */
export function retryAfterMs(headers: Headers, now = Date.now()): number | undefined {
  const ms = headers.get("retry-after-ms");
  if (ms && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const value = headers.get("retry-after");
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Full-jitter backoff for `attempt` (1-based), at least `floorMs`. */
export function backoffMs(attempt: number, retry: Pick<TransportRetry, "baseDelayMs" | "maxDelayMs">, floorMs = 0, random = Math.random): number {
  const cap = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (attempt - 1));
  return Math.max(floorMs, Math.floor(random() * cap));
}

function estimateTokens(body: unknown): number {
  if (typeof body !== "string") return ESTIMATED_COMPLETION_TOKENS;
  try {
    const parsed = JSON.parse(body) as { messages?: Array<{ content?: unknown }>; max_tokens?: number; max_completion_tokens?: number };
    const prompt = (parsed.messages ?? []).reduce((n, m) => n + countTokens(typeof m.content === "string" ? m.content : JSON.stringify(m.content ?? "")), 0);
    return prompt + (parsed.max_completion_tokens ?? parsed.max_tokens ?? ESTIMATED_COMPLETION_TOKENS);
  } catch {
    return ESTIMATED_COMPLETION_TOKENS;
  }
}

function sleep(ms: number, signal?: AbortSignal | null): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => (clearTimeout(timer), reject(signal.reason)), { once: true });
  });
}

/** A fetch for ChatOpenAI with rate limiting, timeouts and retries (see the module doc). */
export function resilientFetch(
  retry: TransportRetry,
  limiterOf?: () => Promise<ModelRateLimiter | undefined>,
  base: typeof fetch = fetch,
): typeof fetch {
  return async (input, init = {}) => {
    const limiter = await limiterOf?.();
    const tokens = estimateTokens(init.body);
    const callerSignal = init.signal ?? undefined;
    const task = currentTask();
    const attemptOnce = async (): Promise<Response | Error> => {
      const signal = callerSignal ? AbortSignal.any([callerSignal, AbortSignal.timeout(retry.timeoutMs)]) : AbortSignal.timeout(retry.timeoutMs);
      try {
        const response = await base(input, { ...init, signal });
        if (response.ok && !(response.headers.get("content-type") ?? "").includes("event-stream")) {
          // Read the whole body here, so that a body cut short is retried like any transport failure.
          const text = await response.text();
          return new Response(text, { status: response.status, statusText: response.statusText, headers: response.headers });
        }
        return response;
      } catch (error) {
        if (callerSignal?.aborted) throw error;
        return error as Error;
      }
    };
    const run = async (): Promise<Response> => {
      for (let attempt = 1; ; attempt++) {
        const outcome = await attemptOnce();
        const last = attempt >= retry.maxAttempts;
        if (outcome instanceof Response) {
          if (outcome.ok || !RETRIABLE_STATUS.has(outcome.status) || last) {
            if (outcome.ok) limiter?.onSuccess();
            return outcome;
          }
          if (outcome.status === 429) limiter?.onRateLimited();
          const wait = backoffMs(attempt, retry, retryAfterMs(outcome.headers));
          await outcome.body?.cancel().catch(() => {});
          if (task) retriesByTask.set(task, (retriesByTask.get(task) ?? 0) + 1);
          await sleep(wait, callerSignal);
          continue;
        }
        if (last) throw outcome;
        if (task) retriesByTask.set(task, (retriesByTask.get(task) ?? 0) + 1);
        await sleep(backoffMs(attempt, retry), callerSignal);
      }
    };
    return limiter ? limiter.run(tokens, run, callerSignal) : run();
  };
}
