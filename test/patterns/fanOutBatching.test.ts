/**
 * Batched fan-outs (`maxTasks`): at most that many Send tasks, each item still
 * with its own attempts, timeout, failure record and concurrency slot.
 */
import { StateSchema, type LangGraphRunnableConfig, type RetryPolicy } from "@langchain/langgraph";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { DEFAULT_MAX_WORKER_TASKS, FanOutFailedError, indexedResults, sendEach, type WorkerPayload } from "../../src/patterns/core/fanOut.js";
import { buildParallelMap } from "../../src/patterns/workflow/parallel.js";

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(new Error("aborted"));
    });
  });

const State = new StateSchema({
  items: z.array(z.number()),
  limit: z.number().int().optional(),
  tasks: z.number().optional(),
  perItem: z.boolean().default(false),
  mapped: indexedResults(z.string()),
  results: z.array(z.string().nullable()).default(() => []),
  failed: z.array(z.number()).default(() => []),
  tolerate: z.boolean().default(false),
});
type State = typeof State.State;

type Worker = (item: number, index: number, config: LangGraphRunnableConfig) => Promise<string> | string;

function makeMap(worker: Worker, retryPolicy: RetryPolicy | false = false) {
  return buildParallelMap<State, number, undefined, string>({
    state: State,
    items: (s) => s.items,
    worker: { name: "work", run: (item, index, _c, config) => worker(item, index, config) },
    resultsKey: "mapped",
    collect: (results, _s, { failures }) => ({ results: results.map((r) => r ?? null), failed: failures.map((f) => f.index) }),
    maxConcurrency: (s) => s.limit,
    maxTasks: (s) => (s.perItem ? Infinity : s.tasks),
    minSuccesses: (s) => (s.tolerate ? 0 : undefined),
    retryPolicy,
  }).compile();
}

