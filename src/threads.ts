/**
 * Durable threads through the facade: list them, read a thread's state and
 * checkpoint history, resume it (after a crash, or answering its interrupts),
 * and fork it from a past checkpoint (time travel), optionally with edited
 * state. The workflow of a thread is the one given (`workflow` option), else
 * the one its checkpoints' metadata names (recorded by runs of the facade),
 * looked up in the `registry` option or the default registry.
 *
 * @module
 */
import { Command, type BaseCheckpointSaver, type StateSnapshot } from "@langchain/langgraph";
import { executeGraph, graphFor, lastResult, resolveWorkflow, type PendingInterrupt, type RunOptions, type WorkflowEvent, type WorkflowTarget } from "./facade.js";
import { pendingInterrupts } from "./runtime/interrupts.js";
import { isApprovalRequest, parseReviewDecision } from "./patterns/state/approval.js";
import type { WorkflowRegistry } from "./registry.js";
import { WORKFLOW_METADATA_KEY, WORKFLOW_SOURCE_METADATA_KEY } from "./runtime/checkpointer.js";
import { ResumeError, UnknownCheckpointError, UnknownThreadError } from "./runtime/errors.js";
import type { WorkflowDefinition } from "./workflow.js";

/** One thread of a checkpointer. */
export interface ThreadSummary {
  threadId: string;
  /** The workflow that wrote it (unknown for threads written outside the facade). */
  workflow?: string;
  checkpoints: number;
  /** Step of the latest checkpoint. */
  step: number;
  /** Time of the latest checkpoint (ISO 8601). */
  updatedAt?: string;
}

/** Every thread in `saver`, latest first. */
export async function listThreads(saver: BaseCheckpointSaver): Promise<ThreadSummary[]> {
  const threads = new Map<string, ThreadSummary>();
  for await (const tuple of saver.list({})) {
    if (tuple.config.configurable?.checkpoint_ns) continue;
    const threadId = String(tuple.config.configurable?.thread_id);
    const seen = threads.get(threadId);
    const ts = tuple.checkpoint.ts;
    if (!seen) {
      threads.set(threadId, {
        threadId,
        workflow: tuple.metadata?.[WORKFLOW_METADATA_KEY as keyof typeof tuple.metadata] as string | undefined,
        checkpoints: 1,
        step: Number(tuple.metadata?.step ?? 0),
        updatedAt: ts,
      });
    } else {
      seen.checkpoints++;
      if (ts && (!seen.updatedAt || ts > seen.updatedAt)) {
        seen.updatedAt = ts;
        seen.step = Number(tuple.metadata?.step ?? 0);
      }
      seen.workflow ??= tuple.metadata?.[WORKFLOW_METADATA_KEY as keyof typeof tuple.metadata] as string | undefined;
    }
  }
  return [...threads.values()].sort((a, b) => String(b.updatedAt).localeCompare(String(a.updatedAt)));
}

/** Which workflow a thread operation uses. */
export interface ThreadWorkflowOptions {
  /**
   * The thread's workflow. Default: the one named in the thread's checkpoint
   * metadata, looked up in `registry`.
   */
  workflow?: WorkflowTarget;
  /** Where the recorded name is looked up (default: `defaultRegistry`). */
  registry?: WorkflowRegistry;
}

/** What a thread's latest checkpoint says of its workflow: its name and, for a graph loaded from a file, where from. */
export async function recordedWorkflow(saver: BaseCheckpointSaver, threadId: string): Promise<{ name?: string; source?: string }> {
  const tuple = await saver.getTuple({ configurable: { thread_id: threadId } });
  if (!tuple) throw new UnknownThreadError(threadId, "the checkpointer");
  const metadata = (tuple.metadata ?? {}) as Record<string, unknown>;
  return { name: metadata[WORKFLOW_METADATA_KEY] as string | undefined, source: metadata[WORKFLOW_SOURCE_METADATA_KEY] as string | undefined };
}

