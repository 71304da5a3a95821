import { MemorySaver, StateSchema } from "@langchain/langgraph";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { countTokens } from "../../src/runtime/text.js";
import {
  buildMapReduce,
  groupByTokens,
  mapReduceFields,
  MAX_ROUNDS_LIMIT,
  truncateToTokens,
  type MapReduceOptions,
} from "../../src/patterns/composition/mapReduce.js";
import { GraphDefinitionError } from "../../src/runtime/errors.js";
import { withRetry } from "../../src/patterns/resilience/retry.js";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Test state: chunk names separated by "|", and the settings the builder reads. */
const State = new StateSchema({
  input: z.string(),
  budget: z.number().int().default(4),
  groupBudget: z.number().int().default(8),
  limit: z.number().int().optional(),
  maxRounds: z.number().int().optional(),
  overBudget: z.enum(["keep", "truncate"]).optional(),
  ...mapReduceFields,
});
type State = typeof State.State;

/** Tokens are words in these tests: deterministic and easy to reason about. */
const words = (text: string) => (text.trim() ? text.trim().split(/\s+/).length : 0);

/** Stats of the workers of one run. */
interface Stats {
  mapCalls: string[];
  reduceCalls: string[][];
  active: number;
  maxActive: number;
  maxActiveReduce: number;
}

/**
 * A map-reduce whose map turns chunk "cN" into "cN cN cN cN" (4 words) and
 * whose reducer keeps the first two words of each item of its group, in order:
 * a group of two 4-word results gives one 4-word result, so each round halves
 * the count. Options override any of this.
 */
function makeMapReduce(overrides: Partial<MapReduceOptions<State, undefined>> = {}, opts: { delayMs?: number } = {}) {
  const stats: Stats = { mapCalls: [], reduceCalls: [], active: 0, maxActive: 0, maxActiveReduce: 0 };
  const track = async <T>(reduce: boolean, work: () => T): Promise<T> => {
    stats.active++;
    stats.maxActive = Math.max(stats.maxActive, stats.active);
    if (reduce) stats.maxActiveReduce = Math.max(stats.maxActiveReduce, stats.active);
    try {
      await (opts.delayMs ? sleep(opts.delayMs) : Promise.resolve());
      return work();
    } finally {
      stats.active--;
    }
  };
  const graph = buildMapReduce<State>({
    state: State,
    split: (s) => s.input.split("|"),
    map: {
      name: "map_chunk",
      run: (chunk) =>
        track(false, () => {
          stats.mapCalls.push(chunk);
          return Array(4).fill(chunk).join(" ");
        }),
    },
    reduce: {
      name: "reduce_group",
      run: (group) =>
        track(true, () => {
          stats.reduceCalls.push(group);
          return group.map((g) => g.split(" ").slice(0, 2).join(" ")).join(" ");
        }),
    },
    tokenBudget: (s) => s.budget,
    groupTokenBudget: (s) => s.groupBudget,
    maxConcurrency: (s) => s.limit,
    maxRounds: (s) => s.maxRounds,
    overBudget: (s) => s.overBudget,
    countTokens: words,
    retryPolicy: false,
    ...overrides,
  });
  return { graph: graph.compile(), builder: graph, stats };
}

const chunks = (n: number) => Array.from({ length: n }, (_, i) => `c${i}`).join("|");

describe("groupByTokens", () => {
  it("packs items in order, greedily, each group within the budget", () => {
    expect(groupByTokens(["a b", "c d", "e", "f g h"], 4, words)).toEqual([["a b", "c d"], ["e", "f g h"]]);
    expect(groupByTokens([], 4, words)).toEqual([]);
  });

  it("puts an item over the budget in a group of its own", () => {
    expect(groupByTokens(["a", "b c d e f g", "h"], 3, words)).toEqual([["a"], ["b c d e f g"], ["h"]]);
  });

  it("counts o200k tokens by default and rejects a budget below 1", () => {
    expect(groupByTokens(["hello world", "hello world"], countTokens("hello world") * 2)).toHaveLength(1);
    expect(() => groupByTokens(["a"], 0)).toThrow(GraphDefinitionError);
    expect(() => groupByTokens(["a"], 1.5)).toThrow(/whole number/);
  });
});

