/**
 * Map-reduce with hierarchical reduction (the article *Workflow*'s "Map-Reduce Workflow":
 * long document -> split into chunks -> summarise each chunk in parallel ->
 * final summary; the *Workflow Patterns Cheatsheet*'s "Map-Reduce" with a concurrency limit). A
 * summary of many chunks may not fit one reducer call, so the reduce step is
 * hierarchical: the partial results are packed into groups that each fit a
 * token budget, each group is reduced in parallel, and this repeats, level by
 * level, until one result fits the final token budget (or the round cap is
 * reached).
 *
 * ```
 * START -> split -> map worker x N (Send) -> collect -+-> reduce worker x G (Send) -+
 *                                             ^       |                             |
 *                                             +-------(one round; rounds += 1)------+
 *                                                     +-> finish -> END
 * ```
 *
 * - `split` runs the user's split function (e.g. a text splitter), drops
 *   blank chunks, and resets the results channel and the figures (so a
 *   thread's second run starts from scratch);
 * - the map fan-out is `addFanOut` (`fanOut.ts`): one task per chunk in one
 *   superstep (beyond `maxTasks`, 64 by default, each task a batch of
 *   chunks), at most `maxConcurrency` at once, results put back in chunk
 *   order by `orderedResults`;
 * - `collect` puts the last fan-out's results in order (the current *level*,
 *   its size appended to `levels` and its tokens to `levelTokens`), then
 *   either finishes or packs the level into groups with {@link groupByTokens}
 *   and sends one reduce task per group (`sendEach`, the same per-fan-out
 *   limit); `rounds` counts the reduce rounds sent;
 * - `finish` writes `summary`, `summaryTokens`, `finishReason` and
 *   `truncated`, then the user's optional `finish` update.
 *
 * It stops when one result is left and it fits `tokenBudget`
 * (`finishReason: "fits_budget"`), when there was nothing to map
 * (`"no_chunks"`, empty summary), when a round made no progress (`"stalled"`:
 * it left as many results as it was given, with no fewer tokens, so repeating
 * it is pointless), or when `maxRounds` reduce rounds have run
 * (`"max_rounds"`). In the last two cases the summary is the last level
 * joined by blank lines and `summaryTokens` shows by how much it misses the
 * budget, unless `overBudget: "truncate"` keeps only its leading sentences
 * that fit, joined by spaces (then `truncated` is true). A run takes
 * `4 + 2 × rounds` supersteps; LangGraph's default `recursionLimit` (25) thus
 * allows {@link MAX_ROUNDS_LIMIT} rounds.
 *
 * A worker that throws fails the run with its error once its retries (the
 * graph's `retryPolicy`) are spent; `timeoutMs` is each map or reduce
 * attempt's timeout, counted once the task holds a concurrency slot.
 *
 * Tokens are counted with `countTokens` (o200k_base, the encoding of gpt-4o and
 * gpt-4o-mini) unless the options give another counter. Each result is
 * counted once per level, and `collect` and `finish` let the event loop turn
 * every few thousand characters they read (a level of a 1 MB document is
 * hundreds of kilobytes), so that a server running the graph keeps answering.
 *
 * @example
 * ```ts
 * const State = new StateSchema({ text: z.string(), ...mapReduceFields });
 * const graph = buildMapReduce<typeof State.State>({
 *   state: State,
 *   split: (s) => splitter.splitText(s.text),
 *   map: { name: "summarize_chunk", run: (chunk) => summarize(chunk) },
 *   reduce: { name: "reduce_summaries", run: (group) => summarize(group.join("\n\n")) },
 *   tokenBudget: () => 400,
 *   maxConcurrency: () => 4,
 * }).compile();
 * const out = await graph.invoke({ text });   // out.summary, out.rounds, out.summaryTokens
 * ```
 * @module
 */
