/**
 * Event sourcing and checkpoint/resume (the *Workflow Patterns Cheatsheet*, "State Management /
 * Event Sourcing" and "Checkpoint/Resume") on a LangGraph thread.
 *
 * A graph compiled with a checkpointer saves a checkpoint after every
 * superstep, together with the writes of that superstep's tasks (LangGraph's
 * pending writes). That history *is* an event log: each event is the set of
 * node updates that produced a checkpoint, and each checkpoint is the state
 * replayed up to that event. So instead of a second store of events:
 *
 * - {@link eventLog}: the thread's checkpoints, oldest first, each with step,
 *   source (`input`, `loop`, `update`, `fork`), time, the nodes that wrote it
 *   and their writes (the events), and what runs next;
 * - {@link stateAt}: the state as it was at a step (or checkpoint id);
 * - {@link forkAt}: time travel, run again from a past step, optionally with
 *   edited values; the thread's later checkpoints stay in its history;
 * - {@link resumeRun}: continue a thread that stopped (a crash, a kill, an
 *   interrupt) from its last checkpoint: only the unfinished tasks run again.
 *
 * ```
 * Events:  input -> step 0 writes -> step 1 writes -> ...
 * State:   stateAt(step) = the checkpoint after those writes
 * ```
 *
 * These work on any builder's compiled graph (compile it with a checkpointer:
 * `MemorySaver` in tests, `openCheckpointer("sqlite:PATH")` or PostgreSQL for
 * durable threads); the facade's `getThreadHistory` / `forkThread` /
 * `resumeThread` (`src/threads.ts`) do the same for registered workflows.
 *
 * @example
 * ```ts
 * const graph = buildPromptChain<State>({ state: State, steps }).compile({ checkpointer: new MemorySaver() });
 * await graph.invoke({ text }, { configurable: { thread_id: "t1" } });
 * const log = await eventLog(graph, "t1");             // [{ step: -1, source: "input", ... }, { step: 0, writes: [...] }, ...]
 * const before = await stateAt(graph, "t1", 1);         // values after step 1
 * const fork = await forkAt(graph, "t1", 1, { values: { outline: "shorter" } }); // run again from there
 * ```
 * @module
 */
import { Command, type BaseCheckpointSaver, type CheckpointTuple, type StateSnapshot } from "@langchain/langgraph";
import { v5 } from "@langchain/core/utils/uuid";
import { ConfigurationError, LlmWorkflowsError, ResumeError, UnknownCheckpointError, UnknownThreadError } from "../../runtime/errors.js";

/** What these functions need of a compiled graph (any `CompiledStateGraph` compiled with a checkpointer). */
export interface ThreadGraph {
  getState(config: any, options?: any): Promise<StateSnapshot>;
  getStateHistory(config: any, options?: any): AsyncIterableIterator<StateSnapshot>;
  updateState(config: any, values: any, asNode?: any): Promise<any>;
  invoke(input: any, config?: any): Promise<any>;
  checkpointer?: BaseCheckpointSaver | boolean;
}

/** The writes one task made (one event). */
export interface TaskWrites {
  /** The node that ran (`__start__` for the run's input; `__error_handler__<node>` for an error handler; {@link UPDATE_NODE} for values applied with `updateState`). */
  node: string;
  /** State keys it wrote, with the values it wrote (before reducers). */
  update: Record<string, unknown>;
  /** When the task failed: its error (name and message). */
  error?: { name: string; message: string };
}

/** One checkpoint of a thread, with the events that produced it. */
export interface EventEntry {
  checkpointId: string;
  /** The checkpoint it follows; undefined for a thread's first. */
  parentCheckpointId?: string;
  /** LangGraph's step: -1 for the first input, then one per superstep; numbering goes on across runs of the thread. */
  step: number;
  /** `input`, `loop`, `update` or `fork`. */
  source: string;
  /** Time it was saved (ISO 8601). */
  createdAt?: string;
  /** The nodes whose writes it holds: the tasks of the checkpoint before it, or `__update__` for an `update` checkpoint. */
  nodes: string[];
  /** Those writes, task by task. */
  writes: TaskWrites[];
  /** Nodes that run after it (empty when the run ended there). */
  next: string[];
}

/** No checkpoint of the thread's current history has that step. */
export class NoCheckpointAtStepError extends LlmWorkflowsError {
  readonly threadId: string;
  readonly step: number;

