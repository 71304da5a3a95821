/**
 * The concurrency option of every builder that takes one (parallel map,
 * orchestrator-workers, map-reduce): every result at maxConcurrency 1, 2 and
 * unbounded, one-task-per-item and batched (more items than `maxTasks`), and
 * never more items at once than the limit. LangGraph's own run option
 * `maxConcurrency: 1` drops all but the first Send task (1.4.18 and 1.7.3), so
 * the builders must not rely on it; these tests would catch it.
 *
 * Also: orchestrator-workers and map-reduce batch their Send tasks (at most
 * `DEFAULT_MAX_WORKER_TASKS` by default, one per item with `maxTasks: () => Infinity`).
 */
import { StateSchema, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { BATCH_ITEM_KEY, DEFAULT_MAX_WORKER_TASKS, indexedResults } from "../../src/patterns/core/fanOut.js";
import { buildParallelMap } from "../../src/patterns/workflow/parallel.js";
import { buildOrchestratorWorkers } from "../../src/patterns/workflow/orchestratorWorkers.js";
import { buildMapReduce, mapReduceFields } from "../../src/patterns/composition/mapReduce.js";

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
/** Lets other tasks run: a few turns of the event loop, no wall-clock timing. */
const turns = async (k: number) => {
  for (let i = 0; i < k; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

/** Counts items in flight and keeps the peak. */
function gauge() {
  const g = {
    now: 0,
    peak: 0,
    batchKeys: [] as unknown[],
    async around<T>(config: LangGraphRunnableConfig, fn: () => T): Promise<T> {
      g.batchKeys.push((config.configurable as Record<string, unknown> | undefined)?.[BATCH_ITEM_KEY]);
      g.now++;
      g.peak = Math.max(g.peak, g.now);
      try {
        await turns(3);
        return fn();
      } finally {
        g.now--;
      }
    },
  };
  return g;
}

/** Runs `graph` on `input`, counting the tasks of node `worker` in the `tasks` stream; returns the last values. */
async function run<T>(graph: any, input: unknown, worker: string): Promise<{ out: T; tasks: number }> {
  let tasks = 0;
  let out: T | undefined;
  for await (const [mode, chunk] of await graph.stream(input, { streamMode: ["tasks", "values"] })) {
    if (mode === "tasks" && chunk.name === worker && "input" in chunk) tasks++;
    if (mode === "values") out = chunk as T;
  }
  return { out: out!, tasks };
}

const LIMITS: Array<number | undefined> = [1, 2, undefined];
const SIZES = [5, 150];

describe("parallel map: maxConcurrency 1, 2 and unbounded", () => {
  const State = new StateSchema({ items: z.array(z.number()), limit: z.number().optional(), mapped: indexedResults(z.number()), results: z.array(z.number()).default(() => []) });
  it.each(LIMITS.flatMap((limit) => SIZES.map((n) => [limit, n] as const)))("limit %s, %i items: every result, in order, within the limit", async (limit, n) => {
    const g = gauge();
    const graph = buildParallelMap<typeof State.State, number, undefined, number>({
      state: State,
      items: (s) => s.items,
      worker: { name: "square", run: (x, _i, _c, config) => g.around(config, () => x * x) },
      resultsKey: "mapped",
      collect: (results) => ({ results }),
      maxConcurrency: (s) => s.limit,
    }).compile();
    const { out } = await run<typeof State.State>(graph, { items: range(n), limit }, "square");
    expect(out.results).toEqual(range(n).map((x) => x * x));
    if (limit !== undefined) expect(g.peak).toBe(Math.min(limit, n));
    else expect(g.peak).toBeGreaterThan(2);
  });
});

describe("orchestrator-workers: maxConcurrency and batched tasks", () => {
  const State = new StateSchema({
    count: z.number(),
    limit: z.number().optional(),
    perItem: z.boolean().default(false),
    subtasks: z.array(z.number()).default(() => []),
    findings: indexedResults(z.string()),
    report: z.string().default(""),
  });
  type S = typeof State.State;
  const build = (g: ReturnType<typeof gauge>) =>
    buildOrchestratorWorkers<S, number, undefined, string>({
      state: State,
      orchestrator: { name: "plan", run: (s) => ({ subtasks: range(s.count) }) },
      subtasks: (s) => s.subtasks,
      worker: { name: "research", run: (t, i, _c, config) => g.around(config, () => `${i}:${t}`) },
      resultsKey: "findings",
      synthesizer: { name: "synthesize", run: (_s, results) => ({ report: results.join(",") }) },
      maxConcurrency: (s) => s.limit,
      maxTasks: (s) => (s.perItem ? Infinity : undefined),
    }).compile();

  it.each(LIMITS.flatMap((limit) => SIZES.map((n) => [limit, n] as const)))("limit %s, %i subtasks: every result, in plan order, within the limit", async (limit, n) => {
    const g = gauge();
    const { out, tasks } = await run<S>(build(g), { count: n, limit }, "research");
    expect(out.report).toBe(range(n).map((i) => `${i}:${i}`).join(","));
    expect(tasks).toBe(Math.min(n, DEFAULT_MAX_WORKER_TASKS));
    if (limit !== undefined) expect(g.peak).toBe(Math.min(limit, n));
    else expect(g.peak).toBeGreaterThan(2);
  });

  it("batches above 64 subtasks (each worker told its item's index) and sends one task per subtask with maxTasks Infinity", async () => {
    const batched = gauge();
    const a = await run<S>(build(batched), { count: 150 }, "research");
    expect(a.tasks).toBe(DEFAULT_MAX_WORKER_TASKS);
    expect([...batched.batchKeys].sort((x, y) => Number(x) - Number(y))).toEqual(range(150));
    const perItem = gauge();
    const b = await run<S>(build(perItem), { count: 150, perItem: true }, "research");
    expect(b.tasks).toBe(150);
    expect(perItem.batchKeys.every((k) => k === undefined)).toBe(true);
    expect(b.out.report).toBe(a.out.report);
  });
});

describe("map-reduce: maxConcurrency and batched tasks", () => {
  const State = new StateSchema({ count: z.number(), limit: z.number().optional(), perItem: z.boolean().default(false), ...mapReduceFields });
  type S = typeof State.State;
  const build = (g: ReturnType<typeof gauge>) =>
    buildMapReduce<S>({
      state: State,
      split: (s) => range(s.count).map((i) => `c${i}`),
      map: { name: "map_chunk", run: (chunk, _i, _c, config) => g.around(config, () => chunk.toUpperCase()) },
      // One reduce round: groups of 10 partials, each joined.
      reduce: { name: "reduce_group", run: (group, _i, _c, config) => g.around(config, () => group.join("+")) },
      tokenBudget: () => 1_000_000,
      groupTokenBudget: () => 10,
      countTokens: () => 1,
      maxRounds: () => 1,
      maxConcurrency: (s) => s.limit,
      maxTasks: (s) => (s.perItem ? Infinity : undefined),
    }).compile();
  const expected = (n: number) => {
    const mapped = range(n).map((i) => `C${i}`);
    const groups: string[] = [];
    for (let i = 0; i < n; i += 10) groups.push(mapped.slice(i, i + 10).join("+"));
    return groups.length === 1 ? groups[0] : groups.join("\n\n");
  };

  it.each(LIMITS.flatMap((limit) => SIZES.map((n) => [limit, n] as const)))("limit %s, %i chunks: every chunk mapped and reduced, in order, within the limit", async (limit, n) => {
    const g = gauge();
    const { out, tasks } = await run<S>(build(g), { count: n, limit }, "map_chunk");
    expect(out.levels).toEqual([n, Math.ceil(n / 10)]);
    expect(out.summary).toBe(expected(n));
    expect(tasks).toBe(Math.min(n, DEFAULT_MAX_WORKER_TASKS));
    if (limit !== undefined) expect(g.peak).toBe(Math.min(limit, n));
    else expect(g.peak).toBeGreaterThan(2);
  });

  it("batches the map and the reduce fan-outs above 64 tasks, one task per chunk with maxTasks Infinity", async () => {
    const n = 700; // 700 map tasks, then 70 reduce groups
    const a = await run<S>(build(gauge()), { count: n }, "map_chunk");
    const aReduce = await run<S>(build(gauge()), { count: n }, "reduce_group");
    expect(a.tasks).toBe(DEFAULT_MAX_WORKER_TASKS);
    expect(aReduce.tasks).toBe(DEFAULT_MAX_WORKER_TASKS);
    const b = await run<S>(build(gauge()), { count: n, perItem: true }, "map_chunk");
    const bReduce = await run<S>(build(gauge()), { count: n, perItem: true }, "reduce_group");
    expect(b.tasks).toBe(n);
    expect(bReduce.tasks).toBe(70);
    expect(b.out.summary).toBe(a.out.summary);
    expect(a.out.summary).toBe(expected(n));
  });
});