import { END, Overwrite, START, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import { countTokens as o200kTokens, countTokensInSteps, EventLoopSlicer, PAUSE_EVERY_CHARS, runToEnd, sentencesInSteps } from "../../runtime/text.js";
import { GraphDefinitionError } from "../../runtime/errors.js";
import { checkNodeNames } from "../core/nodeNames.js";
import { createGraph, nodeOptions, type BuiltGraph, type GraphSchemas, type PolicyOptions, type FallbackOptions } from "../core/graph.js";
import { addFanOut, DEFAULT_MAX_WORKER_TASKS, indexedResults, orderedResults, sendEach, workerNode, type Indexed } from "../core/fanOut.js";

/** Names of the nodes {@link buildMapReduce} adds besides the map and reduce workers. */
export const SPLIT_NODE = "split";
export const COLLECT_NODE = "collect";
export const FINISH_NODE = "finish";

/** Reduce rounds a run may take unless the options say otherwise. */
export const DEFAULT_MAX_ROUNDS = 8;
/** Most rounds that fit LangGraph's default recursion limit of 25 supersteps (4 + 2 × rounds). */
export const MAX_ROUNDS_LIMIT = 10;

/** Why a map-reduce run stopped. */
export const FinishReason = z.enum(["fits_budget", "no_chunks", "stalled", "max_rounds"]);
export type FinishReason = z.infer<typeof FinishReason>;

/**
 * State fields a map-reduce needs: spread them into your `StateSchema`. The
 * builder writes them all; read `summary`, `summaryTokens`, `rounds`,
 * `levels`, `levelTokens`, `finishReason` and `truncated` after a run.
 */
export const mapReduceFields = {
  chunkTexts: z.array(z.string()).default(() => []).describe("The chunks the split produced, in document order"),
  partials: z.array(z.string()).default(() => []).describe("The current level's results, in document order"),
  partialResults: indexedResults(z.string()),
  reduceGroups: z.array(z.array(z.string())).default(() => []).describe("The groups of the reduce round in progress"),
  pending: z.number().int().min(0).default(0).describe("How many results the fan-out in progress owes"),
  rounds: z.number().int().min(0).default(0).describe("Reduce rounds run so far"),
  levels: z.array(z.number().int()).default(() => []).describe("Results at each level: chunks mapped, then after each reduce round"),
  levelTokens: z.array(z.number().int()).default(() => []).describe("Tokens of all results at each level (same order as levels)"),
  summary: z.string().default("").describe("The final result"),
  summaryTokens: z.number().int().min(0).default(0).describe("Tokens of the final result (o200k_base unless another counter is given)"),
  finishReason: FinishReason.nullable().default(null).describe("Why the run stopped: fits_budget, no_chunks, stalled or max_rounds"),
  truncated: z.boolean().default(false).describe("Whether the summary was cut to its leading sentences to fit the budget (overBudget: truncate)"),
};

/** State a map-reduce reads: your fields plus {@link mapReduceFields}. */
export interface MapReduceState {
  chunkTexts: string[];
  partials: string[];
  partialResults: Indexed<string>[];
  reduceGroups: string[][];
  pending: number;
  rounds: number;
  levels: number[];
  levelTokens: number[];
  summary: string;
  summaryTokens: number;
  finishReason: FinishReason | null;
  truncated: boolean;
}

/** Options of {@link buildMapReduce}. */
export interface MapReduceOptions<S, C> extends GraphSchemas, PolicyOptions, FallbackOptions<S> {
  /** Splits the input into chunks, in document order (e.g. `RecursiveCharacterTextSplitter.splitText`). */
  split: (state: S, config: LangGraphRunnableConfig) => Promise<string[]> | string[];
  /** Values of the state every map and reduce task gets (e.g. a focus question). */
  context?: (state: S) => C;
  /** The map worker: one chunk in, one partial result out. */
  map: { name: string; run: (chunk: string, index: number, context: C, config: LangGraphRunnableConfig) => Promise<string> | string };
  /** The reduce worker: a group of partial results (in document order) in, one result out. */
  reduce: { name: string; run: (group: string[], index: number, context: C, config: LangGraphRunnableConfig) => Promise<string> | string };
  /** Most tokens the final result may have (≥ 1). */
  tokenBudget: (state: S, config: LangGraphRunnableConfig) => number;
  /**
   * Most tokens of the partial results one reduce task gets (the sum over its
   * group; ≥ 1). Default: `tokenBudget`. A partial over this budget forms a
   * group of its own.
   */
  groupTokenBudget?: (state: S, config: LangGraphRunnableConfig) => number | undefined;
  /** At most this many map or reduce calls at once, per fan-out (undefined: unbounded; 1 runs them one at a time). */
  maxConcurrency?: (state: S, config: LangGraphRunnableConfig) => number | undefined;
  /**
   * Most tasks of one map or reduce fan-out (undefined:
   * {@link DEFAULT_MAX_WORKER_TASKS}, 64). With more chunks (or groups) than
   * that, they are split into that many contiguous batches, one `Send` task
   * each, because LangGraph's task runner costs O(tasks^2) per superstep
   * (docs/performance.md). Each chunk keeps its own attempts and timeout; a
   * batch is checkpointed when all its chunks are done, so a resumed run redoes
   * the batches that had not finished. Return `Infinity` for one task per chunk
   * (a worker that calls `interrupt()` or `onceForTask` needs it). Read per run.
   */
  maxTasks?: (state: S, config: LangGraphRunnableConfig) => number | undefined;
  /** Reduce rounds before giving up (default {@link DEFAULT_MAX_ROUNDS}; 0 … {@link MAX_ROUNDS_LIMIT}). */
  maxRounds?: (state: S) => number | undefined;
  /** Token counter (default: o200k_base `countTokens`). */
  countTokens?: (text: string) => number;
  /**
   * What to do when the loop ends (stalled or at the round cap) with a result
   * over `tokenBudget`: `keep` it (default) or `truncate` it to its leading
   * sentences that fit (see {@link truncateToTokens}).
   */
  overBudget?: (state: S) => "keep" | "truncate" | undefined;
  /** Extra update written by the `finish` node, with the finished state. */
  finish?: (state: S & MapReduceState, config: LangGraphRunnableConfig) => Partial<S> | Promise<Partial<S>>;
}

/**
 * Packs `items` in order into groups whose token sums stay within `budget`
 * (greedy, order kept, each group non-empty). An item over the budget on its
 * own forms a group of its own.
 *
 * @param budget - Most tokens per group (≥ 1).
 * @param count - Token counter (default o200k_base).
 * @throws {GraphDefinitionError} when `budget` is not a positive whole number.
 */
export function groupByTokens(items: readonly string[], budget: number, count: (text: string) => number = o200kTokens): string[][] {
  return groupByCounts(items, items.map((item) => count(item)), budget);
}

/** {@link groupByTokens} with each item's token count given (`tokens[i]` for `items[i]`). */
function groupByCounts(items: readonly string[], tokenCounts: readonly number[], budget: number): string[][] {
  if (!Number.isInteger(budget) || budget < 1) throw new GraphDefinitionError("buildMapReduce", `a token budget must be a whole number of at least 1, got ${budget}`);
  const groups: string[][] = [];
  let current: string[] = [];
  let used = 0;
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    const tokens = tokenCounts[i];
    if (current.length && used + tokens > budget) {
      groups.push(current);
      current = [];
      used = 0;
    }
    current.push(item);
    used += tokens;
  }
  if (current.length) groups.push(current);
  return groups;
}