/**
 * The workflow a thread belongs to.
 * @throws {UnknownThreadError} when the thread has no checkpoint.
 * @throws {UnknownWorkflowError} when its workflow is not registered (or not recorded) and none is given.
 */
export async function workflowOfThread(saver: BaseCheckpointSaver, threadId: string, options: ThreadWorkflowOptions = {}): Promise<WorkflowDefinition<any>> {
  const recorded = await recordedWorkflow(saver, threadId);
  if (options.workflow !== undefined) return resolveWorkflow(options.workflow, options.registry);
  return resolveWorkflow(recorded.name ?? "(not recorded: the thread was not written by llm-workflows; pass the workflow option)", options.registry);
}

/** A thread's current state. */
export interface ThreadState {
  threadId: string;
  workflow: string;
  checkpointId: string;
  step: number;
  createdAt?: string;
  values: Record<string, unknown>;
  /** Nodes that run next when the thread is resumed (empty when it finished). */
  next: string[];
  interrupts: PendingInterrupt[];
}

/**
 * The current state of `threadId`.
 * @throws {UnknownThreadError} when the thread has no checkpoint.
 */
export async function getThreadState(threadId: string, saver: BaseCheckpointSaver, options: ThreadWorkflowOptions = {}): Promise<ThreadState> {
  const workflow = await workflowOfThread(saver, threadId, options);
  const snapshot = await graphFor(workflow, saver).getState({ configurable: { thread_id: threadId } });
  return {
    threadId,
    workflow: workflow.name,
    checkpointId: String(snapshot.config.configurable?.checkpoint_id),
    step: Number(snapshot.metadata?.step ?? 0),
    createdAt: snapshot.createdAt,
    values: snapshot.values as Record<string, unknown>,
    next: [...snapshot.next],
    interrupts: await pendingInterrupts(snapshot, saver),
  };
}

/** One checkpoint of a thread's history. */
export interface CheckpointEntry {
  checkpointId: string;
  step: number;
  /** `input`, `loop`, `update` or `fork`. */
  source: string;
  /** The nodes whose writes this checkpoint holds (the tasks of the step before it). */
  nodes: string[];
  createdAt?: string;
  /** Nodes that run after it. */
  next: string[];
}

/**
 * The checkpoints of `threadId`, oldest first.
 * @throws {UnknownThreadError} when the thread has no checkpoint.
 */
export async function getThreadHistory(threadId: string, saver: BaseCheckpointSaver, options: ThreadWorkflowOptions = {}): Promise<CheckpointEntry[]> {
  const workflow = await workflowOfThread(saver, threadId, options);
  const snapshots: StateSnapshot[] = [];
  for await (const s of graphFor(workflow, saver).getStateHistory({ configurable: { thread_id: threadId } })) snapshots.push(s);
  snapshots.reverse();
  // A checkpoint holds the writes of its parent's next tasks (after a fork, the parent is not the entry before it).
  const byId = new Map(snapshots.map((s) => [String(s.config.configurable?.checkpoint_id), s]));
  return snapshots.map((s) => ({
    checkpointId: String(s.config.configurable?.checkpoint_id),
    step: Number(s.metadata?.step ?? 0),
    source: String(s.metadata?.source ?? ""),
    nodes: [...(byId.get(String(s.parentConfig?.configurable?.checkpoint_id))?.next ?? [])],
    createdAt: s.createdAt,
    next: [...s.next],
  }));
}

/** How to resume a thread. */
export interface ResumeOptions extends Omit<RunOptions, "threadId" | "checkpointer">, ThreadWorkflowOptions {
  /**
   * The answer to the pending interrupt. Omit to continue a thread that was
   * stopped by a crash or a kill (it re-runs only the tasks that did not finish).
   */
  resume?: unknown;
  /** Which interrupt `resume` answers, when several are pending. */
  interruptId?: string;
  /** Answers to several pending interrupts at once: interrupt id -> answer. */
  resumeMap?: Record<string, unknown>;
}

