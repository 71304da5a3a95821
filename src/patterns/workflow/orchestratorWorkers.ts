/**
 * Orchestrator-workers (*Lesson 05: Workflow Patterns* pattern 4, *LLM Workflow Patterns*): an orchestrator node
 * plans subtasks whose number is known only at run time, `Send` fans out one
 * worker per subtask in one superstep (at most `maxTasks` tasks, 64 by
 * default: beyond that, each task is a batch of subtasks), a reducer gathers
 * their results, and a synthesizer writes the final answer from the results in
 * plan order.
 *
 * ```
 * START -> orchestrator -> worker x N (Send) -> synthesizer -> END
 *                      \-> synthesizer (no subtasks)
 *                      \-> sequential worker -(more)-> itself   (option `sequential`)
 *                                            \-(done)-> synthesizer
 * ```
 *
 * With the `sequential` option a run may take the subtasks one at a time
 * instead: a loop node runs the same worker function on subtask `i` (the
 * index lives in state), then on `i + 1`, and so on, writing to the same
 * results channel, so the synthesizer (and the output) is the same for both
 * (*LLM Workflow Patterns*'s sequential vs parallel FAQ generation).
 *
 * @example
 * ```ts
 * const graph = buildOrchestratorWorkers({
 *   state: State,
 *   orchestrator: { name: "plan", run: plan },                 // writes { subtasks }
 *   subtasks: (s) => s.subtasks,
 *   worker: { name: "research", run: (subtask) => research(subtask) },
 *   resultsKey: "findings",                                    // indexedResults(Finding)
 *   synthesizer: { name: "synthesize", run: (s, findings) => ({ report: join(findings) }) },
 * }).compile();
 * ```
 * @module
 */