  constructor(threadId: string, step: number, steps: number[]) {
    super("NO_CHECKPOINT_AT_STEP", `thread "${threadId}" has no checkpoint at step ${step}; its steps are ${steps.join(", ")}`);
    this.threadId = threadId;
    this.step = step;
  }
}

/** A step number, or a checkpoint id. */
export type CheckpointRef = number | { checkpointId: string };

function saverOf(graph: ThreadGraph): BaseCheckpointSaver {
  const saver = graph.checkpointer;
  if (!saver || typeof saver !== "object") throw new ConfigurationError("checkpointer", "a graph compiled with a checkpointer (graph.compile({ checkpointer }))", typeof saver);
  return saver;
}

const idOf = (s: StateSnapshot) => String(s.config.configurable?.checkpoint_id);
const parentIdOf = (s: StateSnapshot) => s.parentConfig?.configurable?.checkpoint_id as string | undefined;
const threadConfig = (threadId: string, checkpointId?: string) => ({
  configurable: { thread_id: threadId, checkpoint_ns: "", ...(checkpointId ? { checkpoint_id: checkpointId } : {}) },
});

/** Every checkpoint of the thread, newest first. @throws {UnknownThreadError} when there is none. */
async function history(graph: ThreadGraph, threadId: string): Promise<StateSnapshot[]> {
  const snapshots: StateSnapshot[] = [];
  for await (const s of graph.getStateHistory({ configurable: { thread_id: threadId } })) snapshots.push(s);
  if (snapshots.length === 0) throw new UnknownThreadError(threadId, "the graph's checkpointer");
  return snapshots;
}

/** The current branch of the thread: the latest checkpoint and its ancestors, newest first. */
function currentBranch(snapshots: StateSnapshot[]): StateSnapshot[] {
  const byId = new Map(snapshots.map((s) => [idOf(s), s]));
  const branch: StateSnapshot[] = [];
  for (let s: StateSnapshot | undefined = snapshots[0]; s; s = byId.get(parentIdOf(s) ?? "")) branch.push(s);
  return branch;
}

/** Internal channels (routing, joins, LangGraph's own) left out of an event's update. */
const isInternal = (channel: string) => channel.startsWith("__") || channel.startsWith("branch:") || channel.startsWith("join:");

/** LangGraph's `uuid5(name, namespace)` (langgraph-checkpoint's `id.ts`): how it names update tasks. */
function uuid5(name: string, namespace: string): string {
  const bytes = (namespace.replace(/-/g, "").match(/.{2}/g) ?? []).map((b) => parseInt(b, 16));
  return v5(name, new Uint8Array(bytes));
}

/** Task id `updateState` gives the writes it applies on checkpoint `parentId` (LangGraph 1.4 `updateState`). */
const updateTaskId = (parentId: string) => uuid5("__interrupt__", parentId);

/** Node name given to writes applied with `updateState` (a fork's edited values): LangGraph does not record the `asNode`. */
export const UPDATE_NODE = "__update__";

/** Groups `pendingWrites` of the tasks `keep` accepts by task, naming each with `nameOf`. */
function group(tuple: CheckpointTuple, keep: (taskId: string) => boolean, nameOf: (taskId: string) => string, order: string[]): TaskWrites[] {
  const byTask = new Map<string, TaskWrites>();
  for (const [taskId, channel, value] of tuple.pendingWrites ?? []) {
    if (!keep(taskId)) continue;
    let entry = byTask.get(taskId);
    if (!entry) {
      entry = { node: nameOf(taskId), update: {} };
      byTask.set(taskId, entry);
    }
    if (channel === "__error__") {
      const v = value as { name?: string; message?: string } | undefined;
      entry.error = { name: String(v?.name ?? "Error"), message: String(v?.message ?? value) };
    } else if (!isInternal(channel)) entry.update[channel] = value;
  }
  const rank = (id: string) => (order.includes(id) ? order.indexOf(id) : order.length);
  return [...byTask.entries()].sort(([a], [b]) => rank(a) - rank(b)).map(([, w]) => w);
}

/**
 * An update's writes read from the values it changed: LangGraph 1.7 keeps no
 * pending writes for an update of an older checkpoint (a fork), 1.4 does.
 * These are the values after the reducers, which equal the writes for plain
 * channels.
 */