/** Runs the graph and counts the worker tasks LangGraph ran (from the `tasks` stream). */
async function runCountingTasks(graph: ReturnType<typeof makeMap>, input: Partial<State>) {
  let tasks = 0;
  let output: State | undefined;
  for await (const [mode, chunk] of await graph.stream(input as State, { streamMode: ["tasks", "values"] })) {
    if (mode === "tasks" && (chunk as { name: string }).name === "work" && "input" in (chunk as object)) tasks++;
    if (mode === "values") output = chunk as State;
  }
  return { tasks, output: output! };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const transient = () => Object.assign(new Error("503 from the provider"), { status: 503 });
const FAST_RETRY: RetryPolicy = { maxAttempts: 3, initialInterval: 1, backoffFactor: 1, jitter: false, logWarning: false, retryOn: (e) => (e as { status?: number }).status === 503 };

describe("sendEach with maxTasks", () => {
  const payloads = (sends: ReturnType<typeof sendEach>) => sends.map((s) => s.args as WorkerPayload<string, null>);

  it("sends one task per item up to maxTasks", () => {
    const sends = payloads(sendEach("w", ["a", "b", "c"], null, undefined, 3));
    expect(sends.map((p) => [p.item, p.index])).toEqual([["a", 0], ["b", 1], ["c", 2]]);
    expect(sends.every((p) => p.batch === undefined)).toBe(true);
  });

  it("splits more items into maxTasks contiguous batches that cover every index once", () => {
    const items = range(10).map(String);
    const sends = payloads(sendEach("w", items, null, undefined, 3));
    expect(sends.map((p) => p.batch!.indexes)).toEqual([[0, 1, 2], [3, 4, 5], [6, 7, 8, 9]]);
    expect(sends.flatMap((p) => p.batch!.items)).toEqual(items);
  });

  it("sends one task per item with no maxTasks or Infinity", () => {
    expect(sendEach("w", range(100), null)).toHaveLength(100);
    expect(sendEach("w", range(100), null, undefined, Infinity)).toHaveLength(100);
  });

  it("shares one concurrency limiter between the batches of a fan-out", () => {
    const sends = payloads(sendEach("w", range(100).map(String), null, 4, 8));
    expect(new Set(sends.map((p) => p.limit?.key)).size).toBe(1);
    expect(sends[0].limit?.max).toBe(4);
  });
});

describe("buildParallelMap batching", () => {
  it(`runs at most ${DEFAULT_MAX_WORKER_TASKS} worker tasks by default, every result once and in order`, async () => {
    const graph = makeMap((item, index) => `${item}:${index}`);
    const { tasks, output } = await runCountingTasks(graph, { items: range(500) });
    expect(tasks).toBe(DEFAULT_MAX_WORKER_TASKS);
    expect(output.results).toEqual(range(500).map((i) => `${i}:${i}`));
  });

  it("runs one task per item at or below maxTasks, and with maxTasks Infinity", async () => {
    const graph = makeMap((item) => String(item));
    expect((await runCountingTasks(graph, { items: range(DEFAULT_MAX_WORKER_TASKS) })).tasks).toBe(DEFAULT_MAX_WORKER_TASKS);
    expect((await runCountingTasks(graph, { items: range(150), perItem: true })).tasks).toBe(150);
  });

  it("retries only the items of a batch that failed, not their finished neighbours", async () => {
    const calls = new Map<number, number>();
    const graph = makeMap((item, index) => {
      const n = (calls.get(index) ?? 0) + 1;
      calls.set(index, n);
      if ((index === 5 || index === 150) && n === 1) throw transient();
      return String(item);
    }, FAST_RETRY);
    const { tasks, output } = await runCountingTasks(graph, { items: range(200), tasks: 8 });
    expect(tasks).toBe(8);
    expect(output.results).toEqual(range(200).map(String));
    expect(calls.get(5)).toBe(2);
    expect(calls.get(150)).toBe(2);
    expect([...calls.values()].filter((n) => n > 1)).toHaveLength(2);
  });

  it("gives each item its own attempts: an item failing on every attempt fails the run after maxAttempts", async () => {
    const calls = new Map<number, number>();
    const graph = makeMap((item, index) => {
      calls.set(index, (calls.get(index) ?? 0) + 1);
      if (index === 7) throw transient();
      return String(item);
    }, FAST_RETRY);
    await expect(graph.invoke({ items: range(100), tasks: 4 })).rejects.toThrow("503 from the provider");
    expect(calls.get(7)).toBe(3);
    expect(calls.get(8)).toBe(1);
  });

  it("records a tolerated failure of one item and keeps its batch's other results", async () => {
    const calls = new Map<number, number>();
    const graph = makeMap((item, index) => {
      calls.set(index, (calls.get(index) ?? 0) + 1);
      if (index === 7) throw new Error("item 7 is malformed");
      if (index === 9 && calls.get(9) === 1) throw transient();
      return String(item);
    }, FAST_RETRY);
    const out = await graph.invoke({ items: range(100), tasks: 4, tolerate: true });
    expect(out.failed).toEqual([7]);
    expect(out.results[7]).toBeNull();
    expect(out.results.filter((r: string | null) => r !== null)).toHaveLength(99);
    expect(calls.get(7)).toBe(1); // not retryable: not tried again
    expect(calls.get(9)).toBe(2);
    expect(calls.get(8)).toBe(1);
  });

  it("on a failure no retry will cure, the batch's other items still finish, and their results are on the error", async () => {
    const outcomes = { finished: 0, aborted: 0 };
    const graph = makeMap(async (item, index, config) => {
      if (index === 0) throw new Error("item 0 is malformed");
      try {
        await sleep(5, config.signal);
        outcomes.finished++;
      } catch {
        outcomes.aborted++;
      }
      return String(item);
    });
    const error = await graph.invoke({ items: range(40), tasks: 2 }).catch((e) => e);
    expect(error).toBeInstanceOf(FanOutFailedError);
    expect(error.message).toMatch(/^work: 1 of 40 items failed after their retries: #0 "0": Error: item 0 is malformed\. The 39 finished results are kept/);
    expect(error.partial).toEqual([undefined, ...range(40).slice(1).map(String)]);
    expect(outcomes).toEqual({ finished: 39, aborted: 0 });
  });

  it("keeps the concurrency limit across batches, and reaches it", async () => {
    const stats = { active: 0, maxActive: 0 };
    const graph = makeMap(async (item) => {
      stats.maxActive = Math.max(stats.maxActive, ++stats.active);
      await sleep(2);
      stats.active--;
      return String(item);
    });
    const { tasks, output } = await runCountingTasks(graph, { items: range(200), limit: 3 });
    expect(tasks).toBe(DEFAULT_MAX_WORKER_TASKS);
    expect(output.results).toHaveLength(200);
    expect(stats.maxActive).toBe(3);
  });
});
