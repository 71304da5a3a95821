/**
 * The HTTP transport under ChatOpenAI (its `configuration.fetch`): every
 * request to the provider goes through {@link resilientFetch}, which
 *
 * - waits for rate-limit capacity before each request (`rateLimit.ts`: RPM,
 *   TPM, learnt limits, adaptive concurrency), and tells the limiter how each
 *   request went; a request waiting out a backoff holds no concurrency slot;
 * - times each request out with a timer it clears (`withTimeout`,
 *   `runtime/retry.ts`): the configured `timeoutMs`, or less once the model's
 *   latency is known (see {@link LatencyWindow});
 * - retries HTTP 408/409/429/5xx (`RETRIABLE_STATUSES`), timeouts, connection
 *   resets and bodies cut short, with exponential backoff and full jitter (a
 *   delay drawn uniformly from 0 to min(cap, base x 2^attempt)), never shorter
 *   than the server's Retry-After; never retries 400/401/403/404/422, an
 *   `insufficient_quota` 429 or a Retry-After over a minute;
 * - fails at once, naming the URL, when nothing listens there (connection
 *   refused, unknown host): {@link ProviderUnreachableError};
 * - throws {@link ProviderRequestError} once `maxAttempts` requests failed.
 *
 * **The request budget.** One model call makes at most `maxAttempts`
 * (`maxRetries` + 1, default 8) HTTP requests, whatever the faults: the OpenAI
 * client's own retries are off (`maxRetries: 0` on ChatOpenAI, which besides
 * does not retry a 429 without Retry-After, ../shared/STACK.md), and LangGraph's
 * node `retryPolicy` does not retry a {@link ProviderRequestError} (it is one
 * of this library's errors, see `isTransientError`), so the layers do not
 * multiply. A structured-output repair (`structured.ts`) or a fallback model
 * (`fallback.ts`) is another model call with a budget of its own.
 *
 * What the requests of one model call did (how many, the provider's token
 * usage even when the client then fails to parse the answer) is recorded in
 * that call's {@link RequestRecord}, which the factory's models open with
 * {@link withRequestRecord}; nothing is kept between calls.
 *
 * @module
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { countTokens } from "../runtime/text.js";
import { ProviderRequestError, ProviderUnreachableError } from "../runtime/errors.js";
import { DEFAULT_MAX_RETRY_AFTER_MS, RETRIABLE_STATUSES, retryAfterMs, withTimeout } from "../runtime/retry.js";
import type { ModelRateLimiter } from "../runtime/rateLimit.js";

/** Retry and timeout settings of the transport. */
export interface TransportRetry {
  /** Requests per model call, the first included (`maxRetries` + 1). */
  maxAttempts: number;
  /** Backoff base, in ms. */
  baseDelayMs: number;
  /** Longest backoff, in ms. */
  maxDelayMs: number;
  /** Longest time one request may take, in ms (headers and body). */
  timeoutMs: number;
  /** Shorten the timeout from the observed latency (see {@link LatencyWindow}). Default true. */
  adaptiveTimeout?: boolean;
}

/** Backoff base in ms. */
export const DEFAULT_BASE_DELAY_MS = 500;
/** Backoff cap in ms. */
export const DEFAULT_MAX_DELAY_MS = 30_000;
/** Tokens assumed for an answer when estimating a request's TPM cost. */
export const ESTIMATED_COMPLETION_TOKENS = 256;

/** What the requests of one model call did (see the module doc). */
export interface RequestRecord {
  /** HTTP requests made, the first included. */
  requests: number;
  /** Requests stopped by the timeout. */
  timeouts: number;
  /** Token usage the provider reported in the last successful answer (also when the client then failed to parse it). */
  usage?: { inputTokens: number; outputTokens: number };
  /** The model the provider says answered (`model` of the last successful answer). */
  model?: string;
  /** The URL the requests went to. */
  url?: string;
}

const records = new AsyncLocalStorage<RequestRecord>();

/** Runs `call` with a fresh {@link RequestRecord} that the transport fills for the requests `call` makes. */
export function withRequestRecord<T>(record: RequestRecord, call: () => Promise<T>): Promise<T> {
  return records.run(record, call);
}

/** A fresh {@link RequestRecord}. */
export function newRequestRecord(): RequestRecord {
  return { requests: 0, timeouts: 0 };
}

/** Full-jitter backoff for `attempt` (1-based), at least `floorMs`. */
export function backoffMs(attempt: number, retry: Pick<TransportRetry, "baseDelayMs" | "maxDelayMs">, floorMs = 0, random = Math.random): number {
  const cap = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (attempt - 1));
  return Math.max(floorMs, Math.floor(random() * cap));
}