function changedValues(parent: StateSnapshot, child: StateSnapshot): TaskWrites[] {
  const before = (parent.values ?? {}) as Record<string, unknown>;
  const update: Record<string, unknown> = {};
  for (const [key, value] of Object.entries((child.values ?? {}) as Record<string, unknown>)) {
    if (JSON.stringify(value) !== JSON.stringify(before[key])) update[key] = value;
  }
  return Object.keys(update).length ? [{ node: UPDATE_NODE, update }] : [];
}

/**
 * The writes that turned checkpoint `parent` into `child`: for a run's
 * checkpoint, the writes of the parent's tasks (and of the error handlers
 * LangGraph scheduled for failed ones); for an `update` checkpoint, the
 * update's writes (node {@link UPDATE_NODE}).
 */
function writesOf(child: StateSnapshot, parent: StateSnapshot, parentTuple: CheckpointTuple | undefined): { nodes: string[]; writes: TaskWrites[] } {
  if (!parentTuple) return { nodes: [], writes: [] };
  const updateId = updateTaskId(idOf(parent));
  if (child.metadata?.source === "update") {
    const writes = group(parentTuple, (id) => id === updateId, () => UPDATE_NODE, []);
    return { nodes: [UPDATE_NODE], writes: writes.length ? writes : changedValues(parent, child) };
  }
  const names = new Map(parent.tasks.map((t) => [t.id, t.name]));
  const failed = [...new Set((parentTuple.pendingWrites ?? []).filter(([, c]) => c === "__error_source_node__").map(([, , v]) => String(v)))];
  // A task that is not one of the checkpoint's own (nor an update) is an error handler LangGraph scheduled.
  const handlerName = failed.length === 1 ? `__error_handler__${failed[0]}` : "__error_handler__";
  return {
    nodes: [...new Set(parent.next as string[])],
    writes: group(parentTuple, (id) => id !== updateId, (id) => names.get(id) ?? handlerName, [...names.keys()]),
  };
}

/**
 * The event log of `threadId`: every checkpoint, oldest first, with the
 * writes that produced it (see {@link EventEntry}). Forks are included (the
 * whole history); follow `parentCheckpointId` to walk one branch.
 *
 * @throws {ConfigurationError} when the graph has no checkpointer.
 * @throws {UnknownThreadError} when the thread has no checkpoint.
 */
export async function eventLog(graph: ThreadGraph, threadId: string): Promise<EventEntry[]> {
  const saver = saverOf(graph);
  const snapshots = await history(graph, threadId);
  const byId = new Map(snapshots.map((s) => [idOf(s), s]));
  const entries = await Promise.all(
    snapshots.map(async (s) => {
      const parentId = parentIdOf(s);
      const parent = parentId ? byId.get(parentId) : undefined;
      const parentTuple = parent ? await saver.getTuple(threadConfig(threadId, parentId)) : undefined;
      const { nodes, writes } = parent ? writesOf(s, parent, parentTuple) : { nodes: [], writes: [] };
      return {
        checkpointId: idOf(s),
        ...(parentId ? { parentCheckpointId: parentId } : {}),
        step: Number(s.metadata?.step ?? 0),
        source: String(s.metadata?.source ?? ""),
        createdAt: s.createdAt,
        nodes,
        writes,
        next: [...s.next],
      } satisfies EventEntry;
    }),
  );
  return entries.reverse();
}

/** The state of a thread at one checkpoint. */
export interface StateAt {
  checkpointId: string;
  step: number;
  createdAt?: string;
  /** The state's values at that checkpoint. */
  values: Record<string, unknown>;
  /** Nodes that ran next from there. */
  next: string[];
}

/** The snapshot `at` names on the thread's current branch. */
async function find(graph: ThreadGraph, threadId: string, at: CheckpointRef): Promise<StateSnapshot> {
  const snapshots = await history(graph, threadId);
  if (typeof at === "object") {
    const found = snapshots.find((s) => idOf(s) === at.checkpointId);
    if (!found) throw new UnknownCheckpointError(threadId, at.checkpointId);
    return found;
  }
  const branch = currentBranch(snapshots);
  const found = branch.find((s) => Number(s.metadata?.step) === at);
  if (!found) throw new NoCheckpointAtStepError(threadId, at, branch.map((s) => Number(s.metadata?.step)).reverse());
  return found;
}

