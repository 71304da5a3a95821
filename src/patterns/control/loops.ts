/**
 * Loop patterns (the *Workflow Patterns Cheatsheet*, "Loop Patterns"): a while loop with a maximum
 * number of iterations, a for-each that takes the items one at a time in
 * input order, and pagination until an empty page, with a page cap.
 *
 * ```
 * whileLoop:   START -> while_enter -(condition, iterations < max)-> body -> while_check -+
 *                           \-> END                                  ^-----(again)-------+
 *                                                                    (stop) -> END
 * forEach:     START -> for_each_enter -> step -(more items)-> step ... -> END
 * pagination:  START -> pagination_enter -> fetch_page -(non-empty, under the cap)-> fetch_page ... -> END
 * ```
 *
 * **Bounds live in state, not in LangGraph's recursion limit.** Each loop
 * keeps its counter in state fields you spread into your `StateSchema`
 * ({@link whileLoopFields}, {@link forEachFields}, {@link paginationFields})
 * and stops on it, writing why it stopped. One iteration, item or page is one
 * node run (one superstep; the while loop's check is a second one), so a
 * crash resumes at the iteration it was in. LangGraph also stops any run
 * after `recursionLimit` supersteps (25 by default) with
 * `GraphRecursionError`; a graph of these builders needs at least:
 *
 * | loop | supersteps | `recursionLimit` needed | largest bound at the default 25 |
 * | --- | --- | --- | --- |
 * | while | 1 + 2 x iterations | {@link whileLoopRecursionLimit}: 2 x maxIterations + 2 | 11 iterations, i.e. (25 - 2) / 2 |
 * | for-each | 1 + items | {@link forEachRecursionLimit}: items + 2 | 23 items |
 * | pagination | 1 + pages fetched | {@link paginationRecursionLimit}: maxPages + 2 | 23 pages |
 *
 * Above that, pass a higher `recursionLimit` in the run config (e.g.
 * `graph.invoke(input, { recursionLimit: whileLoopRecursionLimit(50) })`); the
 * defaults ({@link DEFAULT_LOOP_MAX_ITERATIONS}, {@link DEFAULT_MAX_PAGES})
 * fit within 25.
 *
 * **Policies.** `retryPolicy` (default {@link DEFAULT_RETRY_POLICY}) and
 * `timeoutMs` (per attempt, default none) apply to the body, the step and the
 * page node. `fallback` (default none): a failed body iteration writes the
 * fallback's update, counts as an iteration and the loop goes on; a failed
 * item writes it and the loop goes on with the next item; a failed page
 * writes it and ends the pagination with `paginationStopReason: "error"`.
 *
 * @module
 */
