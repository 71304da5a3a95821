/**
 * The rate limit is shared across processes through Redis: two processes
 * calling the same model count against one RPM budget (the consumed points in
 * Redis are the sum of both processes' calls).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { RateLimiterRedis } from "rate-limiter-flexible";
import { startFaultServer, type FaultServer } from "./helpers/faultServer.js";

const REDIS_URL = process.env.LLM_WORKFLOWS_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const FIXTURE = fileURLToPath(new URL("./fixtures/redisCalls.ts", import.meta.url));
const run = promisify(execFile);

async function redisReachable(): Promise<boolean> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2000 });
  redis.on("error", () => {});
  try {
    await redis.connect();
    return (await redis.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

describe("rate limits shared through Redis", () => {
  let ok = false;
  let server: FaultServer;
  beforeAll(async () => {
    ok = await redisReachable();
    if (!ok) {
      const message = `Redis is not reachable at ${REDIS_URL}; set LLM_WORKFLOWS_TEST_REDIS_URL`;
      if (process.env.CI) throw new Error(message);
      console.warn(`skipping Redis tests: ${message}`);
      return;
    }
    server = await startFaultServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  it("two processes calling one model count against the same requests-per-minute budget", async (ctx) => {
    if (!ok) ctx.skip();
    const model = `shared-${process.pid}-${Date.now()}`;
    const env = { ...process.env, OPENAI_API_KEY: "", OPENAI_BASE_URL: "" };
    const cwd = fileURLToPath(new URL("../", import.meta.url));
    const [a, b] = await Promise.all([
      run(process.execPath, ["--import", "tsx", FIXTURE, server.url, model, REDIS_URL, "7"], { cwd, env }),
      run(process.execPath, ["--import", "tsx", FIXTURE, server.url, model, REDIS_URL, "5"], { cwd, env }),
    ]);
    expect(a.stdout).toContain("done");
    expect(b.stdout).toContain("done");
    expect(server.stats.succeeded).toBe(12);
    const redis = new Redis(REDIS_URL);
    try {
      const limiter = new RateLimiterRedis({ storeClient: redis, points: 1000, duration: 60, keyPrefix: `llmw:rpm:${server.url}|${model}` });
      const used = await limiter.get("calls");
      expect(used?.consumedPoints).toBe(12);
    } finally {
      redis.disconnect();
    }
  }, 60_000);
});
