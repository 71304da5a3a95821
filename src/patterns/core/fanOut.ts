/**
 * Fan-out/fan-in with `Send`, shared by the parallelization, voting,
 * orchestrator-workers and map-reduce builders: one worker task per item in
 * one superstep, results tagged with the item's index and gathered by a
 * reducer, then put back in input order by {@link orderedResults}, which also
 * checks that each index came back exactly once.
 *
 * A fan-out given `maxTasks` sends at most that many tasks: beyond it, items
 * are grouped into that many batches, one `Send` each (see {@link sendEach}
 * for why and what changes).
 *
 * **Failures.** A worker whose item still fails once LangGraph will not retry
 * it (its retry policy is spent, or the error is not retried) does not fail
 * the superstep: it writes `{ index, error }`, so that every other item
 * finishes and is kept. The fan-in then decides: {@link settledResults} hands
 * the failures to a builder that tolerates them (`minSuccesses`), and
 * {@link orderedResults} throws {@link FanOutFailedError}, which names each
 * failed item and its reason and carries the finished results.
 *
 * @module
 */
import { isGraphBubbleUp, NodeTimeoutError, ReducedValue, Send, type LangGraphRunnableConfig, type RetryPolicy } from "@langchain/langgraph";
import pLimit, { type LimitFunction } from "p-limit";
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { LlmWorkflowsError } from "../../runtime/errors.js";
import { BATCH_ITEM_KEY } from "../../runtime/ledger.js";
import { resolveRetryPolicy, willRetry, withTimeout } from "../../runtime/retry.js";
import type { NotForFallback } from "./graph.js";

/** One worker's result, tagged with its item's position in the input; `error` instead of `value` for an item that failed for good. */
export interface Indexed<T> {
  index: number;
  value: T;
  /** Why the item failed (after its retries). */
  error?: string;
}

/** A worker whose item failed for good (after its retries). */
export interface WorkerFailure {
  index: number;
  /** Why: the error's name and message. */
  error: string;
  /** The item, as text cut to {@link ITEM_EXCERPT_CHARS} characters (when the fan-in knows the items). */
  item?: string;
}

/** Characters of an item kept in a {@link WorkerFailure} and in error messages. */
export const ITEM_EXCERPT_CHARS = 200;

/** `item` as text (JSON unless a string), cut to {@link ITEM_EXCERPT_CHARS} characters. */
export function itemExcerpt(item: unknown): string {
  let text: string;
  try {
    text = typeof item === "string" ? item : (JSON.stringify(item) ?? String(item));
  } catch {
    text = String(item);
  }
  return text.length > ITEM_EXCERPT_CHARS ? `${text.slice(0, ITEM_EXCERPT_CHARS - 1)}…` : text;
}

/** The payload a fan-out sends to each worker task: one item, or (with `maxTasks`) a batch of them. */
export interface WorkerPayload<I, C = unknown> {
  /** The item (one-item tasks). */
  item?: I;
  /** Its position in the fan-out's items (one-item tasks). */
  index?: number;
  /** The items of a batch task and their positions (batched fan-outs). */
  batch?: { items: I[]; indexes: number[] };
  /** Values from the parent state the worker needs (chosen by the builder's `context` option). */
  context: C;
  /** Concurrency limit of this fan-out, if any, and the key that identifies it. */
  limit?: { key: string; max: number };
}

/**
 * Default most worker tasks of a batched fan-out (the `maxTasks` of the
 * parallel map, orchestrator-workers and map-reduce). LangGraph's task runner
 * (1.4.18 and 1.7.3) does work proportional to the number of running tasks
 * each time one finishes (a `Promise.race` over all of them), so a superstep
 * of N tasks costs O(N^2): 4.9x a plain `Promise.all` at N = 1,000 in
 * `npm run bench`. At 64 tasks that cost is negligible, and each batch still
 * gets its share of the event loop (docs/performance.md).
 */
export const DEFAULT_MAX_WORKER_TASKS = 64;

/**
 * Key of `config.configurable` that holds an item's index when the worker runs
 * inside a batch task (absent in a one-item task). A batch is one LangGraph
 * task, so whatever is keyed by task (the checkpoint namespace, hence
 * `onceForTask`'s ledger key, and `interrupt()`'s resume values) is shared by
 * the batch's items, except `onceForTask`, whose key includes this index.
 */
export { BATCH_ITEM_KEY };

/**
 * A state channel gathering {@link Indexed} results from parallel workers
 * (append reducer). Use it for the key your workers write.
 */
