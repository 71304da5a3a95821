import { MemorySaver, StateSchema, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { GraphDefinitionError } from "../../src/runtime/errors.js";
import { FanOutFailedError, FanOutIncompleteError, indexedResults, orderedResults } from "../../src/patterns/core/fanOut.js";
import { buildParallelMap, buildSectioning, buildVoting, keyedResults, tallyVotes } from "../../src/patterns/workflow/parallel.js";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- parallel map

const MapState = new StateSchema({
  items: z.array(z.number()),
  limit: z.number().int().optional(),
  mapped: indexedResults(z.string()),
  results: z.array(z.string()).default(() => []),
});
type MapState = typeof MapState.State;

/** A parallel map whose worker turns item n into "n:index", tracking how many workers run at once. */
function makeMap(opts: { delayMs?: number; checkpointer?: boolean } = {}) {
  const stats = { calls: 0, active: 0, maxActive: 0 };
  const graph = buildParallelMap<MapState, number, undefined, string>({
    state: MapState,
    items: (s) => s.items,
    worker: {
      name: "work",
      run: async (item, index) => {
        stats.calls++;
        stats.active++;
        stats.maxActive = Math.max(stats.maxActive, stats.active);
        try {
          if (opts.delayMs) await sleep(opts.delayMs);
          else await Promise.resolve();
          return `${item}:${index}`;
        } finally {
          stats.active--;
        }
      },
    },
    resultsKey: "mapped",
    collect: (results) => ({ results }),
    maxConcurrency: (s) => s.limit,
  });
  const compiled = opts.checkpointer ? graph.compile({ checkpointer: new MemorySaver() }) : graph.compile();
  return { graph: compiled, stats };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i * 10);
const expected = (items: number[]) => items.map((item, i) => `${item}:${i}`);

describe("buildParallelMap", () => {
  describe.each([
    { limit: undefined, label: "unset" },
    { limit: 1, label: "1" },
    { limit: 2, label: "2" },
  ])("with maxConcurrency $label", ({ limit }) => {
    it.each([0, 1, 1000])("returns every result of %i items exactly once, in input order", async (n) => {
      const { graph, stats } = makeMap();
      const items = range(n);
      const out = await graph.invoke({ items, limit }, { recursionLimit: 10 });
      expect(out.results).toEqual(expected(items));
      expect(stats.calls).toBe(n);
      if (limit !== undefined && n > 0) expect(stats.maxActive).toBeLessThanOrEqual(limit);
    });
  });

  it("never runs more workers at once than the limit, and reaches it", async () => {
    for (const limit of [1, 2, 3]) {
      const { graph, stats } = makeMap({ delayMs: 2 });
      const items = range(20);
      const out = await graph.invoke({ items, limit });
      expect(out.results).toEqual(expected(items));
      expect(stats.maxActive).toBeLessThanOrEqual(limit);
      expect(stats.maxActive).toBe(limit);
    }
  });

  it("runs the workers concurrently when no limit is set (so the limiter test above can fail)", async () => {
    const { graph, stats } = makeMap({ delayMs: 2 });
    await graph.invoke({ items: range(20) });
    expect(stats.maxActive).toBeGreaterThan(3);
  });

  it("reads the limit per run, e.g. from the run config", async () => {
    const stats = { active: 0, maxActive: 0 };
    const graph = buildParallelMap<MapState, number, undefined, string>({
      state: MapState,
      items: (s) => s.items,
      worker: {
        name: "work",
        run: async (item) => {
          stats.maxActive = Math.max(stats.maxActive, ++stats.active);
          await sleep(2);
          stats.active--;
          return String(item);
        },
      },
      resultsKey: "mapped",
      collect: (results) => ({ results }),
      maxConcurrency: (_s, config: LangGraphRunnableConfig) => config.configurable?.workers as number | undefined,
    }).compile();
    const out = await graph.invoke({ items: range(12) }, { configurable: { workers: 2 } });
    expect(out.results).toHaveLength(12);
    expect(stats.maxActive).toBe(2);
  });

  // Exposes a bug: timeoutMs is documented as the per-attempt timeout of a node,
  // but a worker's attempt starts before it waits for a slot of the
  // concurrency limiter, so time spent queued counts against its timeout. Each
  // worker here takes ~30 ms (5x under the 150 ms timeout), yet with a limit of
  // 1 the 6th one waits 150 ms in the queue and the run fails with a
  // NodeTimeoutError. The timed-out attempt also stays in the queue and
  // calls the worker later anyway (more than one call per item).
  it.each([
    { tasks: undefined, label: "one task per item" },
    { tasks: 2, label: "items batched into 2 tasks" },
  ])("does not count time waiting for a concurrency slot against timeoutMs ($label)", async ({ tasks }) => {
    let calls = 0;
    const graph = buildParallelMap<MapState, number, undefined, string>({
      state: MapState,
      items: (s) => s.items,
      worker: {
        name: "work",
        run: async (item) => {
          calls++;
          await sleep(30);
          return String(item);
        },
      },
      resultsKey: "mapped",
      collect: (results) => ({ results }),
      maxConcurrency: (s) => s.limit,
      maxTasks: () => tasks,
      timeoutMs: 150,
      retryPolicy: false,
    }).compile();
    const items = range(10);
    const out = await graph.invoke({ items, limit: 1 });
    expect(out.results).toEqual(items.map(String));
    expect(calls).toBe(10);
  });

  it("passes the context to every worker", async () => {
    const State = new StateSchema({
      items: z.array(z.string()),
      prefix: z.string(),
      mapped: indexedResults(z.string()),
      results: z.array(z.string()).default(() => []),
    });
    const graph = buildParallelMap<typeof State.State, string, { prefix: string }, string>({
      state: State,
      items: (s) => s.items,
      context: (s) => ({ prefix: s.prefix }),
      worker: { name: "work", run: (item, _i, ctx) => `${ctx.prefix}${item}` },
      resultsKey: "mapped",
      collect: (results) => ({ results }),
    }).compile();
    expect((await graph.invoke({ items: ["a", "b"], prefix: ">" })).results).toEqual([">a", ">b"]);
  });

  it("rejects the run with a FanOutFailedError naming the item and carrying the worker's error and the other results", async () => {
    const boom = new Error("worker 3 failed");
    let calls = 0;
    const graph = buildParallelMap<MapState, number, undefined, string>({
      state: MapState,
      items: (s) => s.items,
      worker: {
        name: "work",
        run: (_item, index) => {
          if (index === 3) {
            calls++;
            throw boom;
          }
          return "ok";
        },
      },
      resultsKey: "mapped",
      collect: (results) => ({ results }),
      retryPolicy: false,
    }).compile();
    const error = await graph.invoke({ items: range(5) }).catch((e) => e);
    expect(error).toBeInstanceOf(FanOutFailedError);
    expect(error.message).toContain('#3 "30": Error: worker 3 failed');
    expect(error.failures).toEqual([{ index: 3, item: "30", error: "Error: worker 3 failed" }]);
    expect(error.partial).toEqual(["ok", "ok", "ok", undefined, "ok"]);
    expect(calls).toBe(1);
  });

  it("does not carry results over from an earlier run on the same thread", async () => {
    const { graph } = makeMap({ checkpointer: true });
    const config = { configurable: { thread_id: "map-1" } };
    const first = await graph.invoke({ items: [1, 2, 3, 4, 5] }, config);
    expect(first.results).toEqual(["1:0", "2:1", "3:2", "4:3", "5:4"]);
    const second = await graph.invoke({ items: [7, 8] }, config);
    expect(second.results).toEqual(["7:0", "8:1"]);
    expect(second.mapped).toHaveLength(2);
    const third = await graph.invoke({ items: [] }, config);
    expect(third.results).toEqual([]);
    expect(third.mapped).toEqual([]);
  });

  it("rejects a worker named like one of its own nodes", () => {
    expect(() =>
      buildParallelMap<MapState, number, undefined, string>({
        state: MapState,
        items: (s) => s.items,
        worker: { name: "collect", run: () => "" },
        resultsKey: "mapped",
        collect: (results) => ({ results }),
      }),
    ).toThrow(GraphDefinitionError);
  });
});

describe("orderedResults", () => {
  it("puts the values in index order", () => {
    expect(
      orderedResults(
        [
          { index: 2, value: "c" },
          { index: 0, value: "a" },
          { index: 1, value: "b" },
        ],
        3,
        "w",
      ),
    ).toEqual(["a", "b", "c"]);
    expect(orderedResults([], 0, "w")).toEqual([]);
  });
  it("throws FanOutIncompleteError on a missing index", () => {
    const entries = [
      { index: 0, value: "a" },
      { index: 2, value: "c" },
    ];
    expect(() => orderedResults(entries, 3, "w")).toThrow(FanOutIncompleteError);
    expect(() => orderedResults(entries, 3, "w")).toThrow(/missing \[1\], duplicated \[\]/);
  });
  it("throws FanOutIncompleteError on a duplicated index", () => {
    const entries = [
      { index: 0, value: "a" },
      { index: 1, value: "b" },
      { index: 1, value: "b2" },
    ];
    expect(() => orderedResults(entries, 2, "w")).toThrow(FanOutIncompleteError);
    expect(() => orderedResults(entries, 2, "w")).toThrow(/missing \[\], duplicated \[1\]/);
  });
  it("throws on an index out of range", () => {
    expect(() => orderedResults([{ index: 5, value: "x" }], 1, "w")).toThrow(FanOutIncompleteError);
    expect(() => orderedResults([{ index: -1, value: "x" }, { index: 0, value: "a" }], 1, "w")).toThrow(FanOutIncompleteError);
  });
  it("has the code FAN_OUT_INCOMPLETE", () => {
    try {
      orderedResults([], 1, "w");
      expect.unreachable();
    } catch (e) {
      expect((e as FanOutIncompleteError).code).toBe("FAN_OUT_INCOMPLETE");
    }
  });
});

// ---------------------------------------------------------------- sectioning

const SectionState = new StateSchema({
  text: z.string(),
  sections: keyedResults(z.string()),
  report: z.string().default(""),
});
type SectionState = typeof SectionState.State;

describe("buildSectioning", () => {
  it("runs every section in one superstep and gives all their values to the aggregator", async () => {
    const steps: Record<string, unknown> = {};
    const section = (name: string, delayMs: number) => async (s: SectionState, config: LangGraphRunnableConfig) => {
      steps[name] = config.metadata?.langgraph_step;
      await sleep(delayMs);
      return `${name}(${s.text})`;
    };
    let seenByAggregator: Record<string, string> = {};
    const graph = buildSectioning<SectionState, string>({
      state: SectionState,
      sections: { summary: section("summary", 5), risks: section("risks", 1), facts: section("facts", 3) },
      sectionsKey: "sections",
      aggregator: {
        name: "aggregate",
        run: (s) => {
          seenByAggregator = { ...s.sections };
          return { report: Object.keys(s.sections).sort().map((k) => s.sections[k]).join("|") };
        },
      },
    }).compile();
    const out = await graph.invoke({ text: "T" });

    expect(seenByAggregator).toEqual({ summary: "summary(T)", risks: "risks(T)", facts: "facts(T)" });
    expect(out.report).toBe("facts(T)|risks(T)|summary(T)");
    expect(Object.keys(steps).sort()).toEqual(["facts", "risks", "summary"]);
    expect(typeof steps.summary).toBe("number");
    expect(steps.risks).toBe(steps.summary);
    expect(steps.facts).toBe(steps.summary);
  });

  it.each([0, 1])("rejects %i sections", (n) => {
    const sections = Object.fromEntries(Array.from({ length: n }, (_, i) => [`s${i}`, () => "x"]));
    expect(() =>
      buildSectioning<SectionState, string>({ state: SectionState, sections, sectionsKey: "sections", aggregator: { name: "agg", run: () => ({}) } }),
    ).toThrow(GraphDefinitionError);
  });

  it("rejects an aggregator named like a section", () => {
    expect(() =>
      buildSectioning<SectionState, string>({
        state: SectionState,
        sections: { a: () => "", b: () => "" },
        sectionsKey: "sections",
        aggregator: { name: "a", run: () => ({}) },
      }),
    ).toThrow(GraphDefinitionError);
  });
});

// ---------------------------------------------------------------- voting

describe("tallyVotes", () => {
  it("picks the majority with counts and agreement", () => {
    expect(tallyVotes(["spam", "ham", "spam", "spam", "ham"])).toEqual({
      winner: "spam",
      counts: { spam: 3, ham: 2 },
      agreement: 0.6,
      tie: false,
    });
  });
  it("picks a majority that appears after the first label", () => {
    expect(tallyVotes(["a", "b", "b"])).toMatchObject({ winner: "b", tie: false, agreement: 2 / 3 });
  });
  it("gives a tie to the label voted first", () => {
    expect(tallyVotes(["b", "a", "a", "b"])).toEqual({ winner: "b", counts: { b: 2, a: 2 }, agreement: 0.5, tie: true });
    expect(tallyVotes(["x", "y", "z"])).toMatchObject({ winner: "x", tie: true });
  });
  it("clears the tie when a later label beats the tied ones", () => {
    expect(tallyVotes(["a", "b", "c", "c"])).toMatchObject({ winner: "c", tie: false, agreement: 0.5 });
  });
  it("has no winner with no votes", () => {
    expect(tallyVotes([])).toEqual({ winner: null, counts: {}, agreement: 0, tie: false });
  });
  it("is unanimous with one vote", () => {
    expect(tallyVotes(["only"])).toEqual({ winner: "only", counts: { only: 1 }, agreement: 1, tie: false });
  });

  // Exposes a bug: the winner is found by iterating Object.entries(counts), and
  // JavaScript enumerates integer-like keys ("1", "2", ...) first, in numeric
  // order, not in order of first appearance. A rating vote "5" then "3" ties
  // and must go to "5".
  it("gives a tie to the label voted first when labels are numbers", () => {
    expect(tallyVotes(["5", "3"]).winner).toBe("5");
    expect(tallyVotes(["2", "1", "1", "2"]).winner).toBe("2");
    expect(tallyVotes(["b", "1"]).winner).toBe("b");
  });

  // Exposes a bug: `counts` is a plain object, so a label named like an
  // Object.prototype member reads the inherited value instead of 0.
  it("counts labels named like Object.prototype members", () => {
    expect(tallyVotes(["constructor", "constructor", "x"])).toMatchObject({ winner: "constructor", agreement: 2 / 3 });
    expect(tallyVotes(["toString", "x", "toString"]).counts.toString).toBe(2);
  });
});

const VoteState = new StateSchema({
  question: z.string(),
  voters: z.number(),
  ballots: indexedResults(z.string()),
  winner: z.string().nullable().default(null),
  agreement: z.number().default(0),
  votes: z.array(z.string()).default(() => []),
  counts: z.record(z.string(), z.number()).default(() => ({})),
});
type VoteState = typeof VoteState.State;

function makeVoting(label: (voter: number, question: string) => string) {
  const seen: number[] = [];
  const graph = buildVoting<VoteState, { question: string }>({
    state: VoteState,
    voters: (s) => s.voters,
    context: (s) => ({ question: s.question }),
    voter: {
      name: "vote",
      run: async (voter, ctx) => {
        seen.push(voter);
        await sleep(voter % 3);
        return label(voter, ctx.question);
      },
    },
    votesKey: "ballots",
    collect: (tally, votes) => ({ winner: tally.winner, agreement: tally.agreement, votes, counts: tally.counts }),
    retryPolicy: false,
  }).compile();
  return { graph, seen };
}

describe("buildVoting", () => {
  it("takes one vote per voter and returns the majority, votes in voter order", async () => {
    // Voters 0, 3 say "no"; the rest say "yes".
    const { graph, seen } = makeVoting((v, q) => (v % 3 === 0 ? "no" : `yes-${q}`));
    const out = await graph.invoke({ question: "q", voters: 5 });
    expect(out.votes).toEqual(["no", "yes-q", "yes-q", "no", "yes-q"]);
    expect(out.winner).toBe("yes-q");
    expect(out.agreement).toBe(0.6);
    expect(out.counts).toEqual({ no: 2, "yes-q": 3 });
    expect([...seen].sort()).toEqual([0, 1, 2, 3, 4]);
  });

  it("works with a single voter", async () => {
    const { graph } = makeVoting(() => "solo");
    const out = await graph.invoke({ question: "q", voters: 1 });
    expect(out).toMatchObject({ winner: "solo", agreement: 1, votes: ["solo"] });
  });

  it.each([0, -1, 1.5])("rejects %s voters at run time", async (voters) => {
    const { graph, seen } = makeVoting(() => "x");
    await expect(graph.invoke({ question: "q", voters })).rejects.toThrow(GraphDefinitionError);
    expect(seen).toEqual([]);
  });
});