/**
 * Latencies of a model's recent successful requests, and the timeout they
 * suggest: a request running longer than {@link LatencyWindow.FACTOR} times
 * the 95th percentile is most likely hung, not slow. Once
 * {@link LatencyWindow.MIN_SAMPLES} latencies are known, attempt `n` of a
 * call gets `min(timeoutMs, max(MIN_TIMEOUT_MS, FACTOR x p95 x 2^(n-1)))`: a
 * hung request frees its concurrency slot after a few times the usual
 * latency instead of the whole `timeoutMs`, and a call that really takes
 * long gets more time on each retry, up to `timeoutMs`. The deadline of a
 * request in flight is read again as latencies come in (`withTimeout`), so
 * that the first requests of a process, sent before any latency was known,
 * are not left with the whole `timeoutMs`.
 *
 * The 95th percentile, not the 99th: over the 256 latencies kept, the 99th
 * rests on the three slowest, which a burst of load (or the first calls of a
 * process) moves by seconds. The cost: a request cut this way that would
 * have answered is paid for (its prompt, and what the provider generated
 * before the cut) and asked again. By construction 5% of requests take longer
 * than the p95, and a cut needs {@link LatencyWindow.FACTOR} times that.
 */
export class LatencyWindow {
  /** Latencies kept (the most recent). */
  static readonly SIZE = 256;
  /** Latencies needed before the timeout adapts. */
  static readonly MIN_SAMPLES = 8;
  /** Multiple of the 95th percentile after which a first request is cut. */
  static readonly FACTOR = 4;
  /** Shortest adaptive timeout, in ms. */
  static readonly MIN_TIMEOUT_MS = 1_000;
  private readonly samples: number[] = [];
  private next = 0;
  private p95?: number;

  /** Records the latency of a successful request, in ms. */
  add(ms: number): void {
    if (this.samples.length < LatencyWindow.SIZE) this.samples.push(ms);
    else this.samples[this.next] = ms;
    this.next = (this.next + 1) % LatencyWindow.SIZE;
    this.p95 = undefined;
  }

  /** The 95th percentile of the kept latencies, in ms (undefined before {@link MIN_SAMPLES}). */
  percentile95(): number | undefined {
    if (this.samples.length < LatencyWindow.MIN_SAMPLES) return undefined;
    if (this.p95 === undefined) {
      const sorted = [...this.samples].sort((a, b) => a - b);
      this.p95 = sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.95) - 1)];
    }
    return this.p95;
  }

  /** The timeout of attempt `attempt` (1-based) of a call, at most `timeoutMs`. */
  timeoutFor(attempt: number, timeoutMs: number): number {
    const p95 = this.percentile95();
    if (p95 === undefined) return timeoutMs;
    return Math.min(timeoutMs, Math.max(LatencyWindow.MIN_TIMEOUT_MS, Math.ceil(LatencyWindow.FACTOR * p95 * 2 ** (attempt - 1))));
  }
}

function estimateTokens(body: unknown): number {
  if (typeof body !== "string") return ESTIMATED_COMPLETION_TOKENS;
  try {
    // The raw request body (OpenAI's JSON), not LangChain messages: `content` is a string or a list of parts.
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
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The URL of a fetch input, without its query. */
function urlOf(input: Parameters<typeof fetch>[0]): string {
  const raw = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
  return raw.split("?")[0];
}

/** The network error code of a failed fetch (undici puts it on `cause`, or on each of `cause.errors`). */
function networkCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; current && typeof current === "object" && depth < 5; depth++) {
    const e = current as { code?: unknown; cause?: unknown; errors?: unknown[] };
    if (typeof e.code === "string") return e.code;
    if (Array.isArray(e.errors)) {
      const code = e.errors.map(networkCode).find(Boolean);
      if (code) return code;
    }
    current = e.cause;
  }
  return undefined;
}

const UNREACHABLE: Record<string, string> = { ECONNREFUSED: "connection refused (ECONNREFUSED)", ENOTFOUND: "unknown host (ENOTFOUND)" };

/** The error message of an error response body (`{ error: { message, code } }`), and its code. */
function errorBody(text: string): { message?: string; code?: string } {
  try {
    const parsed = JSON.parse(text) as { error?: { message?: unknown; code?: unknown } };
    return { message: typeof parsed.error?.message === "string" ? parsed.error.message : undefined, code: typeof parsed.error?.code === "string" ? parsed.error.code : undefined };
  } catch {
    return {};
  }
}

