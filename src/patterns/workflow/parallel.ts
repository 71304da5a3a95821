/**
 * Parallelization (*Lesson 05: Workflow Patterns* pattern 3, *LLM Workflow Patterns*), in the three forms of the
 * literature:
 *
 * - {@link buildParallelMap}: one worker per item with `Send`, results in input
 *   order, an optional concurrency limit (bulk classification);
 * - {@link buildSectioning}: several independent sections on one input in one
 *   superstep, then an aggregator;
 * - {@link buildVoting}: several samples of one decision, then a majority vote
 *   with the vote counts kept (prompt ensembles, *LLM Workflow Patterns* refs 10-13).
 *
 * @module
 */
import { END, Overwrite, ReducedValue, START, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import { GraphDefinitionError } from "../../runtime/errors.js";
import { checkNodeNames } from "../core/nodeNames.js";
import { createGraph, nodeOptions, type BuiltGraph, type GraphSchemas, type NodeFn, type PolicyOptions, type FallbackOptions, type NotForFallback } from "../core/graph.js";
import { addFanOut, DEFAULT_MAX_WORKER_TASKS, describeFailures, FanOutFailedError, settledResults, type Indexed, type WorkerFailure } from "../core/fanOut.js";
import { LlmWorkflowsError } from "../../runtime/errors.js";

/** How a parallel map's workers fared: the failures (tolerated ones) and whether the results are partial. */
export interface MapOutcome {
  failures: WorkerFailure[];
  /** True when some items failed and the run went on without them. */
  partial: boolean;
}

/**
 * Fewer items succeeded than the run's `minSuccesses`. Like
 * {@link FanOutFailedError}, it names the failed items and carries the
 * finished results (`partial`).
 */
export class TooFewSuccessesError<T = unknown> extends LlmWorkflowsError implements NotForFallback {
  readonly notForFallback = true as const;
  /** The failed items, in index order. */
  readonly failures: WorkerFailure[];
  /** Every item's result in input order; undefined where the item failed. */
  readonly partial: Array<T | undefined>;

  constructor(worker: string, succeeded: number, required: number, failures: WorkerFailure[], partial: Array<T | undefined> = []) {
    super(
      "TOO_FEW_SUCCESSES",
      `${worker}: ${succeeded} item(s) succeeded, at least ${required} required (minSuccesses); failures: ${describeFailures(failures)}. The finished results are kept on this error (partial)`,
    );
    this.failures = failures;
    this.partial = partial;
  }
}

/** Names of the nodes {@link buildParallelMap} and {@link buildVoting} add. */
export const DISPATCH_NODE = "dispatch";
export const COLLECT_NODE = "collect";

/** Options of {@link buildParallelMap}. */
export interface ParallelMapOptions<S, I, C, R> extends GraphSchemas, PolicyOptions, FallbackOptions<S> {
  /** The items to map; one worker task each. */
  items: (state: S) => readonly I[];
  /** Values of the state every worker gets. */
  context?: (state: S) => C;
  /** The worker node's name and function. */
  worker: { name: string; run: (item: I, index: number, context: C, config: LangGraphRunnableConfig) => Promise<R> | R };
  /** State key of the `indexedResults(...)` channel the workers write. */
  resultsKey: string;
  /** Turns the results, in input order, into the final update (e.g. `{ results }`). */
  collect: (results: R[], state: S, outcome: MapOutcome) => Partial<S>;
  /**
   * Tolerated failures. An item that still fails after its retries never
   * stops the other items; once all are done, with a number here the run
   * finishes (marked partial, the failures listed) when at least that many
   * items succeeded, and below it fails with a {@link TooFewSuccessesError}.
   * Undefined (the default): any failed item fails the run with a
   * {@link FanOutFailedError} naming the failed items, with every finished
   * result on the error (`partial`). Read per run.
   */
  minSuccesses?: (state: S) => number | undefined;
  /** Concurrency limit of the fan-out for a run (undefined: unbounded). */
  maxConcurrency?: (state: S, config: LangGraphRunnableConfig) => number | undefined;
  /**
   * Most worker tasks of a run (undefined: {@link DEFAULT_MAX_WORKER_TASKS},
   * 64). With more items, the items are split into that many batches, one
   * `Send` task each, because LangGraph 1.4's task runner costs O(tasks^2) per
   * superstep (docs/performance.md). Each item keeps its own attempts,
   * timeout and tolerated failure; a batch is checkpointed when it is done.
   * Return `Infinity` for one task per item, which a worker that calls
   * `interrupt()` or `onceForTask` needs.
   */
  maxTasks?: (state: S, config: LangGraphRunnableConfig) => number | undefined;
}

/**
 * Builds a parallel map: `dispatch` (resets the results channel) -> N workers
 * in one superstep (at most `maxTasks` tasks, 64 by default) -> `collect`
 * (results in input order, each exactly once).
 *
 * @throws {GraphDefinitionError} on a reserved or duplicate node name.
 * @throws {FanOutIncompleteError} at run time if a result is missing or repeated.
 * @throws {FanOutFailedError} at run time when items failed and `minSuccesses` is not set.
 * @throws {TooFewSuccessesError} at run time when fewer than `minSuccesses` items succeeded.
 */
export function buildParallelMap<S, I, C = undefined, R = unknown>(options: ParallelMapOptions<S, I, C, R>): BuiltGraph {
  checkNodeNames("buildParallelMap", [DISPATCH_NODE, options.worker.name, COLLECT_NODE]);
  const graph: any = createGraph(options, { ...options, nodeFallback: options.fallback });
  graph.addNode(DISPATCH_NODE, () => ({ [options.resultsKey]: new Overwrite([]) }));
  graph.addNode(COLLECT_NODE, (state: S) => {
    const entries = (state as Record<string, Indexed<R>[]>)[options.resultsKey] ?? [];
    const items = options.items(state);
    const { values, failures } = settledResults(entries, items.length, options.worker.name, items);
    const min = options.minSuccesses?.(state);
    if (failures.length && min === undefined) throw new FanOutFailedError(options.worker.name, failures, values);
    if (failures.length && min !== undefined && items.length - failures.length < min) {
      throw new TooFewSuccessesError(options.worker.name, items.length - failures.length, min, failures, values);
    }
    return options.collect(values as R[], state, { failures, partial: failures.length > 0 });
  });
  graph.addEdge(START, DISPATCH_NODE);
  addFanOut<S, I, C, R>(graph, {
    from: DISPATCH_NODE,
    workerName: options.worker.name,
    items: options.items,
    context: options.context,
    worker: options.worker.run,
    resultsKey: options.resultsKey,
    then: COLLECT_NODE,
    maxConcurrency: options.maxConcurrency,
    timeoutMs: options.timeoutMs,
    retryPolicy: options.retryPolicy,
    maxTasks: (state, config) => options.maxTasks?.(state, config) ?? DEFAULT_MAX_WORKER_TASKS,
  });
  graph.addEdge(COLLECT_NODE, END);
  return graph;
}

/**
 * A state channel for {@link buildSectioning}: section name -> value, merged
 * from parallel writes.
 */
export function keyedResults<T extends z.ZodType>(value: T): ReducedValue<Record<string, z.infer<T>>, Record<string, z.infer<T>>> {
  const schema = z.record(z.string(), value).default(() => ({}));
  return new ReducedValue<Record<string, z.infer<T>>, Record<string, z.infer<T>>>(schema as unknown as z.ZodType<Record<string, z.infer<T>>>, {
    inputSchema: z.record(z.string(), value) as unknown as z.ZodType<Record<string, z.infer<T>>>,
    reducer: (current, next) => ({ ...current, ...next }),
  });
}

/** Options of {@link buildSectioning}. */
export interface SectioningOptions<S, R> extends GraphSchemas, PolicyOptions, FallbackOptions<S> {
  /** Section name -> function producing that section's value from the state. */
  sections: Record<string, (state: S, config: LangGraphRunnableConfig) => Promise<R> | R>;
  /** State key of the `keyedResults(...)` channel the sections write. */
  sectionsKey: string;
  /** Runs once every section has written; reads `state[sectionsKey]`. */
  aggregator: { name: string; run: NodeFn<S> };
}

/**
 * Builds sectioning: every section node runs in the same superstep straight
 * from START, then the aggregator joins them.
 *
 * @throws {GraphDefinitionError} with fewer than two sections or on a name clash.
 */
export function buildSectioning<S, R>(options: SectioningOptions<S, R>): BuiltGraph {
  const names = Object.keys(options.sections);
  if (names.length < 2) throw new GraphDefinitionError("buildSectioning", "needs at least two sections");
  checkNodeNames("buildSectioning", [...names, options.aggregator.name]);
  const graph: any = createGraph(options, { ...options, nodeFallback: options.fallback });
  for (const [name, run] of Object.entries(options.sections)) {
    graph.addNode(name, async (state: S, config: LangGraphRunnableConfig) => ({
      [options.sectionsKey]: { [name]: await run(state, config) },
    }), nodeOptions(options));
    graph.addEdge(START, name);
  }
  graph.addNode(options.aggregator.name, options.aggregator.run, nodeOptions(options));
  graph.addEdge(names, options.aggregator.name);
  graph.addEdge(options.aggregator.name, END);
  return graph;
}

/** The outcome of a majority vote. */
export interface Tally {
  /** The label with most votes; ties go to the label voted first. Null with no votes. */
  winner: string | null;
  /** Votes per label (a plain object: number-like labels are listed first). */
  counts: Record<string, number>;
  /** Share of the votes the winner got, in [0, 1]. */
  agreement: number;
  /** Whether another label had as many votes as the winner. */
  tie: boolean;
}

/** Counts `votes` and picks the majority (see {@link Tally}). */
export function tallyVotes(votes: readonly string[]): Tally {
  // A Map keeps labels in first-vote order (plain objects put number-like keys
  // first) and has no inherited keys ("constructor", "__proto__").
  const tally = new Map<string, number>();
  for (const v of votes) tally.set(v, (tally.get(v) ?? 0) + 1);
  let winner: string | null = null;
  let best = 0;
  let tie = false;
  for (const [label, n] of tally) {
    if (n > best) {
      winner = label;
      best = n;
      tie = false;
    } else if (n === best) tie = true;
  }
  // Object.fromEntries defines own data properties, "__proto__" included.
  return { winner, counts: Object.fromEntries(tally), agreement: winner === null ? 0 : best / votes.length, tie };
}

/** Options of {@link buildVoting}. */
export interface VotingOptions<S, C> extends GraphSchemas, PolicyOptions {
  /** How many votes to take for a run (at least 1). */
  voters: (state: S) => number;
  /** Values of the state every voter gets. */
  context?: (state: S) => C;
  /** The voter node's name and function: voter `i` (0-based) returns a label. */
  voter: { name: string; run: (voter: number, context: C, config: LangGraphRunnableConfig) => Promise<string> | string };
  /** State key of the `indexedResults(z.string())` channel the voters write. */
  votesKey: string;
  /** Turns the tally and the votes (in voter order) into the final update. */
  collect: (tally: Tally, votes: string[], state: S) => Partial<S>;
}

/**
 * Builds voting: `dispatch` -> N voters in one superstep -> `collect` (majority vote).
 * @throws {GraphDefinitionError} on a name clash; at run time when `voters` is below 1.
 */
export function buildVoting<S, C = undefined>(options: VotingOptions<S, C>): BuiltGraph {
  const count = (state: S) => {
    const n = options.voters(state);
    if (!Number.isInteger(n) || n < 1) throw new GraphDefinitionError("buildVoting", `voters must be a whole number of at least 1, got ${n}`);
    return n;
  };
  return buildParallelMap<S, number, C, string>({
    ...options,
    items: (state) => Array.from({ length: count(state) }, (_, i) => i),
    worker: { name: options.voter.name, run: (voter, _index, context, config) => options.voter.run(voter, context, config) },
    resultsKey: options.votesKey,
    collect: (votes, state) => options.collect(tallyVotes(votes), votes, state),
    minSuccesses: undefined,
  });
}
