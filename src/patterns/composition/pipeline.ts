/**
 * Pipeline (the *Workflow Patterns Cheatsheet*, "Advanced Patterns / Pipeline"): a chain of streaming
 * transforms, each an async generator from items to items, run item by item.
 *
 * ```
 * Input -> Transform1 -> Transform2 -> Transform3 -> Output
 * ```
 *
 * The pipeline runs inside one node (items cannot cross LangGraph supersteps
 * one at a time): `source` yields the items, each transform pulls from the one
 * before it, and the node pulls from the last. Nothing is read ahead: a stage
 * produces its next item only when the stage after it asks (backpressure by
 * async iteration), so a slow stage slows the source instead of filling
 * memory. Each output item is sent out as soon as it exists on LangGraph's
 * custom stream (`config.writer`, stream mode `"custom"`) as a
 * {@link PipelineChunk}; {@link streamPipeline} yields them. `collect` turns the
 * outputs of the (successful) attempt into the node's state update.
 *
 * A stage that throws fails the node with {@link PipelineStageError} naming
 * the stage (`source` or a transform) and the index of the item it was on; its
 * `cause` is the original error, and the node's retry policy looks at the
 * cause (a transient error is retried, from the first item: chunks of a
 * retried attempt carry `attempt` > 1). `timeoutMs` bounds a whole attempt.
 *
 * @example
 * ```ts
 * const graph = buildPipeline<State, number, number>({
 *   state: State,
 *   source: (s) => s.numbers,
 *   transforms: [
 *     { name: "double", run: mapItems((x: number) => x * 2) },
 *     { name: "addOne", run: mapItems((x: number) => x + 1) },
 *     { name: "keepLarge", run: filterItems((x: number) => x > 5) },
 *   ],
 *   collect: (items) => ({ results: items }),
 * }).compile();
 * for await (const chunk of streamPipeline(graph, { numbers: [1, 2, 3, 4, 5] })) console.log(chunk.item); // 7, 9, 11
 * ```
 * @module
 */
