/**
 * The model transport and the rate limiter (src/models/transport.ts,
 * src/runtime/rateLimit.ts): the one request budget per model call, counted
 * at the fault server; timeouts that fire even after garbage collection;
 * failing fast on an address where nothing listens; latency-derived timeouts;
 * the adaptive concurrency and the limits learnt from response headers. No
 * test asserts elapsed time: requests and events are counted.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { execFile } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { StateSchema, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import { getChatModel } from "../src/models/factory.js";
import { DEFAULT_MAX_RETRIES } from "../src/models/configuration.js";
import { LatencyWindow, resilientFetch } from "../src/models/transport.js";
import { buildPromptChain, chainFields } from "../src/patterns/workflow/promptChain.js";
import { ProviderRequestError, ProviderUnreachableError } from "../src/runtime/errors.js";
import { ModelRateLimiter, parseResetMs } from "../src/runtime/rateLimit.js";
import { DEFAULT_RETRY_POLICY, isTransientError } from "../src/runtime/retry.js";
import { startFaultServer, type FaultServer } from "./helpers/faultServer.js";

const servers: FaultServer[] = [];
async function server(options: Parameters<typeof startFaultServer>[0] = {}) {
  const s = await startFaultServer(options);
  servers.push(s);
  return s;
}
afterEach(async () => {
  while (servers.length) await servers.pop()!.close();
});

const config = (s: FaultServer, extra: Record<string, unknown> = {}) => ({
  configurable: { baseURL: s.url, apiKey: "sk-test", model: `m-${Math.random().toString(36).slice(2, 8)}`, timeoutMs: 2_000, ...extra },
});

describe("one request budget per model call", () => {
  const State = new StateSchema({ text: z.string().default(""), ...chainFields });

  it.each(["server_503", "rate_limit_bare", "connection_reset"] as const)(
    "under a persistent %s, one model call in a node with the default retry policy makes exactly maxRetries + 1 requests",
    async (fault) => {
      const s = await server({ faults: { [fault]: 1 }, retryAfterSeconds: 0 });
      const cfg = config(s, { maxRetries: 2 });
      const graph = buildPromptChain<typeof State.State>({
        state: State,
        // LangGraph's own retry loop runs too (3 attempts), but does not multiply the transport's requests.
        retryPolicy: { ...DEFAULT_RETRY_POLICY, initialInterval: 1, jitter: false },
        steps: [{ name: "ask", run: async (_s, c: LangGraphRunnableConfig) => ({ text: (await getChatModel("default", c).invoke("<text>x</text>")).text }) }],
      }).compile();
      const error = await graph.invoke({}, cfg).catch((e) => e);
      expect(error).toBeInstanceOf(ProviderRequestError);
      expect(error.attempts).toBe(3);
      expect(s.stats.requests).toBe(3);
    },
  );

  it("the default budget is 8 requests, and the node's retry policy does not retry the transport's final error", async () => {
    expect(DEFAULT_MAX_RETRIES + 1).toBe(8);
    const error = new ProviderRequestError("http://x/v1/chat/completions", 8, "HTTP 503", { status: 503 });
    expect(isTransientError(error)).toBe(false);
    expect(isTransientError(Object.assign(new Error("503"), { status: 503 }))).toBe(true);
  });
});

describe("timeouts", () => {
  const fixture = fileURLToPath(new URL("./fixtures/hangingTimeout.ts", import.meta.url));
  const cwd = fileURLToPath(new URL("../", import.meta.url));

  it("a request to a server that never answers times out, with a caller signal, while garbage collection runs", async () => {
    // A transport whose timeout signal can be collected hangs here until the watchdog kills it.
    const { stdout } = await promisify(execFile)(process.execPath, ["--expose-gc", "--import", "tsx", fixture], { cwd, timeout: 30_000 }).catch((e) => ({ stdout: String(e.stdout ?? "") }));
    expect(stdout.trim()).toBe("timed out");
  }, 40_000);

  it("times a request out after four times the p95 latency once it is known, doubling per attempt, at most timeoutMs", () => {
    const window = new LatencyWindow();
    expect(window.timeoutFor(1, 60_000)).toBe(60_000); // nothing known yet
    for (let i = 0; i < LatencyWindow.MIN_SAMPLES; i++) window.add(i === 0 ? 900 : 400);
    expect(window.percentile95()).toBe(900);
    expect(window.timeoutFor(1, 60_000)).toBe(3_600);
    expect(window.timeoutFor(2, 60_000)).toBe(7_200);
    expect(window.timeoutFor(8, 60_000)).toBe(60_000);
    const fast = new LatencyWindow();
    for (let i = 0; i < LatencyWindow.MIN_SAMPLES; i++) fast.add(5);
    expect(fast.timeoutFor(1, 60_000)).toBe(LatencyWindow.MIN_TIMEOUT_MS);
  });

  it("a hung request is cut by the latency-derived timeout and asked again", async () => {
    const s = await server({ latencyMs: 0, slowMs: 30_000 });
    const fetchWithRetries = resilientFetch({ maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1, timeoutMs: 30_000 });
    const body = JSON.stringify({ model: "m", messages: [{ role: "user", content: "<text>Hello there.</text>" }] });
    const ask = () => fetchWithRetries(`${s.url}/chat/completions`, { method: "POST", body, headers: { "content-type": "application/json" } });
    for (let i = 0; i < LatencyWindow.MIN_SAMPLES; i++) expect((await ask()).status).toBe(200);
    const before = s.stats.requests;
    // The next request hangs for 30 s: it is cut after about a second and the retry answers.
    await s.setSequence(["slow"]);
    expect((await ask()).status).toBe(200);
    expect(s.stats.requests - before).toBe(2);
  }, 20_000);
});

describe("timeouts of the first requests", () => {
  it("a request that hangs before any latency is known is cut once the latency becomes known, not after timeoutMs", async () => {
    const s = await server({ latencyMs: 0, slowMs: 120_000, sequence: ["slow"] });
    const fetchWithRetries = resilientFetch({ maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1, timeoutMs: 120_000 });
    const body = JSON.stringify({ model: "m", messages: [{ role: "user", content: "<text>Hello there.</text>" }] });
    const ask = () => fetchWithRetries(`${s.url}/chat/completions`, { method: "POST", body, headers: { "content-type": "application/json" } });
    const hung = ask(); // the first request hangs for 120 s
    for (let i = 0; i < LatencyWindow.MIN_SAMPLES; i++) expect((await ask()).status).toBe(200);
    // Its deadline is read again as latencies come in: it is cut and asked again (this test's own limit is 20 s).
    expect((await hung).status).toBe(200);
    expect(s.stats.requests).toBe(LatencyWindow.MIN_SAMPLES + 2);
  }, 20_000);
});

describe("unreachable servers", () => {
  it("fails at once on a refused connection, naming the URL", async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, "127.0.0.1", () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });
    const baseURL = `http://127.0.0.1:${port}/v1`;
    const error = await getChatModel("default", { configurable: { baseURL, apiKey: "k", model: "nothing-here" } })
      .invoke("hello")
      .catch((e) => e);
    expect(error).toBeInstanceOf(ProviderUnreachableError);
    expect(error.attempts).toBe(1);
    expect(error.message).toContain(`${baseURL}/chat/completions`);
    expect(error.message).toMatch(/connection refused/);
  });
});

describe("adaptive concurrency and learnt limits", () => {
  const window = (limiter: ModelRateLimiter, limited: number) => {
    const n = limiter.concurrency;
    for (let i = 0; i < n; i++) limiter.onResponse(i < limited ? 429 : 200);
  };

  it("halves on a window of many 429s, ignores a few, and recovers to the ceiling when they stop", () => {
    const limiter = new ModelRateLimiter("aimd", { maxConcurrency: 64 });
    window(limiter, 2); // 2 of 64: a provider's random refusals
    expect(limiter.concurrency).toBe(64);
    for (let i = 0; i < 5; i++) window(limiter, limiter.concurrency);
    expect(limiter.concurrency).toBe(2);
    window(limiter, 1); // 1 of 2: still overloaded
    expect(limiter.concurrency).toBe(1);
    let windows = 0;
    while (limiter.concurrency < 64 && windows < 100) {
      window(limiter, 0);
      windows++;
    }
    expect(limiter.concurrency).toBe(64);
    expect(windows).toBeLessThan(25);
  });

  it("learns the requests- and tokens-per-minute limits a response announces, unless configured", () => {
    const learnt = new ModelRateLimiter("learn", {});
    learnt.onResponse(200, new Headers({ "x-ratelimit-limit-requests": "300", "x-ratelimit-limit-tokens": "90000" }));
    expect([learnt.requestsPerMinute, learnt.tokensPerMinute]).toEqual([300, 90_000]);
    const configured = new ModelRateLimiter("configured", { rpm: 100 });
    configured.onResponse(200, new Headers({ "x-ratelimit-limit-requests": "300" }));
    expect(configured.requestsPerMinute).toBe(100);
  });

  it("reads OpenAI's reset durations", () => {
    expect([parseResetMs("1s"), parseResetMs("6m0s"), parseResetMs("250ms"), parseResetMs("1.5s"), parseResetMs("2"), parseResetMs("soon")]).toEqual([1000, 360_000, 250, 1500, 2000, undefined]);
  });

  it("holds every caller until the reset when the provider says the budget is spent", async () => {
    vi.useFakeTimers();
    try {
      const limiter = new ModelRateLimiter("hold", { maxConcurrency: 8 });
      limiter.onResponse(429, new Headers({ "x-ratelimit-limit-requests": "6000", "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "5s", "retry-after-ms": "5000" }));
      const started: number[] = [];
      const calls = Promise.all([1, 2, 3].map((n) => limiter.run(1, async () => void started.push(n))));
      await vi.advanceTimersByTimeAsync(4_900);
      expect(started).toEqual([]); // nobody sent a request that would be refused
      await vi.advanceTimersByTimeAsync(200);
      await calls;
      expect(started.sort()).toEqual([1, 2, 3]);
    } finally {
      vi.useRealTimers();
    }
  });

  it("a random 429 without rate-limit headers holds nobody", async () => {
    vi.useFakeTimers();
    try {
      const limiter = new ModelRateLimiter("random", {});
      limiter.onResponse(429, new Headers({ "retry-after": "30" }));
      let ran = false;
      const call = limiter.run(1, async () => void (ran = true));
      await vi.advanceTimersByTimeAsync(1);
      await call;
      expect(ran).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });
});