import { END, Overwrite, START, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { checkNodeNames } from "../core/nodeNames.js";
import { createGraph, nodeOptions, type BuiltGraph, type GraphSchemas, type NodeFn, type PolicyOptions, type FallbackOptions } from "../core/graph.js";
import { addFanOut, DEFAULT_MAX_WORKER_TASKS, orderedResults, type Indexed } from "../core/fanOut.js";

/** Options of {@link buildOrchestratorWorkers}. */
export interface OrchestratorWorkersOptions<S, T, C, R> extends GraphSchemas, PolicyOptions, FallbackOptions<S> {
  /** Plans the work: writes what `subtasks` reads. */
  orchestrator: { name: string; run: NodeFn<S> };
  /** The planned subtasks. */
  subtasks: (state: S) => readonly T[];
  /** Values of the state every worker gets (e.g. the overall task). */
  context?: (state: S) => C;
  /** One worker per subtask. */
  worker: { name: string; run: (subtask: T, index: number, context: C, config: LangGraphRunnableConfig) => Promise<R> | R };
  /** State key of the `indexedResults(...)` channel the workers write. */
  resultsKey: string;
  /** Writes the final answer from the results, in the order the subtasks were planned. */
  synthesizer: { name: string; run: (state: S, results: R[], config: LangGraphRunnableConfig) => ReturnType<NodeFn<S>> };
  /** Concurrency limit of the workers for a run (undefined: unbounded; 1 runs them one at a time). */
  maxConcurrency?: (state: S, config: LangGraphRunnableConfig) => number | undefined;
  /**
   * Most worker tasks of a run (undefined: {@link DEFAULT_MAX_WORKER_TASKS},
   * 64). With more subtasks than that, the subtasks are split into that many
   * contiguous batches, one `Send` task each, because LangGraph's task runner
   * costs O(tasks^2) per superstep (docs/performance.md). Each subtask keeps
   * its own attempts, timeout and failure record; a batch is checkpointed and
   * reported in the `tasks` stream when all its subtasks are done.
   * Return `Infinity` for one task per subtask, which a worker needs when it
   * calls `interrupt()` or `onceForTask` (both keyed by task: the subtasks of a
   * batch would share them) and may get more than 64 subtasks. Read per run.
   */
  maxTasks?: (state: S, config: LangGraphRunnableConfig) => number | undefined;
  /**
   * Where the synthesizer hands over (default `END`): a node name, or a
   * conditional edge. Add those nodes to the returned graph.
   */
  then?: string | { path: (state: S) => string; targets: string[] };
  /**
   * Optional sequential alternative to the fan-out, chosen per run: when
   * `when(state)` is true, node `name` runs the worker on one subtask per
   * superstep, in plan order, keeping the next index in the number channel
   * `indexKey` (reset to 0 by the orchestrator), then hands over to the
   * synthesizer. One superstep per subtask: keep the subtask count under
   * LangGraph's recursion limit (25 by default, minus the other nodes).
   */
  sequential?: { name: string; when: (state: S, config: LangGraphRunnableConfig) => boolean; indexKey: string };
}

/**
 * Builds orchestrator-workers (see the module doc).
 * @throws {GraphDefinitionError} on a reserved or duplicate node name.
 * @throws {FanOutIncompleteError} at run time if a worker's result is missing or repeated.
 * @throws {FanOutFailedError} at run time when subtasks failed after their retries (naming them, with the finished results).
 */
export function buildOrchestratorWorkers<S, T, C = undefined, R = unknown>(
  options: OrchestratorWorkersOptions<S, T, C, R>,
): BuiltGraph {
  const sequential = options.sequential;
  checkNodeNames("buildOrchestratorWorkers", [
    options.orchestrator.name,
    options.worker.name,
    options.synthesizer.name,
    ...(sequential ? [sequential.name] : []),
  ]);
  const graph: any = createGraph(options, { ...options, nodeFallback: options.fallback });
  graph.addNode(options.orchestrator.name, async (state: S, config: LangGraphRunnableConfig) => ({
    ...(await options.orchestrator.run(state, config)),
    [options.resultsKey]: new Overwrite([]),
    ...(sequential ? { [sequential.indexKey]: 0 } : {}),
  }), nodeOptions(options));
  graph.addNode(options.synthesizer.name, (state: S, config: LangGraphRunnableConfig) => {
    const entries = (state as Record<string, Indexed<R>[]>)[options.resultsKey] ?? [];
    const results = orderedResults(entries, options.subtasks(state).length, options.worker.name, options.subtasks(state));
    return options.synthesizer.run(state, results, config);
  }, nodeOptions(options));
  graph.addEdge(START, options.orchestrator.name);
  addFanOut<S, T, C, R>(graph, {
    // A worker that fails on a thread fails its task, so that resuming the thread re-runs only it.
    failTaskOnThread: true,
    from: options.orchestrator.name,
    workerName: options.worker.name,
    items: options.subtasks,
    context: options.context,
    worker: options.worker.run,
    resultsKey: options.resultsKey,
    then: options.synthesizer.name,
    maxConcurrency: options.maxConcurrency,
    timeoutMs: options.timeoutMs,
    retryPolicy: options.retryPolicy,
    maxTasks: (state, config) => options.maxTasks?.(state, config) ?? DEFAULT_MAX_WORKER_TASKS,
    divert: sequential && {
      path: (state, config) => (sequential.when(state, config) ? sequential.name : undefined),
      targets: [sequential.name],
    },
  });
  if (sequential) addSequentialWorker(graph, options, sequential);
  const then = options.then ?? END;
  if (typeof then === "string") graph.addEdge(options.synthesizer.name, then);
  else graph.addConditionalEdges(options.synthesizer.name, then.path, then.targets);
  return graph;
}

/**
 * The loop node of the `sequential` option: worker on subtask `state[indexKey]`,
 * result written as `{ index, value }` like a fan-out worker's, index + 1, and
 * back to itself until every subtask is done.
 */
function addSequentialWorker<S, T, C, R>(
  graph: any,
  options: OrchestratorWorkersOptions<S, T, C, R>,
  sequential: NonNullable<OrchestratorWorkersOptions<S, T, C, R>["sequential"]>,
): void {
  const indexOf = (state: S) => Number((state as Record<string, unknown>)[sequential.indexKey] ?? 0);
  graph.addNode(sequential.name, async (state: S, config: LangGraphRunnableConfig) => {
    const subtasks = options.subtasks(state);
    const index = indexOf(state);
    const context = (options.context ? options.context(state) : undefined) as C;
    const value = await options.worker.run(subtasks[index], index, context, config);
    return { [options.resultsKey]: [{ index, value }], [sequential.indexKey]: index + 1 };
  }, nodeOptions(options));
  graph.addConditionalEdges(
    sequential.name,
    (state: S) => (indexOf(state) < options.subtasks(state).length ? sequential.name : options.synthesizer.name),
    [sequential.name, options.synthesizer.name],
  );
}