export function indexedResults<T extends z.ZodType>(value: T): ReducedValue<Indexed<z.infer<T>>[], Indexed<z.infer<T>>[]> {
  const entry = z.object({ index: z.number().int(), value: value.optional(), error: z.string().optional() });
  const schema = z.array(entry).default(() => []);
  return new ReducedValue<Indexed<z.infer<T>>[], Indexed<z.infer<T>>[]>(schema as unknown as z.ZodType<Indexed<z.infer<T>>[]>, {
    inputSchema: z.array(entry) as unknown as z.ZodType<Indexed<z.infer<T>>[]>,
    reducer: (current: Indexed<z.infer<T>>[], next: Indexed<z.infer<T>>[]) => current.concat(next),
  });
}

/** A fan-out did not return exactly one result per item. */
export class FanOutIncompleteError extends LlmWorkflowsError {
  constructor(label: string, expected: number, missing: number[], duplicated: number[]) {
    super(
      "FAN_OUT_INCOMPLETE",
      `${label}: expected one result for each of ${expected} items; missing ${JSON.stringify(missing.slice(0, 10))}, duplicated ${JSON.stringify(duplicated.slice(0, 10))}`,
    );
  }
}

/** The first three failures, each as `#index "item": reason`, and how many more. */
export function describeFailures(failures: WorkerFailure[]): string {
  const shown = failures.slice(0, 3).map((f) => `#${f.index}${f.item !== undefined ? ` ${JSON.stringify(f.item)}` : ""}: ${f.error.replace(/\.$/, "")}`);
  return `${shown.join("; ")}${failures.length > 3 ? ` (+${failures.length - 3} more)` : ""}`;
}

/**
 * Items of a fan-out failed for good. Every other item ran to the end: their
 * results are in {@link FanOutFailedError.partial} (in input order, undefined
 * where the item failed). The message names the first failures (index, the
 * item cut to 200 characters, the reason) and the option that keeps the
 * results in the run instead (`minSuccesses`, where the builder has it).
 * A builder's `fallback` does not replace this error.
 */
export class FanOutFailedError<T = unknown> extends LlmWorkflowsError implements NotForFallback {
  readonly notForFallback = true as const;
  /** The failed items, in index order. */
  readonly failures: WorkerFailure[];
  /** Every item's result in input order; undefined where the item failed. */
  readonly partial: Array<T | undefined>;

  constructor(label: string, failures: WorkerFailure[], partial: Array<T | undefined>, hint = "set minSuccesses to finish the run with the results that succeeded") {
    super(
      "FAN_OUT_FAILED",
      `${label}: ${failures.length} of ${partial.length} items failed after their retries: ${describeFailures(failures)}. The ${partial.length - failures.length} finished results are kept on this error (partial); ${hint}`,
    );
    this.failures = failures;
    this.partial = partial;
  }
}

/**
 * The values of `entries` in index order, after checking that each index in
 * `0..expected-1` occurs exactly once and that no item failed.
 * @param items - The fan-out's items, to name a failed one in the error.
 * @throws {FanOutIncompleteError} when one is missing or repeated.
 * @throws {FanOutFailedError} when items failed, with the finished results.
 */
export function orderedResults<T>(entries: Indexed<T>[], expected: number, label: string, items?: readonly unknown[]): T[] {
  const { values, failures } = settledResults(entries, expected, label, items);
  if (failures.length) throw new FanOutFailedError(label, failures, values, "the builder has no option to finish without them");
  return values as T[];
}

/**
 * Like {@link orderedResults}, for a fan-in that tolerates failures: the
 * values in index order (undefined where the item failed) and the failures
 * (with the item cut to 200 characters when `items` is given).
 * @throws {FanOutIncompleteError} when an index is missing or repeated.
 */
export function settledResults<T>(entries: Indexed<T>[], expected: number, label: string, items?: readonly unknown[]): { values: Array<T | undefined>; failures: WorkerFailure[] } {
  const failures: WorkerFailure[] = [];
  for (const e of entries) {
    if (e.error !== undefined) failures.push({ index: e.index, error: e.error, ...(items && e.index in items ? { item: itemExcerpt(items[e.index]) } : {}) });
  }
  failures.sort((a, b) => a.index - b.index);
  return { values: collectSlots(entries, expected, label), failures };
}

