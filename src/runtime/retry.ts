/**
 * The retry policy model-calling nodes get unless a builder is told otherwise:
 * LangGraph's `retryPolicy` (exponential backoff with jitter) with a `retryOn`
 * that retries what a provider does transiently and nothing a user caused.
 *
 * @module
 */
import type { RetryPolicy } from "@langchain/langgraph";
import { LlmWorkflowsError } from "./errors.js";

/** Attempts of one node, the first included. */
export const DEFAULT_MAX_ATTEMPTS = 3;
/** Wait before the first retry, in ms (LangGraph's default). */
export const DEFAULT_INITIAL_INTERVAL_MS = 500;
/** Longest wait between two attempts, in ms. */
export const DEFAULT_MAX_INTERVAL_MS = 30_000;

const RETRIABLE_STATUS = new Set([408, 409, 429, 500, 502, 503, 504, 529]);
/** How deep `cause` chains are followed (a chain may loop). */
const MAX_CAUSE_DEPTH = 8;
const RETRIABLE_CODES = new Set(["ECONNRESET", "ECONNREFUSED", "ETIMEDOUT", "EPIPE", "EAI_AGAIN", "UND_ERR_SOCKET"]);

/**
 * Whether `error` is worth retrying: HTTP 408/409/429/500/502/503/504/529 (429 with or without
 * Retry-After), timeouts and dropped connections. Never a 400/401/403/404, an
 * abort, or one of this library's own errors (bad input, schema mismatch).
 */
export function isTransientError(error: unknown, depth = 0): boolean {
  if (!(error instanceof Error) || depth > MAX_CAUSE_DEPTH) return false;
  if (error instanceof LlmWorkflowsError) return false;
  if (error.name === "AbortError" || error.message.startsWith("Abort") || error.message.startsWith("Cancel")) return false;
  const e = error as Error & { status?: number; code?: string; response?: { status?: number }; cause?: unknown };
  const status = e.status ?? e.response?.status;
  if (typeof status === "number") return RETRIABLE_STATUS.has(status);
  if (e.name === "NodeTimeoutError" || e.name === "TimeoutError" || /timed? ?out/i.test(e.message)) return true;
  if (e.name === "RateLimitCapacityError" || e.name === "APIConnectionError" || e.name === "APIConnectionTimeoutError") return true;
  if (e.code && RETRIABLE_CODES.has(e.code)) return true;
  return e.cause instanceof Error ? isTransientError(e.cause, depth + 1) : false;
}

/** Default retry policy of model-calling nodes. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: DEFAULT_MAX_ATTEMPTS,
  initialInterval: DEFAULT_INITIAL_INTERVAL_MS,
  backoffFactor: 2,
  maxInterval: DEFAULT_MAX_INTERVAL_MS,
  jitter: true,
  retryOn: isTransientError,
  logWarning: false,
};