import { END, START, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import { GraphDefinitionError } from "../../runtime/errors.js";
import { createGraph, nodeOptions, type BuiltGraph, type NodeFn } from "../core/graph.js";
import {
  checkBound,
  checkNames,
  fallbackHandler,
  requireStateFields,
  TO_END,
  type OrchestrationOptions,
} from "../core/policies.js";

/** The source's `max_iterations` default for a while loop. */
export const DEFAULT_LOOP_MAX_ITERATIONS = 10;
/** Default page cap of a pagination: 20 pages fit in LangGraph's default recursion limit of 25. */
export const DEFAULT_MAX_PAGES = 20;
/** Default number of the first page (the source's `page = 1`). */
export const DEFAULT_FIRST_PAGE = 1;

/** Names of the loops' control nodes. */
export const WHILE_ENTER_NODE = "while_enter";
export const WHILE_CHECK_NODE = "while_check";
export const FOR_EACH_ENTER_NODE = "for_each_enter";
export const PAGINATION_ENTER_NODE = "pagination_enter";

/** `recursionLimit` a while loop of `maxIterations` needs (1 + 2 x iterations supersteps, plus one). */
export function whileLoopRecursionLimit(maxIterations: number): number {
  return 2 * maxIterations + 2;
}

/** `recursionLimit` a for-each over `items` items needs (1 + items supersteps, plus one). */
export function forEachRecursionLimit(items: number): number {
  return items + 2;
}

/** `recursionLimit` a pagination capped at `maxPages` needs (1 + pages supersteps, plus one). */
export function paginationRecursionLimit(maxPages: number): number {
  return maxPages + 2;
}

// ------------------------------------------------------------------ while

/** State fields of a while loop: spread them into your `StateSchema`. */
export const whileLoopFields = {
  iterations: z.number().int().default(0).describe("Iterations of the loop body done in this run"),
  whileStopReason: z
    .enum(["condition", "max_iterations"])
    .nullable()
    .default(null)
    .describe("Why the loop stopped: its condition was false, or the iteration cap was reached; null while it runs"),
};

/** State a while loop reads and writes. */
export interface WhileLoopState {
  iterations: number;
  whileStopReason: "condition" | "max_iterations" | null;
}

/** Options of {@link buildWhileLoop}. */
export interface WhileLoopOptions<S> extends OrchestrationOptions<S> {
  /** Go on while this is true; checked before every iteration, the first included. */
  condition: (state: S, config: LangGraphRunnableConfig) => boolean;
  /** The loop body: a node name and function. */
  body: { name: string; run: NodeFn<S> };
  /** At most this many iterations (a whole number of at least 1). Default {@link DEFAULT_LOOP_MAX_ITERATIONS}. */
  maxIterations?: number;
}

/** Why the loop stops before another iteration, or null to go on. */
function whileStop<S>(options: WhileLoopOptions<S>, max: number, state: S & WhileLoopState, config: LangGraphRunnableConfig): WhileLoopState["whileStopReason"] {
  if (!options.condition(state, config)) return "condition";
  if (state.iterations >= max) return "max_iterations";
  return null;
}

/**
 * Builds a while loop: `while_enter` (resets `iterations` to 0 and checks) ->
 * body -> `while_check` -> body ... until the condition is false
 * (`whileStopReason: "condition"`) or `maxIterations` iterations have run
 * (`"max_iterations"`). The condition is checked first, so a loop whose
 * condition turns false on its last allowed iteration reports `"condition"`.
 *
 * @example
 * ```ts
 * const State = new StateSchema({ jobId: z.string(), status: z.string().default("pending"), ...whileLoopFields });
 * const graph = buildWhileLoop<typeof State.State>({
 *   state: State,
 *   condition: (s) => s.status !== "done",                 // polling until ready
 *   body: { name: "poll", run: async (s) => ({ status: await getStatus(s.jobId) }) },
 *   maxIterations: 5,
 * }).compile();
 * ```
 * @returns the uncompiled `StateGraph`.
 * @throws {GraphDefinitionError} when `maxIterations` is not a whole number of
 *   at least 1, on a reserved or duplicate node name, or when the state lacks
 *   {@link whileLoopFields}.
 */
export function buildWhileLoop<S>(options: WhileLoopOptions<S>): BuiltGraph {
  const BUILDER = "buildWhileLoop";
  const max = options.maxIterations ?? DEFAULT_LOOP_MAX_ITERATIONS;
  checkBound(BUILDER, "maxIterations", max);
  const body = options.body.name;
  checkNames(BUILDER, [WHILE_ENTER_NODE, body, WHILE_CHECK_NODE], options);
  requireStateFields(BUILDER, options, Object.keys(whileLoopFields), "spread whileLoopFields into your StateSchema");
  type LS = S & WhileLoopState;
  const graph: any = createGraph(options, options);
  graph.addNode(WHILE_ENTER_NODE, (state: LS, config: LangGraphRunnableConfig) => ({
    iterations: 0,
    whileStopReason: whileStop(options, max, { ...state, iterations: 0 }, config),
  }));
  graph.addNode(
    body,
    async (state: LS, config: LangGraphRunnableConfig) => ({ ...(await options.body.run(state, config)), iterations: state.iterations + 1 }),
    {
      ...nodeOptions(options),
      ...(options.fallback
        ? { errorHandler: fallbackHandler<LS>(options.fallback as any, WHILE_CHECK_NODE, (state) => ({ iterations: state.iterations + 1 })) }
        : {}),
    },
  );
  graph.addNode(WHILE_CHECK_NODE, (state: LS, config: LangGraphRunnableConfig) => ({ whileStopReason: whileStop(options, max, state, config) }));
  const route = (state: LS) => (state.whileStopReason ? END : body);
  graph.addEdge(START, WHILE_ENTER_NODE);
  graph.addConditionalEdges(WHILE_ENTER_NODE, route, [body, END]);
  graph.addEdge(body, WHILE_CHECK_NODE);
  graph.addConditionalEdges(WHILE_CHECK_NODE, route, [body, END]);
  return graph;
}

// ------------------------------------------------------------------ for-each

/** State fields of a for-each: spread them into your `StateSchema`. */
export const forEachFields = {
  forEachIndex: z.number().int().default(0).describe("Index of the next item to process"),
  forEachCount: z.number().int().default(0).describe("Number of items, read when the loop started"),
};

/** State a for-each reads and writes. */
export interface ForEachState {
  forEachIndex: number;
  forEachCount: number;
}

/** Options of {@link buildForEach}. */
export interface ForEachOptions<S, I> extends OrchestrationOptions<S> {
  /** The items, read when the loop starts (their count is kept) and again for each item; keep them unchanged during the loop. */
  items: (state: S) => readonly I[];
  /**
   * Processes one item: gets the item, its index and the state (with every
   * earlier item's update applied), returns a state update. Collect results
   * in a field with an append reducer, e.g. `new ReducedValue(z.array(...), { reducer: (a, b) => a.concat(b) })`.
   */
  step: { name: string; run: (item: I, index: number, state: S, config: LangGraphRunnableConfig) => Promise<Partial<S>> | Partial<S> };
}

/**
 * Builds a for-each: `for_each_enter` (counts the items, resets the index) ->
 * the step on item 0 -> on item 1 ... one at a time, in input order, one
 * superstep each; no items goes straight to END.
 *
 * @example
 * ```ts
 * const State = new StateSchema({ orders: z.array(Order), receipts: appendList(z.string()), ...forEachFields });
 * const graph = buildForEach<typeof State.State, Order>({
 *   state: State,
 *   items: (s) => s.orders,
 *   step: { name: "charge", run: async (order) => ({ receipts: [await charge(order)] }) },
 * }).compile();
 * ```
 * @returns the uncompiled `StateGraph`.
 * @throws {GraphDefinitionError} on a reserved or duplicate node name, or when
 *   the state lacks {@link forEachFields}.
 */
export function buildForEach<S, I>(options: ForEachOptions<S, I>): BuiltGraph {
  const BUILDER = "buildForEach";
  const step = options.step.name;
  checkNames(BUILDER, [FOR_EACH_ENTER_NODE, step], options);
  requireStateFields(BUILDER, options, Object.keys(forEachFields), "spread forEachFields into your StateSchema");
  type LS = S & ForEachState;
  const graph: any = createGraph(options, options);
  graph.addNode(FOR_EACH_ENTER_NODE, (state: LS) => ({ forEachIndex: 0, forEachCount: options.items(state).length }));
  graph.addNode(
    step,
    async (state: LS, config: LangGraphRunnableConfig) => {
      const index = state.forEachIndex;
      const update = await options.step.run(options.items(state)[index], index, state, config);
      return { ...update, forEachIndex: index + 1 };
    },
    {
      ...nodeOptions(options),
      ...(options.fallback
        ? {
            errorHandler: fallbackHandler<LS>(
              options.fallback as any,
              (state) => (state.forEachIndex + 1 < state.forEachCount ? step : TO_END),
              (state) => ({ forEachIndex: state.forEachIndex + 1 }),
            ),
          }
        : {}),
    },
  );
  const route = (state: LS) => (state.forEachIndex < state.forEachCount ? step : END);
  graph.addEdge(START, FOR_EACH_ENTER_NODE);
  graph.addConditionalEdges(FOR_EACH_ENTER_NODE, route, [step, END]);
  graph.addConditionalEdges(step, route, [step, END]);
  return graph;
}

// ------------------------------------------------------------------ pagination

/** Why a pagination stopped. */
export const PaginationStopReason = z.enum(["empty_page", "page_cap", "error"]);
export type PaginationStopReason = z.infer<typeof PaginationStopReason>;

/** State fields of a pagination: spread them into your `StateSchema`. */
export const paginationFields = {
  page: z.number().int().nullable().default(null).describe("The last page fetched; null before the first"),
  pagesProcessed: z.number().int().default(0).describe("Non-empty pages fetched and processed in this run"),
  paginationStopReason: PaginationStopReason.nullable()
    .default(null)
    .describe("empty_page: the last page fetched was empty; page_cap: maxPages pages were processed (more may exist); error: a page failed and the fallback handled it"),
};

/** State a pagination reads and writes. */
export interface PaginationState {
  page: number | null;
  pagesProcessed: number;
  paginationStopReason: PaginationStopReason | null;
}

/** Options of {@link buildPagination}. */
export interface PaginationOptions<S, T> extends OrchestrationOptions<S> {
  /**
   * Fetches page `page` (numbered from `firstPage`); an empty array (or null)
   * ends the loop. Keep a cursor in state (written by `process`) if the API
   * pages by cursor.
   */
  fetchPage: (page: number, state: S, config: LangGraphRunnableConfig) => Promise<readonly T[] | null | undefined> | readonly T[] | null | undefined;
  /** Processes a non-empty page; returns a state update (e.g. appended results, the next cursor). */
  process: (items: T[], page: number, state: S, config: LangGraphRunnableConfig) => Promise<Partial<S>> | Partial<S>;
  /** At most this many non-empty pages are processed (a whole number of at least 1). Default {@link DEFAULT_MAX_PAGES}. */
  maxPages?: number;
  /** Number of the first page. Default {@link DEFAULT_FIRST_PAGE}. */
  firstPage?: number;
  /** Name of the node that fetches and processes a page. Default `fetch_page`. */
  name?: string;
}

/**
 * Builds a pagination: `pagination_enter` (resets the counters) -> the page
 * node, which fetches page `firstPage + pagesProcessed` and, when it is not
 * empty, processes it, once per superstep, until a page is empty
 * (`paginationStopReason: "empty_page"`) or `maxPages` pages have been
 * processed (`"page_cap"`: the cap was reached, and more pages may exist).
 * Fetching and processing a page are one node: a retry does both again.
 *
 * @example
 * ```ts
 * const State = new StateSchema({ rows: appendList(Row), ...paginationFields });
 * const graph = buildPagination<typeof State.State, Row>({
 *   state: State,
 *   fetchPage: (page, _s, config) => api.list({ page, signal: config.signal }),
 *   process: (rows) => ({ rows }),
 *   maxPages: 10,
 * }).compile();
 * ```
 * @returns the uncompiled `StateGraph`.
 * @throws {GraphDefinitionError} when `maxPages` is not a whole number of at
 *   least 1 or `firstPage` not a whole number, on a reserved or duplicate node
 *   name, or when the state lacks {@link paginationFields}.
 */
export function buildPagination<S, T>(options: PaginationOptions<S, T>): BuiltGraph {
  const BUILDER = "buildPagination";
  const maxPages = options.maxPages ?? DEFAULT_MAX_PAGES;
  checkBound(BUILDER, "maxPages", maxPages);
  const firstPage = options.firstPage ?? DEFAULT_FIRST_PAGE;
  if (!Number.isInteger(firstPage)) throw new GraphDefinitionError(BUILDER, `firstPage must be a whole number, got ${firstPage}`);
  const name = options.name ?? "fetch_page";
  checkNames(BUILDER, [PAGINATION_ENTER_NODE, name], options);
  requireStateFields(BUILDER, options, Object.keys(paginationFields), "spread paginationFields into your StateSchema");
  type LS = S & PaginationState;
  const graph: any = createGraph(options, options);
  graph.addNode(PAGINATION_ENTER_NODE, () => ({ page: null, pagesProcessed: 0, paginationStopReason: null }));
  graph.addNode(
    name,
    async (state: LS, config: LangGraphRunnableConfig) => {
      const page = firstPage + state.pagesProcessed;
      const items = await options.fetchPage(page, state, config);
      if (!items || items.length === 0) return { page, paginationStopReason: "empty_page" };
      const update = await options.process([...items], page, state, config);
      const processed = state.pagesProcessed + 1;
      return { ...update, page, pagesProcessed: processed, paginationStopReason: processed >= maxPages ? "page_cap" : null };
    },
    {
      ...nodeOptions(options),
      ...(options.fallback
        ? {
            errorHandler: fallbackHandler<LS>(options.fallback as any, TO_END, (state) => ({
              page: firstPage + state.pagesProcessed,
              paginationStopReason: "error",
            })),
          }
        : {}),
    },
  );
  graph.addEdge(START, PAGINATION_ENTER_NODE);
  graph.addEdge(PAGINATION_ENTER_NODE, name);
  graph.addConditionalEdges(name, (state: LS) => (state.paginationStopReason ? END : name), [name, END]);
  return graph;
}
