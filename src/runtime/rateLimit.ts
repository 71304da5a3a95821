/**
 * Rate limiting of model calls, per model: requests per minute and tokens per
 * minute (`rate-limiter-flexible`, in memory or in Redis so that several
 * processes and servers share one budget), learnt limits, and an adaptive
 * concurrency limit. Callers wait for capacity instead of sending a burst
 * that the provider would refuse: fan-outs queue.
 *
 * - **Configured limits**: `rpm` / `tpm` (see `models/configuration.ts`), each
 *   a per-minute cap plus a per-second share of it, so that the minute's
 *   budget is spread out (a provider counting a sliding minute refuses a
 *   burst).
 * - **Learnt limits**: without a configured one, the limit a response
 *   announces (`x-ratelimit-limit-requests`, `x-ratelimit-limit-tokens`, as
 *   OpenAI and compatible servers send) becomes the limit, the same way. A
 *   response saying the budget is spent (`x-ratelimit-remaining-* : 0` with
 *   `x-ratelimit-reset-*`), or a 429 that carries rate-limit headers and a
 *   Retry-After, holds every caller of the model until then, instead of each
 *   one finding out with a 429 of its own.
 * - **Adaptive concurrency** (additive increase, multiplicative decrease, per
 *   window): the limit starts at `maxConcurrency` (default
 *   {@link DEFAULT_MAX_CONCURRENCY}); after each window of as many completed
 *   requests as the limit, it halves when more than
 *   {@link OVERLOAD_SHARE} of them were refused with 429, and grows back by a
 *   quarter (at least one) when at most {@link CLEAN_SHARE} were. A 429 now
 *   and then (a provider's random refusals) does not move it, a burst of them
 *   does, and it recovers once they stop.
 *
 * @module
 */
import pLimit, { type LimitFunction } from "p-limit";
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";
import { ConfigurationError } from "./errors.js";
import { retryAfterMs } from "./retry.js";

/** Limits of one model. */
export interface RateLimits {
  /** Requests per minute (undefined: none configured; a limit the provider announces is learnt). */
  rpm?: number;
  /** Tokens per minute, prompt and completion (undefined: none configured; learnt like `rpm`). */
  tpm?: number;
  /** Most calls in flight at once; the adaptive limit never goes above it. Default {@link DEFAULT_MAX_CONCURRENCY}. */
  maxConcurrency?: number;
  /** Redis URL (e.g. redis://127.0.0.1:6379) to share the RPM/TPM budget across processes. */
  redisUrl?: string;
}

/** Calls in flight per model unless the settings say otherwise. */
export const DEFAULT_MAX_CONCURRENCY = 64;
/** Share of a window's requests refused with 429 above which the concurrency halves. */
export const OVERLOAD_SHARE = 0.25;
/** Share of a window's requests refused with 429 at or below which the concurrency grows. */
export const CLEAN_SHARE = 0.05;
/** Longest single wait for rate-limit capacity before trying again, in ms. */
const MAX_WAIT_SLICE_MS = 5_000;

/** `x-ratelimit-reset-*` durations: `1s`, `6m0s`, `250ms`, `1.5s`, or plain seconds. */
export function parseResetMs(value: string | null | undefined): number | undefined {
  if (!value) return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  let total = 0;
  let matched = false;
  for (const [, n, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)) {
    matched = true;
    total += Number(n) * (unit === "ms" ? 1 : unit === "s" ? 1000 : unit === "m" ? 60_000 : 3_600_000);
  }
  return matched ? total : undefined;
}

const positiveInt = (value: string | null): number | undefined => {
  if (value === null || !/^\s*\d+\s*$/.test(value)) return undefined;
  const n = Number(value);
  return n > 0 ? n : undefined;
};

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
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

/** Waits for capacity before each request to one model (see the module doc). */
export class ModelRateLimiter {
  private rpm?: RateLimiterAbstract;
  private rps?: RateLimiterAbstract;
  private tpm?: RateLimiterAbstract;
  private tps?: RateLimiterAbstract;
  private readonly slots: LimitFunction;
  private readonly ceiling: number;
  private window = { completed: 0, limited: 0 };
  private pausedUntil = 0;
  /** Requests per minute in force: configured, else learnt, else none. */
  requestsPerMinute?: number;
  /** Tokens per minute in force: configured, else learnt, else none. */
  tokensPerMinute?: number;
  /** Times the concurrency was halved. */
  backoffs = 0;

  constructor(
    readonly key: string,
    private readonly limits: RateLimits,
    private readonly redis?: unknown,
  ) {
    this.ceiling = limits.maxConcurrency ?? DEFAULT_MAX_CONCURRENCY;
    this.slots = pLimit(this.ceiling);
    if (limits.rpm) this.setRequestLimit(limits.rpm);
    if (limits.tpm) this.setTokenLimit(limits.tpm);
  }

  private make(points: number, duration: number, name: string): RateLimiterAbstract {
    const options = { points, duration, keyPrefix: `llmw:${name}:${this.key}` };
    return this.redis ? new RateLimiterRedis({ storeClient: this.redis, ...options }) : new RateLimiterMemory(options);
  }

  // A per-minute cap, plus a per-second share of it so that the minute's budget is spread out.
  private setRequestLimit(rpm: number): void {
    this.requestsPerMinute = rpm;
    this.rpm = this.make(rpm, 60, "rpm");
    this.rps = this.make(Math.max(1, Math.floor(rpm / 60)), 1, "rps");
  }