function collectSlots<T>(entries: Indexed<T>[], expected: number, label: string): Array<T | undefined> {
  const slots = new Array<T>(expected);
  const seen = new Uint8Array(expected);
  const duplicated: number[] = [];
  for (const { index, value } of entries) {
    if (index < 0 || index >= expected || seen[index]) {
      duplicated.push(index);
      continue;
    }
    seen[index] = 1;
    slots[index] = value;
  }
  const missing: number[] = [];
  for (let i = 0; i < expected; i++) if (!seen[i]) missing.push(i);
  if (missing.length || duplicated.length) throw new FanOutIncompleteError(label, expected, missing, duplicated);
  return slots;
}

/**
 * One `Send` to `node` per item. With `maxConcurrency`, the workers of this
 * fan-out share a limiter so that at most that many items are worked on at
 * once.
 *
 * With `maxTasks` and more items than that, the items are split into
 * `maxTasks` contiguous batches, one `Send` each; a batch task works on its
 * items concurrently (under the same shared limiter, so the limit still holds
 * across batches and a free slot goes to whichever item waits first, as in a
 * promise pool). Per item, nothing else changes: each item keeps its own
 * attempts (LangGraph's retry policy re-runs only the items of a batch that
 * failed), its own timeout and its own failure record. What does change:
 * a batch's results are written (and checkpointed) when the whole batch is
 * done, one `tasks` stream event covers a batch, and a worker must not call
 * `interrupt()` or `onceForTask` (both are keyed by task, and a batch is one
 * task), so the builders that batch (parallel map, orchestrator-workers,
 * map-reduce) take `maxTasks: () => Infinity` for one task per item.
 *
 * @param maxTasks - Most tasks to send (at least 1); default: one per item.
 */
export function sendEach<I, C>(node: string, items: readonly I[], context: C, maxConcurrency?: number, maxTasks?: number): Send[] {
  const limit = maxConcurrency && maxConcurrency < items.length ? { key: randomUUID(), max: maxConcurrency } : undefined;
  const extra = { context, limit };
  if (maxTasks === undefined || !Number.isFinite(maxTasks) || items.length <= maxTasks) {
    return items.map((item, index) => new Send(node, { item, index, ...extra } satisfies WorkerPayload<I, C>));
  }
  const tasks = Math.max(1, Math.floor(maxTasks));
  const sends: Send[] = [];
  for (let t = 0; t < tasks; t++) {
    // Contiguous batches whose sizes differ by at most one.
    const start = Math.floor((t * items.length) / tasks);
    const end = Math.floor(((t + 1) * items.length) / tasks);
    const indexes = Array.from({ length: end - start }, (_, k) => start + k);
    sends.push(new Send(node, { batch: { items: items.slice(start, end), indexes }, ...extra } satisfies WorkerPayload<I, C>));
  }
  return sends;
}

/*
 * LangGraph's own `maxConcurrency` is run-wide (it caps every superstep, not one
 * fan-out) and in 1.4.x drops all but the first Send task when set to 1
 * (../shared/STACK.md). A per-fan-out limit is what LangGraph lacks, so the
 * workers of one fan-out share a p-limit limiter, found by the key sent with
 * them. A limiter is dropped when it goes idle; one made again later (after a
 * resume, say) starts with nothing running, which is the truth.
 */
const limiters = new Map<string, LimitFunction>();

/**
 * Runs `run` once this fan-out has a free slot. An attempt abandoned while it
 * waited (its node timed out or the run was cancelled) is not started; the
 * timeout, if any, counts from the moment the slot is held, and aborts the
 * signal `run` gets.
 */
async function withinLimit<T>(
  limit: WorkerPayload<unknown>["limit"],
  run: (signal: AbortSignal | undefined) => Promise<T>,
  node: string,
  signal: AbortSignal | undefined,
  timeoutMs: number | undefined,
): Promise<T> {
  const guarded = () => {
    signal?.throwIfAborted();
    if (!timeoutMs) return run(signal);
    const started = Date.now();
    return withTimeout(run, timeoutMs, {
      signal,
      timeoutError: () => new NodeTimeoutError({ node, elapsed: Date.now() - started, kind: "run", runTimeout: timeoutMs }),
    });
  };
  if (!limit) return guarded();
  let limiter = limiters.get(limit.key);
  if (!limiter) {
    limiter = pLimit(limit.max);
    limiters.set(limit.key, limiter);
  }
  try {
    return await limiter(guarded);
  } finally {
    if (limiter.activeCount === 0 && limiter.pendingCount === 0) limiters.delete(limit.key);
  }
}