/**
 * Resumes `threadId` and yields its node and result events.
 * @throws {UnknownThreadError} when the thread has no checkpoint.
 * @throws {ResumeError} when an answer is given but nothing is pending, an id is unknown, or several are pending and no id is given.
 * @throws {InvalidInputError} when an approval answer is not approve / edit (with a value) / reject (with a reason).
 */
export async function* resumeThread(threadId: string, saver: BaseCheckpointSaver, options: ResumeOptions = {}): AsyncGenerator<WorkflowEvent> {
  const workflow = await workflowOfThread(saver, threadId, options);
  const state = await getThreadState(threadId, saver, { workflow });
  const pending = state.interrupts;
  let input: unknown = null;
  if (options.resumeMap) {
    for (const [id, answer] of Object.entries(options.resumeMap)) {
      const target = pending.find((p) => p.id === id);
      if (!target) throw new ResumeError(threadId, `no pending interrupt "${id}"; pending: ${pending.map((p) => p.id).join(", ") || "none"}`);
      if (isApprovalRequest(target.value)) parseReviewDecision(answer);
    }
    input = new Command({ resume: options.resumeMap });
  } else if (options.resume !== undefined) {
    if (pending.length === 0) throw new ResumeError(threadId, "it has no pending interrupt to answer");
    const id = options.interruptId ?? (pending.length === 1 ? pending[0].id : undefined);
    if (!id) throw new ResumeError(threadId, `${pending.length} interrupts are pending; name one (${pending.map((p) => p.id).join(", ")})`);
    const target = pending.find((p) => p.id === id);
    if (!target) throw new ResumeError(threadId, `no pending interrupt "${id}"`);
    if (isApprovalRequest(target.value)) parseReviewDecision(options.resume);
    input = new Command({ resume: { [id]: options.resume } });
  } else if (pending.length) {
    throw new ResumeError(threadId, `it is waiting for an answer to ${pending.length} interrupt(s): ${pending.map((p) => `${p.id} (${p.node})`).join(", ")}`);
  } else if (state.next.length === 0) {
    throw new ResumeError(threadId, "it has finished; nothing to resume (fork it to run again from a checkpoint)");
  }
  yield* executeGraph(workflow, input, { ...options, checkpointer: saver, threadId });
}

/** Resumes `threadId` and returns its result event (see {@link resumeThread}). */
export async function resumeWorkflow(threadId: string, saver: BaseCheckpointSaver, options: ResumeOptions = {}) {
  return lastResult(resumeThread(threadId, saver, options));
}

/** How to fork a thread. */
export interface ForkThreadOptions extends Omit<RunOptions, "threadId" | "checkpointer">, ThreadWorkflowOptions {
  /** State values to apply at the checkpoint before running on. */
  values?: Record<string, unknown>;
  /** The node the update is attributed to (default: the one that wrote the checkpoint). */
  asNode?: string;
}
type ForkOptions = ForkThreadOptions;

/**
 * Forks `threadId` at `checkpointId` (time travel): optionally applies `values`
 * as an update at that checkpoint (attributed to `asNode`, default: the node
 * that wrote it), then runs on from there. The thread's later checkpoints stay
 * in its history; the fork becomes its latest state.
 *
 * @throws {UnknownThreadError} / {UnknownCheckpointError} when either is unknown.
 */
export async function* forkThread(
  threadId: string,
  checkpointId: string,
  saver: BaseCheckpointSaver,
  options: ForkOptions = {},
): AsyncGenerator<WorkflowEvent> {
  const workflow = await workflowOfThread(saver, threadId, options);
  const at = { configurable: { thread_id: threadId, checkpoint_ns: "", checkpoint_id: checkpointId } };
  if (!(await saver.getTuple(at))) throw new UnknownCheckpointError(threadId, checkpointId);
  let from = at;
  if (options.values) {
    from = (await graphFor(workflow, saver).updateState(at, options.values, options.asNode)) as typeof at;
  }
  yield* executeGraph(workflow, null, { ...options, checkpointer: saver, threadId }, { checkpoint_id: from.configurable.checkpoint_id });
}