describe("truncateToTokens", () => {
  it("keeps the leading whole sentences that fit, or the leading words when none does", () => {
    const text = "One two three. Four five six. Seven eight nine.";
    expect(truncateToTokens(text, 100, words)).toBe(text);
    expect(truncateToTokens(text, 7, words)).toBe("One two three. Four five six.");
    expect(truncateToTokens(text, 2, words)).toBe("One two");
    expect(truncateToTokens(text, 0, words)).toBe("");
  });

  it("never cuts after Mr., Dr. or e.g.: a sentence is kept whole or left out", () => {
    // The summary that used to end "…the excellent character of Mr.".
    const summary =
      "Elizabeth hears of the excellent character of Mr. Darcy from his housekeeper. Dr. Jones, e.g. the family doctor, agrees. The lens weighed 3.5 kg. Then they leave.";
    expect(truncateToTokens(summary, 12, words)).toBe("Elizabeth hears of the excellent character of Mr. Darcy from his housekeeper.");
    expect(truncateToTokens(summary, 20, words)).toBe(
      "Elizabeth hears of the excellent character of Mr. Darcy from his housekeeper. Dr. Jones, e.g. the family doctor, agrees.",
    );
    expect(truncateToTokens(summary, 25, words)).toBe(
      "Elizabeth hears of the excellent character of Mr. Darcy from his housekeeper. Dr. Jones, e.g. the family doctor, agrees. The lens weighed 3.5 kg.",
    );
    const o200k = truncateToTokens(summary, countTokens("Elizabeth hears of the excellent character of Mr. Darcy from his housekeeper.") + 3);
    expect(o200k).toBe("Elizabeth hears of the excellent character of Mr. Darcy from his housekeeper.");
    for (const budget of [10, 15, 20, 30]) expect(truncateToTokens(summary, budget)).not.toMatch(/\b(?:Mr|Dr|e\.g)\.$/);
  });

  it("keeps to the budget in o200k tokens, joining sentences with spaces", () => {
    const text = Array.from({ length: 40 }, (_, i) => `Sentence number ${i} talks about Mr. Darcy's estate at Pemberley.`).join("\n");
    for (const budget of [5, 50, 200, 333]) {
      const cut = truncateToTokens(text, budget);
      expect(countTokens(cut)).toBeLessThanOrEqual(budget);
      if (budget >= 50) expect(cut).toMatch(/Pemberley\.$/);
    }
  });

  it("is linear: a long text's characters are counted a bounded number of times, not once per sentence kept", () => {
    const text = Array.from({ length: 4_000 }, (_, i) => `Mr. Bennet wrote letter number ${i} to his cousin.`).join(" ");
    let counted = 0;
    const counting = (t: string) => {
      counted += t.length;
      return words(t);
    };
    const cut = truncateToTokens(text, Math.floor(words(text) / 2), counting);
    expect(cut.length).toBeGreaterThan(text.length / 3);
    // The text once, each kept sentence once, the result once to check: about 2.5 times the text. Counting each growing prefix would be ~1,000 times.
    expect(counted).toBeLessThan(4 * text.length);
  });
});