/**
 * The longest prefix of `text` made of whole sentences, joined by spaces,
 * that has at most `budget` tokens; when even the first sentence is over,
 * its leading words that fit. Sentences are found by `sentences`
 * (`Intl.Segmenter`, with abbreviations such as "Mr." kept inside a sentence).
 *
 * Linear in the length of the text: each sentence is counted once (a space
 * and a sentence count as the sum of their parts, which holds for o200k_base
 * and for word or character counters), then the result once more to check.
 *
 * @param budget - Most tokens (≥ 0).
 * @param count - Token counter (default o200k_base).
 */
export function truncateToTokens(text: string, budget: number, count: (text: string) => number = o200kTokens): string {
  return runToEnd(truncateInSteps(text, budget, count));
}

/** {@link truncateToTokens} as a generator that pauses (`yield`) every few thousand characters. */
function* truncateInSteps(text: string, budget: number, count: (text: string) => number): Generator<void, string, void> {
  const total = yield* countInSteps([text], count);
  if (total[0] <= budget) return text;
  const all = yield* sentencesInSteps(text);
  const kept: string[] = [];
  let used = 0;
  let read = 0;
  for (const sentence of all) {
    const tokens = count(kept.length ? ` ${sentence}` : sentence);
    if (used + tokens > budget) break;
    kept.push(sentence);
    used += tokens;
    read += sentence.length;
    if (read >= PAUSE_EVERY_CHARS) {
      read = 0;
      yield;
    }
  }
  // The sum is exact for o200k_base; a counter for which it is not drops the sentences the check finds over.
  while (kept.length && count(kept.join(" ")) > budget) kept.pop();
  if (kept.length) return kept.join(" ");
  const words = (all[0] ?? "").split(/\s+/);
  let lo = 0;
  let hi = words.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (count(words.slice(0, mid).join(" ")) <= budget) lo = mid;
    else hi = mid - 1;
  }
  return words.slice(0, lo).join(" ");
}