const attemptOf = (config: LangGraphRunnableConfig) => (config as { executionInfo?: { nodeAttempt?: number } }).executionInfo?.nodeAttempt ?? 1;

/**
 * Whether the run keeps its checkpoints (a thread): LangGraph sets its
 * checkpointer in the task's config then. The key is LangGraph's
 * `CONFIG_KEY_CHECKPOINTER` (1.4.18 to 1.7.3), which the package does not export.
 */
const onThread = (config: LangGraphRunnableConfig) => Boolean((config.configurable as Record<string, unknown> | undefined)?.["__pregel_checkpointer"]);

/** The failure record of `error`: its name and message. */
const describeFailure = (error: unknown) => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));

/**
 * Results of a batch task's finished items, kept between the attempts of the
 * task (LangGraph re-runs a failed task whole; only the items that failed are
 * worked on again). Keyed by the task's scratchpad, the object LangGraph 1.4
 * keeps for one task across its attempts (`configurable.__pregel_scratchpad`),
 * so an entry lives exactly as long as its task. In memory only: after a crash
 * a batch starts again from its first item.
 */
const batchProgress = new WeakMap<object, Map<number, { value?: unknown; error?: string }>>();

function progressOf(config: LangGraphRunnableConfig): Map<number, { value?: unknown; error?: string }> {
  const scratchpad = (config.configurable as Record<string, unknown> | undefined)?.__pregel_scratchpad;
  if (!scratchpad || typeof scratchpad !== "object") return new Map();
  let done = batchProgress.get(scratchpad);
  if (!done) batchProgress.set(scratchpad, (done = new Map()));
  return done;
}

/**
 * Wraps a worker function as a LangGraph node that receives a
 * {@link WorkerPayload} and writes `{ [key]: [{ index, value }, ...] }` (one
 * entry per item of the task). An item that fails when LangGraph will not run
 * the task again (`willRetry` with `retryPolicy`) is written as
 * `{ index, error }` instead (see the module doc). With `timeoutMs`, each
 * attempt of an item is timed from the moment it holds a slot of its
 * fan-out's limiter (so the node is added without LangGraph's own timeout).
 *
 * @param retryPolicy - The policy the node is added with (default: the graph
 *   default, `DEFAULT_RETRY_POLICY`; `false`: none), so that the node knows
 *   which attempt is the last.
 */
export function workerNode<I, C, R>(
  key: string,
  worker: (item: I, index: number, context: C, config: LangGraphRunnableConfig) => Promise<R> | R,
  name = "worker",
  timeoutMs?: number,
  retryPolicy?: RetryPolicy | false,
  failTaskOnThread = false,
) {
  const policy = resolveRetryPolicy(retryPolicy);
  /** Whether an item that failed for good fails its task (see {@link FanOutOptions.failTaskOnThread}). */
  const failsTask = (config: LangGraphRunnableConfig) => failTaskOnThread && onThread(config);
  const runItem = (item: I, index: number, payload: WorkerPayload<I, C>, config: LangGraphRunnableConfig) =>
    withinLimit(payload.limit, async (signal) => worker(item, index, payload.context, signal === config.signal ? config : { ...config, signal }), name, config.signal, timeoutMs);

  const node = async (payload: WorkerPayload<I, C>, config: LangGraphRunnableConfig) => {
    if (payload.batch) return { [key]: await runBatch(payload, payload.batch, config) };
    try {
      const value = await runItem(payload.item as I, payload.index!, payload, config);
      return { [key]: [{ index: payload.index!, value }] };
    } catch (error) {
      if (isGraphBubbleUp(error) || willRetry(policy, error, attemptOf(config)) || failsTask(config)) throw error;
      return { [key]: [{ index: payload.index!, error: describeFailure(error) }] };
    }
  };

  /**
   * A batch: its items at once (under the fan-out's limiter), each result kept
   * across the task's attempts. When an item failed with an error LangGraph
   * will retry, the task fails so that LangGraph runs it again (its finished
   * items are not redone); an item that failed for good is recorded.
   */
  async function runBatch(payload: WorkerPayload<I, C>, batch: NonNullable<WorkerPayload<I, C>["batch"]>, config: LangGraphRunnableConfig): Promise<Indexed<R>[]> {
    const done = progressOf(config);
    const attempt = attemptOf(config);
    const stop = new AbortController();
    const signal = config.signal ? AbortSignal.any([config.signal, stop.signal]) : stop.signal;
    const itemConfig = (index: number): LangGraphRunnableConfig => ({ ...config, signal, configurable: { ...config.configurable, [BATCH_ITEM_KEY]: index } });
    let retryable: unknown;
    let bubbleUp: { error: unknown } | undefined;
    await Promise.all(
      batch.items.map(async (item, k) => {
        const index = batch.indexes[k];
        if (done.has(index)) return;
        try {
          done.set(index, { value: await runItem(item, index, payload, itemConfig(index)) });
        } catch (error) {
          if (bubbleUp) return;
          if (isGraphBubbleUp(error)) {
            bubbleUp = { error };
            stop.abort(error);
          } else if (willRetry(policy, error, attempt) || failsTask(config)) retryable ??= error;
          else done.set(index, { error: describeFailure(error) });
        }
      }),
    );
    if (bubbleUp) throw bubbleUp.error;
    if (retryable !== undefined) throw retryable;
    return batch.indexes.map((index) => ({ index, ...done.get(index) }) as Indexed<R>);
  }

  return node;
}

