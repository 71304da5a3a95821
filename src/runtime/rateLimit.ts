/**
 * Rate limiting of model calls, per model: requests per minute and tokens per
 * minute (`rate-limiter-flexible`, in memory or in Redis so that several
 * processes and servers share one budget), and an adaptive concurrency limit
 * that halves on a 429 and grows back by one after as many successes as the
 * current limit (additive increase, multiplicative decrease). Callers wait for
 * capacity instead of sending a burst that the provider would refuse: fan-outs
 * queue.
 *
 * @module
 */
import pLimit, { type LimitFunction } from "p-limit";
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";
import { ConfigurationError } from "./errors.js";

/** Limits of one model. */
export interface RateLimits {
  /** Requests per minute (undefined: no limit). */
  rpm?: number;
  /** Tokens per minute, prompt and completion (undefined: no limit). */
  tpm?: number;
  /** Most calls in flight at once; the adaptive limit never goes above it. Default {@link DEFAULT_MAX_CONCURRENCY}. */
  maxConcurrency?: number;
  /** Redis URL (e.g. redis://127.0.0.1:6379) to share the RPM/TPM budget across processes. */
  redisUrl?: string;
}

/** Calls in flight per model unless the settings say otherwise. */
export const DEFAULT_MAX_CONCURRENCY = 64;
/** Longest single wait for rate-limit capacity before trying again, in ms. */
const MAX_WAIT_SLICE_MS = 5_000;

/** Waits for capacity before each call of one model (see the module doc). */
export class ModelRateLimiter {
  private readonly rpm?: RateLimiterAbstract;
  private readonly rps?: RateLimiterAbstract;
  private readonly tpm?: RateLimiterAbstract;
  private readonly tps?: RateLimiterAbstract;
  private readonly slots: LimitFunction;
  private readonly ceiling: number;
  private successes = 0;
  /** 429s seen (each halves the concurrency). */
  backoffs = 0;

  constructor(
    readonly key: string,
    limits: RateLimits,
    redis?: unknown,
  ) {
    this.ceiling = limits.maxConcurrency ?? DEFAULT_MAX_CONCURRENCY;
    this.slots = pLimit(this.ceiling);
    const make = (points: number, duration: number, name: string) =>
      redis
        ? new RateLimiterRedis({ storeClient: redis, points, duration, keyPrefix: `llmw:${name}:${key}` })
        : new RateLimiterMemory({ points, duration, keyPrefix: `llmw:${name}:${key}` });
    // A per-minute cap, plus a per-second share of it so that the minute's budget
    // is spread out: a provider counting a sliding minute would refuse a burst.
    if (limits.rpm) {
      this.rpm = make(limits.rpm, 60, "rpm");
      this.rps = make(Math.max(1, Math.floor(limits.rpm / 60)), 1, "rps");
    }
    if (limits.tpm) {
      this.tpm = make(limits.tpm, 60, "tpm");
      this.tps = make(Math.max(1, Math.floor(limits.tpm / 60)), 1, "tps");
    }
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
        await new Promise((r) => setTimeout(r, Math.min(MAX_WAIT_SLICE_MS, Math.max(10, e.msBeforeNext))));
      }
    }
  }

  /**
   * Runs `call` once there is room: a concurrency slot, one request of the RPM
   * budget and `tokens` of the TPM budget.
   */
  async run<T>(tokens: number, call: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return this.slots(async () => {
      await this.consume(this.rps, 1, signal);
      await this.consume(this.rpm, 1, signal);
      await this.consume(this.tps, tokens, signal);
      await this.consume(this.tpm, tokens, signal);
      return call();
    });
  }

  /** Records a 429: halves the concurrency (at least 1). */
  onRateLimited(): void {
    this.backoffs++;
    this.successes = 0;
    this.slots.concurrency = Math.max(1, Math.floor(this.slots.concurrency / 2));
  }

  /** Records a success: after as many successes as the limit, the limit grows by one (up to the ceiling). */
  onSuccess(): void {
    this.successes++;
    if (this.successes >= this.slots.concurrency && this.slots.concurrency < this.ceiling) {
      this.slots.concurrency += 1;
      this.successes = 0;
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