  private setTokenLimit(tpm: number): void {
    this.tokensPerMinute = tpm;
    this.tpm = this.make(tpm, 60, "tpm");
    this.tps = this.make(Math.max(1, Math.floor(tpm / 60)), 1, "tps");
  }

  /** Current concurrency limit. */
  get concurrency(): number {
    return this.slots.concurrency;
  }

  private async consume(limiter: RateLimiterAbstract | undefined, points: number, signal?: AbortSignal): Promise<void> {
    if (!limiter || points <= 0) return;
    const max = (limiter as unknown as { points: number }).points;
    const want = Math.min(points, max);
    for (;;) {
      signal?.throwIfAborted();
      try {
        await limiter.consume("calls", want);
        return;
      } catch (e) {
        if (!(e instanceof RateLimiterRes)) throw e;
        await sleep(Math.min(MAX_WAIT_SLICE_MS, Math.max(10, e.msBeforeNext)), signal);
      }
    }
  }

  /**
   * Runs `call` (one request) once there is room: a concurrency slot, no hold
   * in force, one request of the RPM budget and `tokens` of the TPM budget.
   */
  async run<T>(tokens: number, call: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return this.slots(async () => {
      for (let wait = this.pausedUntil - Date.now(); wait > 0; wait = this.pausedUntil - Date.now()) await sleep(Math.min(wait, MAX_WAIT_SLICE_MS), signal);
      await this.consume(this.rps, 1, signal);
      await this.consume(this.rpm, 1, signal);
      await this.consume(this.tps, tokens, signal);
      await this.consume(this.tpm, tokens, signal);
      return call();
    });
  }

  /** Holds every request of this model until `ms` from now. */
  private holdFor(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, Date.now() + ms);
  }

  /**
   * Learns from a response (its HTTP status and headers): the limits it
   * announces, a spent budget, and, for the adaptive concurrency, whether it
   * was refused with 429 (see the module doc).
   */
  onResponse(status: number, headers?: Headers): void {
    if (headers) this.learn(status, headers);
    this.window.completed++;
    if (status === 429) this.window.limited++;
    if (this.window.completed < this.slots.concurrency) return;
    const share = this.window.limited / this.window.completed;
    this.window = { completed: 0, limited: 0 };
    if (share > OVERLOAD_SHARE) {
      this.backoffs++;
      this.slots.concurrency = Math.max(1, Math.floor(this.slots.concurrency / 2));
    } else if (share <= CLEAN_SHARE && this.slots.concurrency < this.ceiling) {
      this.slots.concurrency = Math.min(this.ceiling, this.slots.concurrency + Math.max(1, Math.floor(this.slots.concurrency / 4)));
    }
  }

  /** Records a request that got no response (a reset, a timeout): it ends a window's request like any other. */
  onNoResponse(): void {
    this.onResponse(0);
  }

  private learn(status: number, headers: Headers): void {
    const rpm = positiveInt(headers.get("x-ratelimit-limit-requests"));
    const tpm = positiveInt(headers.get("x-ratelimit-limit-tokens"));
    if (rpm && !this.limits.rpm && rpm !== this.requestsPerMinute) this.setRequestLimit(rpm);
    if (tpm && !this.limits.tpm && tpm !== this.tokensPerMinute) this.setTokenLimit(tpm);
    for (const kind of ["requests", "tokens"]) {
      if (headers.get(`x-ratelimit-remaining-${kind}`)?.trim() !== "0") continue;
      const reset = parseResetMs(headers.get(`x-ratelimit-reset-${kind}`));
      if (reset !== undefined) this.holdFor(reset);
    }
    if (status === 429 && (rpm || tpm)) {
      const wait = retryAfterMs(headers);
      if (wait !== undefined) this.holdFor(wait);
    }
  }
}

const limiters = new Map<string, ModelRateLimiter>();
const redisClients = new Map<string, Promise<unknown>>();

async function redisClient(url: string): Promise<unknown> {
  let client = redisClients.get(url);
  if (!client) {
    client = (async () => {
      const { Redis } = await import("ioredis");
      const redis = new Redis(url, { enableOfflineQueue: true, maxRetriesPerRequest: 3, lazyConnect: false });
      redis.on("error", () => {
        // Reconnects by itself; a call made meanwhile fails and is retried by its caller.
      });
      return redis;
    })();
    redisClients.set(url, client);
  }
  return client;
}

/**
 * The limiter of a model, shared by every call of this process with the same
 * key and limits (and, with `redisUrl`, by every process using that Redis).
 * @throws {ConfigurationError} for a non-positive limit.
 */
export async function limiterFor(key: string, limits: RateLimits): Promise<ModelRateLimiter> {
  for (const [name, value] of Object.entries({ rpm: limits.rpm, tpm: limits.tpm, maxConcurrency: limits.maxConcurrency })) {
    if (value !== undefined && !(Number.isInteger(value) && value > 0)) throw new ConfigurationError(name, "a whole number above 0", value);
  }
  const id = `${key}|${limits.rpm ?? ""}|${limits.tpm ?? ""}|${limits.maxConcurrency ?? ""}|${limits.redisUrl ?? ""}`;
  let limiter = limiters.get(id);
  if (!limiter) {
    limiter = new ModelRateLimiter(key, limits, limits.redisUrl ? await redisClient(limits.redisUrl) : undefined);
    limiters.set(id, limiter);
  }
  return limiter;
}

/** Closes the Redis connections opened for limiters (tests, scripts). */
export async function closeRateLimiters(): Promise<void> {
  for (const client of redisClients.values()) await ((await client) as { quit(): Promise<unknown> }).quit();
  redisClients.clear();
  limiters.clear();
}