/** Options of {@link addFanOut}. */
export interface FanOutOptions<S, I, C, R> {
  /** Node the fan-out starts after (`START` for none). */
  from: string;
  /** Name of the worker node. */
  workerName: string;
  /** The items: one worker task each, known only at run time. */
  items: (state: S) => readonly I[];
  /** Values of the parent state each worker gets (default: none). */
  context?: (state: S) => C;
  /** The worker: one item in, one result out. */
  worker: (item: I, index: number, context: C, config: LangGraphRunnableConfig) => Promise<R> | R;
  /** State key of the {@link indexedResults} channel the workers write. */
  resultsKey: string;
  /** Node that runs after every worker has finished (fan-in), and directly when there are no items. */
  then: string;
  /** At most this many workers of this fan-out run at once; read per run. */
  maxConcurrency?: (state: S, config: LangGraphRunnableConfig) => number | undefined;
  /** Per-attempt timeout of a worker in ms, counted once it holds a slot. */
  timeoutMs?: number;
  /** The workers' retry policy, as given to the builder (to know which attempt is the last); default the graph default. */
  retryPolicy?: RetryPolicy | false;
  /**
   * On a thread (a run with a checkpointer), an item that fails for good fails
   * its task instead of being recorded: LangGraph keeps every finished task's
   * writes in the checkpoint, and resuming the thread runs only the failed
   * task again (the durable way to recover from a failure that has passed).
   * Without a checkpointer the failure is recorded and the fan-in's
   * {@link FanOutFailedError} carries the finished results. For fan-ins that
   * cannot tolerate failures (orchestrator-workers, map-reduce); a fan-out
   * with `minSuccesses` records them always. Default false.
   */
  failTaskOnThread?: boolean;
  /**
   * Most worker tasks to send; more items than that are batched (see
   * {@link sendEach}). Read per run. Default: one task per item.
   */
  maxTasks?: (state: S, config: LangGraphRunnableConfig) => number | undefined;
  /**
   * Optional alternative to the fan-out: when `path` names a node (one of
   * `targets`) for a run with items, the state goes there instead of to the
   * workers (e.g. a loop that does the items one at a time). Add those nodes
   * to the graph. Default: always fan out.
   */
  divert?: { path: (state: S, config: LangGraphRunnableConfig) => string | undefined; targets: string[] };
}

/**
 * Adds a `Send` fan-out to `graph`: after `from`, one `workerName` task per
 * item (all in one superstep), then `then`. With zero items it goes straight to
 * `then`; with `divert`, a run may go to another node instead of fanning out.
 * The node writing before the fan-out should reset `resultsKey` with
 * `new Overwrite([])` so that a thread's second run starts empty.
 */
export function addFanOut<S, I, C, R>(graph: any, options: FanOutOptions<S, I, C, R>): void {
  graph.addNode(options.workerName, workerNode(options.resultsKey, options.worker, options.workerName, options.timeoutMs, options.retryPolicy, options.failTaskOnThread));
  graph.addConditionalEdges(
    options.from,
    (state: S, config: LangGraphRunnableConfig) => {
      const items = options.items(state);
      if (items.length === 0) return options.then;
      const diverted = options.divert?.path(state, config);
      if (diverted) return diverted;
      const context = (options.context ? options.context(state) : undefined) as C;
      return sendEach(options.workerName, items, context, options.maxConcurrency?.(state, config), options.maxTasks?.(state, config));
    },
    [options.workerName, options.then, ...(options.divert?.targets ?? [])],
  );
  graph.addEdge(options.workerName, options.then);
}
