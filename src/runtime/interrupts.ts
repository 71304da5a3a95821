/**
 * Pending interrupts of a thread, as the facade and the thread commands report them.
 *
 * @module
 */
import type { BaseCheckpointSaver, StateSnapshot } from "@langchain/langgraph";

/** An `interrupt()` waiting for a human: resume it by id. */
export interface PendingInterrupt {
  id: string;
  /** The node that raised it. */
  node: string;
  /** What the node asked (for an approval step: the draft, the question, the deadline). */
  value: unknown;
}

/**
 * The interrupts still waiting in `snapshot`. LangGraph's `getState` keeps the
 * interrupts of tasks in an unfinished superstep even after they were answered
 * (when other interrupts of the step are still open); the answered ones have a
 * `__resume__` write in the checkpoint's pending writes and are left out.
 */
export async function pendingInterrupts(snapshot: StateSnapshot, saver: BaseCheckpointSaver): Promise<PendingInterrupt[]> {
  const all = snapshot.tasks.flatMap((t) => (t.interrupts ?? []).map((i) => ({ id: String(i.id), node: t.name, value: i.value, task: t.id })));
  if (all.length === 0) return [];
  const tuple = await saver.getTuple(snapshot.config);
  const answeredTasks = new Set<string>();
  const answeredIds = new Set<string>();
  for (const [taskId, channel, value] of tuple?.pendingWrites ?? []) {
    if (channel !== "__resume__") continue;
    answeredTasks.add(taskId);
    if (value && typeof value === "object" && !Array.isArray(value)) for (const id of Object.keys(value)) answeredIds.add(id);
  }
  return all.filter((i) => !answeredTasks.has(i.task) && !answeredIds.has(i.id)).map(({ task: _task, ...rest }) => rest);
}