/** Records the usage and model of a successful JSON answer in the call's record. */
function noteAnswer(record: RequestRecord | undefined, text: string): void {
  if (!record) return;
  try {
    const body = JSON.parse(text) as { usage?: { prompt_tokens?: number; completion_tokens?: number }; model?: string };
    if (body.usage) record.usage = { inputTokens: body.usage.prompt_tokens ?? 0, outputTokens: body.usage.completion_tokens ?? 0 };
    if (typeof body.model === "string") record.model = body.model;
  } catch {
    // Not JSON: the client will say so.
  }
}

type Outcome = { response: Response } | { retry: string; waitMs?: number } | { fail: Error };

/** A fetch for ChatOpenAI with rate limiting, timeouts and retries (see the module doc). */
export function resilientFetch(
  retry: TransportRetry,
  limiterOf?: () => Promise<ModelRateLimiter | undefined>,
  base: typeof fetch = fetch,
): typeof fetch {
  const latency = new LatencyWindow();
  const adaptive = retry.adaptiveTimeout ?? true;
  return async (input, init = {}) => {
    const limiter = await limiterOf?.();
    const tokens = estimateTokens(init.body);
    const callerSignal = init.signal ?? undefined;
    const record = records.getStore();
    const url = urlOf(input);
    if (record) record.url = url;

    const attemptOnce = async (attempt: number): Promise<Outcome> => {
      // Read again while the request runs: the deadline shortens as latencies come in.
      const deadline = adaptive ? () => latency.timeoutFor(attempt, retry.timeoutMs) : retry.timeoutMs;
      const started = performance.now();
      if (record) record.requests++;
      try {
        return await withTimeout(
          async (signal): Promise<Outcome> => {
            const response = await base(input, { ...init, signal });
            if (response.ok) {
              if ((response.headers.get("content-type") ?? "").includes("event-stream")) {
                limiter?.onResponse(response.status, response.headers);
                return { response };
              }
              // Read the whole body here, so that a body cut short is retried like any transport failure.
              const text = await response.text();
              latency.add(performance.now() - started);
              limiter?.onResponse(response.status, response.headers);
              noteAnswer(record, text);
              return { response: new Response(text, { status: response.status, statusText: response.statusText, headers: response.headers }) };
            }
            const text = await response.text().catch(() => "");
            limiter?.onResponse(response.status, response.headers);
            const body = errorBody(text);
            const said = `HTTP ${response.status}${body.message ? ` ${body.message}` : ""}`;
            if (!RETRIABLE_STATUSES.has(response.status) || body.code === "insufficient_quota") {
              // Not worth another try: the client builds its usual error (BadRequestError, ...) from it.
              return { response: new Response(text, { status: response.status, statusText: response.statusText, headers: response.headers }) };
            }
            const asked = retryAfterMs(response.headers);
            if (asked !== undefined && asked > DEFAULT_MAX_RETRY_AFTER_MS) {
              return { fail: new ProviderRequestError(url, attempt, `${said}; the server asks to retry after ${Math.round(asked / 1000)} s, longer than ${DEFAULT_MAX_RETRY_AFTER_MS / 1000} s`, { status: response.status }) };
            }
            return { retry: said, waitMs: asked };
          },
          deadline,
          { signal: callerSignal, timeoutError: () => new DOMException(`no answer within ${Math.round(performance.now() - started)} ms`, "TimeoutError") },
        );
      } catch (error) {
        if (callerSignal?.aborted) throw error;
        limiter?.onNoResponse();
        if ((error as Error)?.name === "TimeoutError") {
          if (record) record.timeouts++;
          return { retry: (error as Error).message };
        }
        const code = networkCode(error);
        if (code && UNREACHABLE[code]) return { fail: new ProviderUnreachableError(url, UNREACHABLE[code], { cause: error }) };
        const cause = (error as { cause?: { message?: unknown } })?.cause?.message;
        return { retry: `${(error as Error)?.message ?? String(error)}${code ? ` (${code})` : typeof cause === "string" ? ` (${cause})` : ""}` };
      }
    };

    for (let attempt = 1; ; attempt++) {
      const outcome = limiter ? await limiter.run(tokens, () => attemptOnce(attempt), callerSignal) : await attemptOnce(attempt);
      if ("response" in outcome) return outcome.response;
      if ("fail" in outcome) throw outcome.fail;
      if (attempt >= retry.maxAttempts) throw new ProviderRequestError(url, attempt, outcome.retry);
      await sleep(backoffMs(attempt, retry, outcome.waitMs ?? 0), callerSignal);
    }
  };
}
