import { GraphRecursionError, MemorySaver, NodeTimeoutError, StateSchema, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { GraphDefinitionError } from "../../src/runtime/errors.js";
import {
  buildForEach,
  buildPagination,
  buildWhileLoop,
  DEFAULT_LOOP_MAX_ITERATIONS,
  DEFAULT_MAX_PAGES,
  forEachFields,
  forEachRecursionLimit,
  paginationFields,
  paginationRecursionLimit,
  whileLoopFields,
  whileLoopRecursionLimit,
  type ForEachOptions,
  type PaginationOptions,
  type WhileLoopOptions,
} from "../../src/patterns/control/loops.js";
import { appendList } from "../../src/patterns/core/policies.js";
import { examplesA } from "../../graphs/examples/compositionAndControl.js";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** A step that never answers: only its timeout ends it. */
const hang = () => new Promise<never>(() => {});
/** Generous, so that the steps that do answer never hit it, even on a loaded machine. */
const TIMEOUT_MS = 200;

// ---------------------------------------------------------------- while

const WhileState = new StateSchema({ target: z.number().int(), value: z.number().int().default(0), failAt: z.number().int().default(-1), ...whileLoopFields });
type WS = typeof WhileState.State;

describe("buildWhileLoop", () => {
  const build = (extra: Partial<WhileLoopOptions<WS>> = {}) =>
    buildWhileLoop<WS>({
      state: WhileState,
      condition: (s) => s.value < s.target,
      body: {
        name: "increment",
        run: (s) => {
          if (s.value === s.failAt) throw new Error(`failed at ${s.value}`);
          return { value: s.value + 1 };
        },
      },
      retryPolicy: false,
      ...extra,
    });

  it("repeats the body while the condition holds", async () => {
    const out = await build().compile().invoke({ target: 4 });
    expect(out).toMatchObject({ value: 4, iterations: 4, whileStopReason: "condition" });
  });

  it("never runs the body when the condition is false at the start", async () => {
    const out = await build().compile().invoke({ target: 0 });
    expect(out).toMatchObject({ value: 0, iterations: 0, whileStopReason: "condition" });
  });

  it("stops at maxIterations, in state, and says so", async () => {
    let runs = 0;
    const out = await build({ condition: () => true, body: { name: "poll", run: () => ((runs++), {}) }, maxIterations: 3 }).compile().invoke({ target: 0 });
    expect(runs).toBe(3);
    expect(out).toMatchObject({ iterations: 3, whileStopReason: "max_iterations" });
    expect(DEFAULT_LOOP_MAX_ITERATIONS).toBe(10);
    const byDefault = await build({ condition: () => true }).compile().invoke({ target: 0 });
    expect(byDefault).toMatchObject({ iterations: 10, whileStopReason: "max_iterations" });
  });

  it("reports the condition when it turns false on the last allowed iteration", async () => {
    const out = await build({ maxIterations: 3 }).compile().invoke({ target: 3 });
    expect(out).toMatchObject({ iterations: 3, whileStopReason: "condition" });
  });

  it("needs recursionLimit whileLoopRecursionLimit(maxIterations): the cap stops the loop, not LangGraph", async () => {
    const n = 12; // (25 - 2) / 2 < 12: above the default limit's reach
    const graph = build({ condition: () => true, maxIterations: n }).compile();
    await expect(graph.invoke({ target: 0 })).rejects.toBeInstanceOf(GraphRecursionError);
    await expect(graph.invoke({ target: 0 }, { recursionLimit: whileLoopRecursionLimit(n) - 1 })).rejects.toBeInstanceOf(GraphRecursionError);
    const out = await graph.invoke({ target: 0 }, { recursionLimit: whileLoopRecursionLimit(n) });
    expect(out).toMatchObject({ iterations: n, whileStopReason: "max_iterations" });
    expect(whileLoopRecursionLimit(11)).toBeLessThanOrEqual(25);
  });

  it("starts counting afresh on each run of a thread", async () => {
    const graph = build({ maxIterations: 3 }).compile({ checkpointer: new MemorySaver() });
    const config = { configurable: { thread_id: "w" } };
    expect(await graph.invoke({ target: 5 }, config)).toMatchObject({ iterations: 3, whileStopReason: "max_iterations" });
    expect(await graph.invoke({ target: 5 }, config)).toMatchObject({ value: 5, iterations: 2, whileStopReason: "condition" });
  });

  it("fails with the body's error; the fallback counts the iteration and the loop goes on", async () => {
    await expect(build().compile().invoke({ target: 4, failAt: 2 })).rejects.toThrow("failed at 2");
    const seen: string[] = [];
    const out = await build({
      fallback: (e, s, node) => {
        seen.push(`${node}@${s.iterations}: ${e.message}`);
        return { value: s.value + 10 };
      },
    }).compile().invoke({ target: 4, failAt: 2 });
    expect(seen).toEqual(["increment@2: failed at 2"]);
    expect(out).toMatchObject({ value: 12, iterations: 3, whileStopReason: "condition" });
  });

  it("times the body out with timeoutMs", async () => {
    const graph = build({ body: { name: "slow", run: () => hang() }, timeoutMs: TIMEOUT_MS }).compile();
    await expect(graph.invoke({ target: 1 })).rejects.toBeInstanceOf(NodeTimeoutError);
  });

  it("rejects a bound below 1 (or not whole), a reserved name and a state without the loop fields", () => {
    expect(() => build({ maxIterations: 0 })).toThrow(/maxIterations must be a whole number of at least 1, got 0/);
    expect(() => build({ maxIterations: -3 })).toThrow(GraphDefinitionError);
    expect(() => build({ maxIterations: 2.5 })).toThrow(GraphDefinitionError);
    expect(() => build({ body: { name: "while_check", run: () => ({}) } })).toThrow(/used twice/);
    const Bare = new StateSchema({ value: z.number() });
    expect(() => buildWhileLoop<any>({ state: Bare, condition: () => true, body: { name: "b", run: () => ({}) } })).toThrow(/spread whileLoopFields/);
  });
});

// ---------------------------------------------------------------- for-each

const ForEachState = new StateSchema({ items: z.array(z.string()), failOn: z.string().default(""), out: appendList(z.string()), ...forEachFields });
type FS = typeof ForEachState.State;

describe("buildForEach", () => {
  const build = (extra: Partial<ForEachOptions<FS, string>> = {}, trace: { active: number; max: number; steps: number[] } = { active: 0, max: 0, steps: [] }) =>
    buildForEach<FS, string>({
      state: ForEachState,
      items: (s) => s.items,
      step: {
        name: "process",
        run: async (item, index, s, config: LangGraphRunnableConfig) => {
          trace.active++;
          trace.max = Math.max(trace.max, trace.active);
          trace.steps.push(Number(config.metadata?.langgraph_step));
          try {
            if (item === "hang") await hang();
            await sleep(item.length); // later items finish sooner if they ran together
            if (item === s.failOn) throw new Error(`cannot process ${item}`);
            return { out: [`${index}:${item}`] };
          } finally {
            trace.active--;
          }
        },
      },
      retryPolicy: false,
      ...extra,
    });

  it("processes the items one at a time, in input order, one superstep each", async () => {
    const trace = { active: 0, max: 0, steps: [] as number[] };
    const out = await build({}, trace).compile().invoke({ items: ["ccc", "bb", "a"] });
    expect(out.out).toEqual(["0:ccc", "1:bb", "2:a"]);
    expect(out).toMatchObject({ forEachIndex: 3, forEachCount: 3 });
    expect(trace.max).toBe(1);
    expect(trace.steps).toEqual([trace.steps[0], trace.steps[0] + 1, trace.steps[0] + 2]);
  });

  it("does nothing with no items", async () => {
    const out = await build().compile().invoke({ items: [] });
    expect(out.out).toEqual([]);
    expect(out.forEachCount).toBe(0);
  });

  it("needs recursionLimit forEachRecursionLimit(items)", async () => {
    const items = Array.from({ length: 30 }, (_, i) => `i${i}`);
    const graph = build().compile();
    await expect(graph.invoke({ items }, { recursionLimit: forEachRecursionLimit(30) - 1 })).rejects.toBeInstanceOf(GraphRecursionError);
    expect((await graph.invoke({ items }, { recursionLimit: forEachRecursionLimit(30) })).out).toHaveLength(30);
  });

  it("starts from the first item on each run of a thread", async () => {
    const graph = build().compile({ checkpointer: new MemorySaver() });
    const config = { configurable: { thread_id: "f" } };
    await graph.invoke({ items: ["a", "b"] }, config);
    const second = await graph.invoke({ items: ["c", "d", "e"] }, config);
    expect(second.out.slice(2)).toEqual(["0:c", "1:d", "2:e"]);
  });

  it("fails with the item's error; the fallback writes instead and the loop goes on (the last item included)", async () => {
    await expect(build().compile().invoke({ items: ["a", "b", "c"], failOn: "b" })).rejects.toThrow("cannot process b");
    const fallback = (e: Error, s: FS) => ({ out: [`${s.forEachIndex}:skipped (${e.message})`] });
    expect((await build({ fallback }).compile().invoke({ items: ["a", "b", "c"], failOn: "b" })).out).toEqual(["0:a", "1:skipped (cannot process b)", "2:c"]);
    const last = await build({ fallback }).compile().invoke({ items: ["a", "c"], failOn: "c" });
    expect(last.out).toEqual(["0:a", "1:skipped (cannot process c)"]);
    expect(last.forEachIndex).toBe(2);
  });

  it("times an item out with timeoutMs", async () => {
    await expect(build({ timeoutMs: TIMEOUT_MS }).compile().invoke({ items: ["a", "hang"] })).rejects.toBeInstanceOf(NodeTimeoutError);
  });

  it("rejects a reserved name and a state without the loop fields", () => {
    expect(() => build({ step: { name: "for_each_enter", run: () => ({}) } })).toThrow(/used twice/);
    const Bare = new StateSchema({ items: z.array(z.string()) });
    expect(() => buildForEach<any, string>({ state: Bare, items: (s) => s.items, step: { name: "s", run: () => ({}) } })).toThrow(/spread forEachFields/);
  });
});

// ---------------------------------------------------------------- pagination

const PageState = new StateSchema({ pages: z.number().int().default(3), failAt: z.number().int().default(-1), rows: appendList(z.string()), ...paginationFields });
type PS = typeof PageState.State;

describe("buildPagination", () => {
  const build = (extra: Partial<PaginationOptions<PS, string>> = {}, fetched: number[] = []) =>
    buildPagination<PS, string>({
      state: PageState,
      fetchPage: (page, s) => {
        fetched.push(page);
        if (page === s.failAt) throw new Error(`page ${page} failed`);
        return page - (extra.firstPage ?? 1) < s.pages ? [`p${page}a`, `p${page}b`] : [];
      },
      process: (rows, page) => ({ rows: rows.map((r) => `${r}@${page}`) }),
      retryPolicy: false,
      ...extra,
    });

  it("fetches and processes pages until an empty one", async () => {
    const fetched: number[] = [];
    const out = await build({}, fetched).compile().invoke({ pages: 3 });
    expect(fetched).toEqual([1, 2, 3, 4]);
    expect(out.rows).toEqual(["p1a@1", "p1b@1", "p2a@2", "p2b@2", "p3a@3", "p3b@3"]);
    expect(out).toMatchObject({ page: 4, pagesProcessed: 3, paginationStopReason: "empty_page" });
  });

  it("stops at the page cap and reports it in state", async () => {
    const fetched: number[] = [];
    const out = await build({ maxPages: 2 }, fetched).compile().invoke({ pages: 1000 });
    expect(fetched).toEqual([1, 2]);
    expect(out).toMatchObject({ page: 2, pagesProcessed: 2, paginationStopReason: "page_cap" });
    const byDefault = await build().compile().invoke({ pages: 1000 });
    expect(byDefault).toMatchObject({ pagesProcessed: DEFAULT_MAX_PAGES, paginationStopReason: "page_cap" });
  });

  it("stops at once on an empty (or null) first page; numbers pages from firstPage", async () => {
    expect(await build().compile().invoke({ pages: 0 })).toMatchObject({ page: 1, pagesProcessed: 0, paginationStopReason: "empty_page", rows: [] });
    const nulls = buildPagination<PS, string>({ state: PageState, fetchPage: () => null, process: () => ({}) });
    expect((await nulls.compile().invoke({})).paginationStopReason).toBe("empty_page");
    const fetched: number[] = [];
    await build({ firstPage: 0 }, fetched).compile().invoke({ pages: 2 });
    expect(fetched).toEqual([0, 1, 2]);
  });

  it("needs recursionLimit paginationRecursionLimit(maxPages)", async () => {
    const graph = build({ maxPages: 30 }).compile();
    await expect(graph.invoke({ pages: 1000 }, { recursionLimit: paginationRecursionLimit(30) - 1 })).rejects.toBeInstanceOf(GraphRecursionError);
    expect(await graph.invoke({ pages: 1000 }, { recursionLimit: paginationRecursionLimit(30) })).toMatchObject({ pagesProcessed: 30, paginationStopReason: "page_cap" });
  });

  it("fails with a page's error; the fallback writes instead and ends the pagination with reason error", async () => {
    await expect(build().compile().invoke({ pages: 5, failAt: 2 })).rejects.toThrow("page 2 failed");
    const out = await build({ fallback: (e) => ({ rows: [`gave up: ${e.message}`] }) }).compile().invoke({ pages: 5, failAt: 2 });
    expect(out.rows).toEqual(["p1a@1", "p1b@1", "gave up: page 2 failed"]);
    expect(out).toMatchObject({ page: 2, pagesProcessed: 1, paginationStopReason: "error" });
  });

  it("times a page out with timeoutMs", async () => {
    const slow = build({ fetchPage: () => hang(), timeoutMs: TIMEOUT_MS });
    await expect(slow.compile().invoke({})).rejects.toBeInstanceOf(NodeTimeoutError);
  });

  it("rejects a page cap below 1 (or not whole), a fractional first page, and a state without the loop fields", () => {
    expect(() => build({ maxPages: 0 })).toThrow(/maxPages must be a whole number of at least 1, got 0/);
    expect(() => build({ maxPages: 1.5 })).toThrow(GraphDefinitionError);
    expect(() => build({ firstPage: 0.5 })).toThrow(/firstPage must be a whole number/);
    const Bare = new StateSchema({ rows: appendList(z.string()) });
    expect(() => buildPagination<any, string>({ state: Bare, fetchPage: () => [], process: () => ({}) })).toThrow(/spread paginationFields/);
  });
});

it("the example graphs run", async () => {
  expect(await examplesA.whileLoop.invoke({ target: 9 })).toMatchObject({ value: 5, whileStopReason: "max_iterations" });
  expect((await examplesA.forEach.invoke({ words: ["a", "bb", "ccc"] })).lengths).toEqual([1, 2, 3]);
  expect((await examplesA.pagination.invoke({ total: 7 })).rows).toEqual([0, 1, 2, 3, 4, 5, 6]);
});