/** Token counts of `texts`, pausing (`yield`) every {@link PAUSE_EVERY_CHARS} characters. */
function* countInSteps(texts: readonly string[], count: (text: string) => number): Generator<void, number[], void> {
  const out: number[] = [];
  let read = 0;
  for (const text of texts) {
    out.push(count === o200kTokens ? yield* countTokensInSteps(text) : count(text));
    read += text.length;
    if (read >= PAUSE_EVERY_CHARS) {
      read = 0;
      yield;
    }
  }
  return out;
}

function positiveInt(value: number | undefined, what: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined || !Number.isInteger(value) || value < min || value > max) {
    throw new GraphDefinitionError("buildMapReduce", `${what} must be a whole number from ${min} to ${max}, got ${value}`);
  }
  return value;
}

/**
 * Builds a map-reduce with hierarchical reduction (see the module doc).
 *
 * @returns the uncompiled `StateGraph`; its state must include {@link mapReduceFields}.
 * @throws {GraphDefinitionError} on a reserved or duplicate node name (the
 *   workers may not be called `split`, `collect` or `finish`); at run time when
 *   `tokenBudget`, `groupTokenBudget` or `maxRounds` is out of range.
 * @throws {FanOutIncompleteError} at run time if a map or reduce result is missing or repeated.
 */