import { Command, END, START, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { GraphDefinitionError, LlmWorkflowsError } from "../../runtime/errors.js";
import { isTransientError } from "../../runtime/retry.js";
import { checkNodeNames } from "../core/nodeNames.js";
import { createGraph, type BuiltGraph, type Fallback, type GraphSchemas } from "../core/graph.js";
import { addHandledNode, addPolicyNode, resolveRetryPolicy, type NodePolicyOptions } from "../resilience/retry.js";

/** Default name of the pipeline's node. */
export const PIPELINE_NODE = "pipeline";

/** A streaming transform: pulls items from `items`, yields items. */
export type Transform<I, O> = (items: AsyncIterable<I>, config: LangGraphRunnableConfig) => AsyncIterable<O>;

/** What each output item is sent as on the custom stream. */
export interface PipelineChunk<O = unknown> {
  /** The pipeline's node name. */
  pipeline: string;
  /** Position of the item among the outputs (0-based). */
  index: number;
  item: O;
  /** Attempt of the node that produced it (1 unless the node was retried). */
  attempt: number;
}

/** Options of {@link buildPipeline}. */
export interface PipelineOptions<S, I, O> extends GraphSchemas, NodePolicyOptions {
  /** Node name. Default {@link PIPELINE_NODE}. */
  name?: string;
  /** The items to process, from the state: an array, a generator, an async generator, a stream. */
  source: (state: S, config: LangGraphRunnableConfig) => Iterable<I> | AsyncIterable<I>;
  /** Transforms in order; the output type of one is the input of the next. May be empty. */
  transforms: { name: string; run: Transform<any, any> }[];
  /** Turns every output item (in order) into the node's update. Default: no update (items are only streamed). */
  collect?: (items: O[], state: S) => Partial<S>;
  /** Send each output item on the custom stream. Default true. */
  emit?: boolean;
  /**
   * What the node writes instead when it still fails after its retries (the
   * error is the {@link PipelineStageError} or the timeout); the run then ends
   * normally. Default: none, the error fails the run.
   */
  fallback?: Fallback<S>;
}

/** A pipeline stage threw; `cause` is its error. */
export class PipelineStageError extends LlmWorkflowsError {
  /** `source` or the transform's name. */
  readonly stage: string;
  /** Items the stage had yielded before it failed. */
  readonly itemIndex: number;

  constructor(stage: string, itemIndex: number, cause: unknown) {
    super("PIPELINE_STAGE_FAILED", `pipeline stage "${stage}" failed after ${itemIndex} item(s): ${cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause)}`, { cause });
    this.stage = stage;
    this.itemIndex = itemIndex;
  }
}

/** A transform applying `fn` to each item. */
export function mapItems<I, O>(fn: (item: I, index: number) => O | Promise<O>): Transform<I, O> {
  return async function* (items) {
    let i = 0;
    for await (const item of items) yield await fn(item, i++);
  };
}

/** A transform keeping the items for which `keep` is true. */
export function filterItems<I>(keep: (item: I, index: number) => boolean | Promise<boolean>): Transform<I, I> {
  return async function* (items) {
    let i = 0;
    for await (const item of items) if (await keep(item, i++)) yield item;
  };
}

/** `items` as an async iterable whose errors are {@link PipelineStageError}s of `stage`. */
async function* stage<T>(name: string, items: Iterable<T> | AsyncIterable<T>): AsyncGenerator<T> {
  let count = 0;
  try {
    for await (const item of items) {
      count++;
      yield item;
    }
  } catch (error) {
    if (error instanceof PipelineStageError) throw error;
    throw new PipelineStageError(name, count, error);
  }
}

/** The error a retry policy should judge: a stage error's cause. */
function unwrap(error: unknown): unknown {
  return error instanceof PipelineStageError ? error.cause : error;
}

/**
 * Builds a pipeline: `START -> <name> -> END` (see the module doc); embed it
 * as a node of a larger graph to stream between other steps.
 *
 * @throws {GraphDefinitionError} on a duplicate or reserved name, or a transform named `source`.
 * @throws {PipelineStageError} at run time when a stage throws.
 */
export function buildPipeline<S, I = unknown, O = unknown>(options: PipelineOptions<S, I, O>): BuiltGraph {
  const name = options.name ?? PIPELINE_NODE;
  checkNodeNames("buildPipeline", [name]);
  const stageNames = ["source", ...options.transforms.map((t) => t.name)];
  const seen = new Set<string>();
  for (const s of stageNames) {
    if (!s || seen.has(s)) throw new GraphDefinitionError("buildPipeline", `stage name ${JSON.stringify(s)} is empty or used twice ("source" is taken)`);
    seen.add(s);
  }
  const graph: any = createGraph(options, options);
  const policy = resolveRetryPolicy(options.retryPolicy);
  const retryOn = policy?.retryOn ?? isTransientError;
  const nodePolicy = policy ? { ...policy, retryOn: (e: unknown) => retryOn(unwrap(e)) } : undefined;

  const fallback = options.fallback;
  const run = async (state: S, config: LangGraphRunnableConfig) => {
    let items: AsyncIterable<unknown> = stage("source", options.source(state, config));
    for (const t of options.transforms) items = stage(t.name, t.run(items, config));
    const attempt = config.executionInfo?.nodeAttempt ?? 1;
    const outputs: O[] = [];
    for await (const item of items) {
      // A timed-out or cancelled attempt stops pulling (and emitting) at once.
      config.signal?.throwIfAborted();
      if (options.emit !== false) config.writer?.({ pipeline: name, index: outputs.length, item, attempt } satisfies PipelineChunk);
      outputs.push(item as O);
    }
    return options.collect ? options.collect(outputs, state) : {};
  };
  const extra = nodePolicy ? { retryPolicy: nodePolicy } : { retryPolicy: undefined };
  if (!fallback) addPolicyNode(graph, name, run, options, extra);
  else {
    addHandledNode(graph, name, run, options, async (state: S, error, node) => new Command({ update: (await fallback(error, state, node)) ?? {}, goto: END }), [END], extra);
  }
  graph.addEdge(START, name);
  graph.addEdge(name, END);
  return graph;
}

/**
 * Runs a compiled pipeline graph (or any graph with a pipeline node) and
 * yields its {@link PipelineChunk}s as they are produced; the run's other
 * custom chunks are skipped. Pass `pipeline` to keep one pipeline's chunks.
 * LangGraph buffers chunks the caller has not read yet (the stages themselves
 * are never read ahead).
 */
export async function* streamPipeline<O = unknown>(
  graph: { stream(input: any, config?: any): Promise<AsyncIterable<any>> },
  input: unknown,
  config: Record<string, any> = {},
  pipeline?: string,
): AsyncGenerator<PipelineChunk<O>> {
  const stream = await graph.stream(input, { ...config, streamMode: "custom" });
  for await (const chunk of stream) {
    if (chunk && typeof chunk === "object" && "pipeline" in chunk && "item" in chunk && (!pipeline || chunk.pipeline === pipeline)) yield chunk as PipelineChunk<O>;
  }
}