describe("buildMapReduce", () => {
  it("with 0 chunks: no map or reduce call, an empty summary, finishReason no_chunks", async () => {
    const { graph, stats } = makeMapReduce();
    const out = await graph.invoke({ input: "" });
    expect(out).toMatchObject({ summary: "", summaryTokens: 0, rounds: 0, finishReason: "no_chunks", levels: [0], chunkTexts: [] });
    expect(stats.mapCalls).toEqual([]);
    expect(stats.reduceCalls).toEqual([]);
  });

  it("map and reduce workers follow the graph's retry policy: attempts past the default's third, and none with retryPolicy false", async () => {
    const transient = () => Object.assign(new Error("503 overloaded"), { status: 503 });
    const flakyMap = (failures: number) => {
      const calls: string[] = [];
      let left = failures;
      const run = (chunk: string) => {
        calls.push(chunk);
        if (chunk === "c1" && left-- > 0) throw transient();
        return Array(4).fill(chunk).join(" ");
      };
      return { calls, run };
    };
    // Four attempts: c1 fails three times (the default policy's every attempt), then answers.
    const four = flakyMap(3);
    const { graph } = makeMapReduce({ map: { name: "map_chunk", run: four.run }, retryPolicy: withRetry({ maxAttempts: 4, initialIntervalMs: 1, jitter: false }) });
    const out = await graph.invoke({ input: chunks(2), budget: 100 });
    expect(out.summary).toContain("c1");
    expect(four.calls.filter((c) => c === "c1")).toHaveLength(4);
    // No retries: the first failure is the item's, named in the run's error.
    const once = flakyMap(1);
    const { graph: noRetry } = makeMapReduce({ map: { name: "map_chunk", run: once.run }, retryPolicy: false });
    await expect(noRetry.invoke({ input: chunks(2), budget: 100 })).rejects.toThrow(/503 overloaded/);
    expect(once.calls.filter((c) => c === "c1")).toHaveLength(1);
  });

  it("with 1 chunk whose result fits: one map call and no reduce round", async () => {
    const { graph, stats } = makeMapReduce();
    const out = await graph.invoke({ input: "c0" });
    expect(out).toMatchObject({ summary: "c0 c0 c0 c0", summaryTokens: 4, rounds: 0, levels: [1], finishReason: "fits_budget" });
    expect(stats.reduceCalls).toEqual([]);
  });

  it("with 1 chunk whose result is over the budget: a reduce round condenses it alone", async () => {
    const { graph, stats } = makeMapReduce();
    const out = await graph.invoke({ input: "c0", budget: 3 });
    expect(stats.reduceCalls).toEqual([["c0 c0 c0 c0"]]);
    expect(out).toMatchObject({ summary: "c0 c0", rounds: 1, levels: [1, 1], finishReason: "fits_budget" });
  });

  it("reduces hierarchically, round by round, until one result fits the budget", async () => {
    const { graph, stats } = makeMapReduce();
    const out = await graph.invoke({ input: chunks(8) });
    expect(stats.mapCalls.sort()).toEqual(["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"]);
    // 8 results -> 4 groups of two (8 words each) -> 2 -> 1
    expect(out.levels).toEqual([8, 4, 2, 1]);
    expect(out.levelTokens).toEqual([32, 16, 8, 4]);
    expect(out.rounds).toBe(3);
    expect(stats.reduceCalls).toHaveLength(4 + 2 + 1);
    expect(out.summary).toBe("c0 c0 c4 c4");
    expect(out).toMatchObject({ summaryTokens: 4, finishReason: "fits_budget", truncated: false });
    for (const group of stats.reduceCalls) expect(group.reduce((n, g) => n + words(g), 0)).toBeLessThanOrEqual(8);
  });

  it("keeps document order through the map and every reduce level, whatever order tasks finish in", async () => {
    const calls: Array<{ index: number; group: string[] }> = [];
    const { graph } = makeMapReduce({
      // Later chunks and groups finish first.
      map: { name: "map_chunk", run: async (chunk, index) => (await sleep((16 - index) * 2), Array(4).fill(chunk).join(" ")) },
      reduce: {
        name: "reduce_group",
        run: async (group, index) => {
          calls.push({ index, group });
          await sleep((8 - index) * 2);
          return group.map((g) => g.split(" ").slice(0, 2).join(" ")).join(" ");
        },
      },
    });
    const out = await graph.invoke({ input: chunks(13) });
    expect(out.chunkTexts).toEqual(chunks(13).split("|"));
    // Round 1 gets the map results in chunk order, two per group (8 words), the odd one last.
    const firstRound = calls.filter((c) => c.group.every((g) => g.split(" ").length === 4 && new Set(g.split(" ")).size === 1)).sort((x, y) => x.index - y.index);
    expect(firstRound.map((c) => c.group.map((g) => g.split(" ")[0]))).toEqual([
      ["c0", "c1"], ["c2", "c3"], ["c4", "c5"], ["c6", "c7"], ["c8", "c9"], ["c10", "c11"], ["c12"],
    ]);
    // 13 -> 7 -> 4 -> 2 -> 1, and the first words of the chunks that survive each halving, in order.
    expect(out.levels).toEqual([13, 7, 4, 2, 1]);
    expect(out.summary).toBe("c0 c0 c8 c8");
    expect(out.finishReason).toBe("fits_budget");
  });

  it("puts results back in chunk order whatever order the workers finish in", async () => {
    const { graph } = makeMapReduce({
      map: { name: "map_chunk", run: async (chunk, index) => (await sleep((13 - index) * 2), `${chunk}`) },
      reduce: { name: "reduce_group", run: (group) => group.join(" ") },
    });
    const out = await graph.invoke({ input: chunks(13), budget: 100, groupBudget: 100 });
    expect(out.summary).toBe(chunks(13).split("|").join(" "));
    expect(out).toMatchObject({ rounds: 1, levels: [13, 1] });
  });

  it("stops at maxRounds with finishReason max_rounds, keeping or truncating the result", async () => {
    // A reducer that only drops one word per round: progress, but never under the budget.
    const dropOne = { name: "reduce_group", run: (group: string[]) => group.join(" ").split(" ").slice(1).join(" ") };
    const long = { name: "map_chunk", run: () => "a b c d e f g h i j" };
    const { graph } = makeMapReduce({ map: long, reduce: dropOne });
    const kept = await graph.invoke({ input: "c0", budget: 2, groupBudget: 100, maxRounds: 3 });
    expect(kept).toMatchObject({ summary: "d e f g h i j", rounds: 3, finishReason: "max_rounds", truncated: false, summaryTokens: 7 });
    const cut = await graph.invoke({ input: "c0", budget: 2, groupBudget: 100, maxRounds: 3, overBudget: "truncate" });
    expect(cut).toMatchObject({ summary: "d e", rounds: 3, finishReason: "max_rounds", truncated: true, summaryTokens: 2 });
  });

  it("stops a round that makes no progress with finishReason stalled", async () => {
    const { graph, stats } = makeMapReduce({ reduce: { name: "reduce_group", run: (group) => (stats.reduceCalls.push(group), group[0]) } });
    const out = await graph.invoke({ input: "c0", budget: 2, maxRounds: 8 });
    expect(out).toMatchObject({ rounds: 1, finishReason: "stalled", summary: "c0 c0 c0 c0", levels: [1, 1] });
    expect(stats.reduceCalls).toHaveLength(1);
  });

  it("runs MAX_ROUNDS_LIMIT rounds within LangGraph's default recursion limit", async () => {
    const dropOne = { name: "reduce_group", run: (group: string[]) => group.join(" ").split(" ").slice(1).join(" ") };
    const { graph } = makeMapReduce({ map: { name: "map_chunk", run: () => Array(30).fill("w").join(" ") }, reduce: dropOne });
    const out = await graph.invoke({ input: "c0", budget: 1, groupBudget: 100, maxRounds: MAX_ROUNDS_LIMIT });
    expect(out).toMatchObject({ rounds: MAX_ROUNDS_LIMIT, finishReason: "max_rounds", summaryTokens: 20 });
  });

  it("rejects a maxRounds over the limit and a budget below 1 at run time", async () => {
    await expect(makeMapReduce().graph.invoke({ input: "c0|c1", maxRounds: MAX_ROUNDS_LIMIT + 1 })).rejects.toThrow(/maxRounds must be a whole number from 0 to 10/);
    await expect(makeMapReduce().graph.invoke({ input: "c0", budget: 0 })).rejects.toThrow(/tokenBudget must be a whole number/);
  });

  it.each([1, 2, 3])("never runs more than maxConcurrency=%i map or reduce tasks at once, and reaches it", async (limit) => {
    const { graph, stats } = makeMapReduce({}, { delayMs: 3 });
    const out = await graph.invoke({ input: chunks(16), limit, groupBudget: 8 });
    expect(out.levels).toEqual([16, 8, 4, 2, 1]);
    expect(stats.maxActive).toBe(limit);
    expect(stats.maxActiveReduce).toBeLessThanOrEqual(limit);
    expect(stats.maxActiveReduce).toBe(limit);
  });

  it("runs tasks concurrently without a limit (so the limit test can fail)", async () => {
    const { graph, stats } = makeMapReduce({}, { delayMs: 3 });
    await graph.invoke({ input: chunks(16) });
    expect(stats.maxActive).toBeGreaterThan(3);
  });

  it("starts a thread's second run from scratch", async () => {
    const { builder } = makeMapReduce();
    const graph = builder.compile({ checkpointer: new MemorySaver() });
    const config = { configurable: { thread_id: "map-reduce-twice" } };
    const first = await graph.invoke({ input: chunks(8) }, config);
    const second = await graph.invoke({ input: chunks(2) }, config);
    expect(first.levels).toEqual([8, 4, 2, 1]);
    expect(second).toMatchObject({ levels: [2, 1], rounds: 1, summary: "c0 c0 c1 c1", chunkTexts: ["c0", "c1"] });
  });

  it("writes the finish option's update with the finished state", async () => {
    const ExtraState = new StateSchema({ input: z.string(), note: z.string().default(""), ...mapReduceFields });
    const graph = buildMapReduce<typeof ExtraState.State>({
      state: ExtraState,
      split: (s) => s.input.split("|"),
      map: { name: "m", run: (c) => c },
      reduce: { name: "r", run: (g) => g.join("+") },
      tokenBudget: () => 100,
      finish: (s) => ({ note: `${s.chunkTexts.length} chunks, ${s.rounds} rounds, ${s.finishReason}` }),
    }).compile();
    expect((await graph.invoke({ input: "a|b|c" })).note).toBe("3 chunks, 1 rounds, fits_budget");
  });

  it("rejects worker names that clash with its own nodes", () => {
    const options = { state: State, split: () => [], map: { name: "collect", run: (c: string) => c }, reduce: { name: "r", run: (g: string[]) => g[0] }, tokenBudget: () => 1 };
    expect(() => buildMapReduce<State>(options)).toThrow(GraphDefinitionError);
    expect(() => buildMapReduce<State>({ ...options, map: { name: "m", run: (c: string) => c }, reduce: { name: "m", run: (g: string[]) => g[0] } })).toThrow(/used twice/);
  });
});