export function buildMapReduce<S, C = undefined>(options: MapReduceOptions<S, C>): BuiltGraph {
  const { map, reduce } = options;
  checkNodeNames("buildMapReduce", [SPLIT_NODE, map.name, COLLECT_NODE, reduce.name, FINISH_NODE]);
  const count = options.countTokens ?? o200kTokens;
  const graph: any = createGraph(options, { ...options, nodeFallback: options.fallback });
  type Full = S & MapReduceState;
  const maxTasks = (state: Full, config: LangGraphRunnableConfig) => options.maxTasks?.(state, config) ?? DEFAULT_MAX_WORKER_TASKS;

  graph.addNode(SPLIT_NODE, async (state: Full, config: LangGraphRunnableConfig) => {
    const chunks = (await options.split(state, config)).filter((c) => c.trim().length > 0);
    return {
      chunkTexts: chunks,
      partials: [],
      partialResults: new Overwrite([]),
      reduceGroups: [],
      pending: chunks.length,
      rounds: 0,
      levels: [],
      levelTokens: [],
      summary: "",
      summaryTokens: 0,
      finishReason: null,
      truncated: false,
    };
  }, nodeOptions(options));

  graph.addNode(COLLECT_NODE, async (state: Full, config: LangGraphRunnableConfig) => {
    const label = state.rounds === 0 ? map.name : reduce.name;
    const level = orderedResults(state.partialResults ?? [], state.pending, label);
    const counts = await new EventLoopSlicer().run(countInSteps(level, count));
    const tokens = counts.reduce((n, c) => n + c, 0);
    const levels = [...state.levels, level.length];
    const levelTokens = [...state.levelTokens, tokens];
    const budget = positiveInt(options.tokenBudget(state, config), "tokenBudget", 1);
    const maxRounds = positiveInt(options.maxRounds?.(state) ?? DEFAULT_MAX_ROUNDS, "maxRounds", 0, MAX_ROUNDS_LIMIT);
    const previous = state.levels.length;
    const stalled = state.rounds > 0 && level.length >= state.levels[previous - 1] && tokens >= state.levelTokens[previous - 1];
    const done = level.length === 0 || (level.length === 1 && tokens <= budget) || stalled || state.rounds >= maxRounds;
    if (done) return { partials: level, levels, levelTokens, reduceGroups: [], finishReason: stalled ? "stalled" : null };
    const groupBudget = positiveInt(options.groupTokenBudget?.(state, config) ?? budget, "groupTokenBudget", 1);
    const groups = groupByCounts(level, counts, groupBudget);
    return {
      partials: level,
      levels,
      levelTokens,
      reduceGroups: groups,
      partialResults: new Overwrite([]),
      pending: groups.length,
      rounds: state.rounds + 1,
    };
  });

  graph.addNode(FINISH_NODE, async (state: Full, config: LangGraphRunnableConfig) => {
    const level = state.partials;
    const joined = level.join("\n\n");
    const budget = options.tokenBudget(state, config);
    const slicer = new EventLoopSlicer();
    const [joinedTokens] = await slicer.run(countInSteps([joined], count));
    const fits = level.length === 1 && joinedTokens <= budget;
    const finishReason: FinishReason =
      level.length === 0 ? "no_chunks" : fits ? "fits_budget" : state.finishReason === "stalled" ? "stalled" : "max_rounds";
    const truncate = !fits && level.length > 0 && options.overBudget?.(state) === "truncate";
    const summary = truncate ? await slicer.run(truncateInSteps(joined, budget, count)) : joined;
    const summaryTokens = summary === joined ? joinedTokens : count(summary);
    const base = { summary, summaryTokens, finishReason, truncated: summary !== joined };
    const extra = options.finish ? await options.finish({ ...state, ...base }, config) : {};
    return { ...base, ...extra };
  }, nodeOptions(options));

  graph.addEdge(START, SPLIT_NODE);
  addFanOut<Full, string, C, string>(graph, {
    from: SPLIT_NODE,
    workerName: map.name,
    items: (s) => s.chunkTexts,
    context: options.context,
    worker: map.run,
    resultsKey: "partialResults",
    then: COLLECT_NODE,
    maxConcurrency: options.maxConcurrency,
    timeoutMs: options.timeoutMs,
    retryPolicy: options.retryPolicy,
    maxTasks,
  });
  graph.addNode(reduce.name, workerNode("partialResults", reduce.run, reduce.name, options.timeoutMs, options.retryPolicy));
  graph.addConditionalEdges(
    COLLECT_NODE,
    (state: Full, config: LangGraphRunnableConfig) => {
      if (state.reduceGroups.length === 0) return FINISH_NODE;
      const context = (options.context ? options.context(state) : undefined) as C;
      return sendEach(reduce.name, state.reduceGroups, context, options.maxConcurrency?.(state, config), maxTasks(state, config));
    },
    [reduce.name, FINISH_NODE],
  );
  graph.addEdge(reduce.name, COLLECT_NODE);
  graph.addEdge(FINISH_NODE, END);
  return graph;
}