/**
 * The state of `threadId` at step `at` of its current branch (the latest
 * checkpoint and its ancestors), or at checkpoint `{ checkpointId }`: the
 * state rebuilt from every event up to there (LangGraph keeps it in the
 * checkpoint).
 *
 * @throws {UnknownThreadError} / {NoCheckpointAtStepError} / {UnknownCheckpointError}.
 */
export async function stateAt(graph: ThreadGraph, threadId: string, at: CheckpointRef): Promise<StateAt> {
  const s = await find(graph, threadId, at);
  return { checkpointId: idOf(s), step: Number(s.metadata?.step ?? 0), createdAt: s.createdAt, values: s.values as Record<string, unknown>, next: [...s.next] };
}

/** Options of {@link forkAt}. */
export interface ForkOptions {
  /** Values to apply at the checkpoint before running on (an `updateState`). */
  values?: Record<string, unknown>;
  /** Node the update is attributed to (decides what runs next). Default: LangGraph's choice (the node that wrote the checkpoint). */
  asNode?: string;
  /** Run the graph on from the fork. Default true. */
  run?: boolean;
  /** Extra run config (callbacks, recursionLimit, configurable...). */
  config?: Record<string, any>;
}

/** A fork of a thread. */
export interface ForkResult {
  /** The checkpoint the fork starts from (a new one when `values` were applied). */
  checkpointId: string;
  /** The run's output, when the fork was run. */
  output?: Record<string, unknown>;
}

/**
 * Forks `threadId` at step `at` (or checkpoint): applies `values` there if
 * given, then (unless `run: false`) runs the graph on from that point. The
 * fork becomes the thread's latest state; the checkpoints after `at` stay in
 * the history (the event log keeps both branches).
 *
 * @throws {UnknownThreadError} / {NoCheckpointAtStepError} / {UnknownCheckpointError}.
 */
export async function forkAt(graph: ThreadGraph, threadId: string, at: CheckpointRef, options: ForkOptions = {}): Promise<ForkResult> {
  const s = await find(graph, threadId, at);
  let checkpointId = idOf(s);
  if (options.values) {
    const updated = await graph.updateState(threadConfig(threadId, checkpointId), options.values, options.asNode);
    checkpointId = String(updated.configurable.checkpoint_id);
  }
  if (options.run === false) return { checkpointId };
  const extra = options.config ?? {};
  const output = await graph.invoke(null, { ...extra, configurable: { ...(extra.configurable ?? {}), ...threadConfig(threadId, checkpointId).configurable } });
  return { checkpointId, output };
}

/** Options of {@link resumeRun}. */
export interface ResumeRunOptions {
  /** The answer to the thread's pending interrupt(s) (`Command({ resume })`). Omit to continue after a crash. */
  resume?: unknown;
  /** Extra run config (callbacks, recursionLimit, durability...). */
  config?: Record<string, any>;
}

/**
 * Checkpoint/resume: continues `threadId` from its last checkpoint. After a
 * crash or a kill, only the tasks of the unfinished superstep run again (and
 * steps inside them guarded by `onceForTask` are not repeated); after an
 * `interrupt()`, pass the answer as `resume`.
 *
 * @returns The run's output.
 * @throws {UnknownThreadError} when the thread has no checkpoint.
 * @throws {ResumeError} when the thread finished (nothing to resume), or waits
 *   for an interrupt answer and none was given.
 */
export async function resumeRun(graph: ThreadGraph, threadId: string, options: ResumeRunOptions = {}): Promise<Record<string, unknown>> {
  saverOf(graph);
  await history(graph, threadId);
  const snapshot = await graph.getState({ configurable: { thread_id: threadId } });
  const waiting = snapshot.tasks.some((t) => (t.interrupts ?? []).length > 0);
  if (options.resume === undefined) {
    if (waiting) throw new ResumeError(threadId, "it is waiting for an answer to an interrupt; pass resume");
    if (snapshot.next.length === 0) throw new ResumeError(threadId, "it has finished; nothing to resume (fork it to run again from a checkpoint)");
  }
  const extra = options.config ?? {};
  const input = options.resume === undefined ? null : new Command({ resume: options.resume });
  return graph.invoke(input, { ...extra, configurable: { ...(extra.configurable ?? {}), thread_id: threadId } });
}
