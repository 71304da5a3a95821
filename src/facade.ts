/**
 * The facade: run a registered workflow by name with validated input.
 *
 * @example
 * ```ts
 * import { runWorkflow } from "llm-workflows";
 * const out = await runWorkflow("supportRouting", { query: "I was charged twice" });
 * out.route; // "billing"
 * ```
 * @module
 */
import type { BaseCheckpointSaver } from "@langchain/langgraph";
import type { Callbacks } from "@langchain/core/callbacks/manager";
import { setMaxListeners } from "node:events";
import { performance } from "node:perf_hooks";
import { WORKFLOW_METADATA_KEY, withCheckpointMetadata } from "./runtime/checkpointer.js";
import { ConfigurationError, parseInput } from "./runtime/errors.js";
import { pendingInterrupts, type PendingInterrupt } from "./runtime/interrupts.js";
import { emptyUsage, UsageTracker, type TokenUsage } from "./runtime/usage.js";
import { USAGE_HANDLER_KEY } from "./models/factory.js";
import type { Budget } from "./runtime/cost.js";
import { redactSecrets } from "./runtime/redact.js";
import { getWorkflow } from "./registry.js";
import type { WorkflowDefinition } from "./workflow.js";

/** When checkpoints are written (LangGraph's `durability`): at exit only, in the background, or before each next step. */
export type Durability = "exit" | "async" | "sync";

/** Options of {@link runWorkflow} and {@link streamWorkflow}. */
export interface RunOptions {
  /** Checkpointer for durable threads; required with `threadId`. */
  checkpointer?: BaseCheckpointSaver;
  /** Thread to run on (needs `checkpointer`): the run's checkpoints are saved under it. */
  threadId?: string;
  /** When checkpoints are written (default LangGraph's `async`). */
  durability?: Durability;
  /**
   * Run configuration read by nodes: model settings (`model`, `strongModel`,
   * `temperature`, `timeoutMs`, `maxRetries`, `provider`, `baseURL`) and
   * workflow settings such as `confidenceThreshold`.
   */
  configurable?: Record<string, unknown>;
  /** Shorthand for `configurable.model` (`offline` selects the offline model). */
  model?: string;
  /** Aborts the run. */
  signal?: AbortSignal;
  /** LangGraph's superstep limit (default 25; loops keep their own caps in state). */
  recursionLimit?: number;
  /** Extra LangChain callbacks (tracing). */
  callbacks?: Callbacks;
  /** Stop the run with a `BudgetExceededError` before the model call that would exceed this (tokens and/or USD). */
  budget?: Budget;
  /** Append one JSON line per model call to this file (default: `LLM_WORKFLOWS_CALL_LOG`, else none). Secrets are redacted. */
  callLog?: string;
}

export type { PendingInterrupt };

/** Progress and result events of {@link streamWorkflow}. */
export type WorkflowEvent =
  | { type: "node"; node: string; durationMs: number; usage: TokenUsage; error?: string; interrupted?: boolean }
  | {
      type: "result";
      output: Record<string, unknown>;
      usage: TokenUsage;
      byNode: Record<string, TokenUsage>;
      /** Interrupts the run stopped at (resume them with `resumeWorkflow`); empty when it finished. */
      interrupts: PendingInterrupt[];
      threadId?: string;
    };

/*
 * LangGraph adds one abort listener per parallel task to the run's signal, so a
 * fan-out over more than ten items makes Node warn of a listener leak that is
 * not one. Raising the default for new EventTargets keeps stderr readable.
 */
let listenersRaised = false;
function raiseListenerLimit(): void {
  if (listenersRaised) return;
  listenersRaised = true;
  setMaxListeners(0);
}

/** The output channels of a values chunk (the "values" stream mode carries the whole state). */
function pickOutput(values: Record<string, unknown>, channels: string | string[]): Record<string, unknown> {
  if (typeof channels === "string") return { [channels]: values[channels] };
  return Object.fromEntries(channels.filter((c) => c in values).map((c) => [c, values[c]]));
}

const compiledWith = new WeakMap<BaseCheckpointSaver, WeakMap<WorkflowDefinition<any>, WorkflowDefinition["graph"]>>();

/**
 * The compiled graph for a run: the exported one, or one compiled with the
 * (workflow-tagged) checkpointer, kept per checkpointer so that a run does not
 * pay for compiling (2-9 ms for a 100-node graph, `bench/`).
 */
export function graphFor(workflow: WorkflowDefinition<any>, checkpointer?: BaseCheckpointSaver) {
  if (!checkpointer) return workflow.graph;
  let byWorkflow = compiledWith.get(checkpointer);
  if (!byWorkflow) compiledWith.set(checkpointer, (byWorkflow = new WeakMap()));
  let graph = byWorkflow.get(workflow);
  if (!graph) {
    const tagged = withCheckpointMetadata(checkpointer, { [WORKFLOW_METADATA_KEY]: workflow.name });
    graph = workflow.builder.compile({ checkpointer: tagged, name: workflow.name } as any) as WorkflowDefinition["graph"];
    byWorkflow.set(workflow, graph);
  }
  return graph;
}

/**
 * Runs `graphInput` (validated input, `null` to continue, or a `Command`) on
 * `workflow`'s graph and yields node and result events. Shared by runs,
 * resumes and forks.
 * @internal
 */
export async function* executeGraph(
  workflow: WorkflowDefinition<any>,
  graphInput: unknown,
  options: RunOptions,
  extraConfigurable: Record<string, unknown> = {},
): AsyncGenerator<WorkflowEvent> {
  if (options.threadId && !options.checkpointer) {
    throw new ConfigurationError("threadId", "a checkpointer to keep the thread in (option checkpointer)", options.threadId);
  }
  raiseListenerLimit();
  const tracker = new UsageTracker({
    budget: options.budget,
    callLog: options.callLog ?? (process.env.LLM_WORKFLOWS_CALL_LOG || undefined),
    secrets: [options.configurable?.apiKey as string | undefined, process.env.OPENAI_API_KEY].filter((s): s is string => !!s),
  });
  const graph = graphFor(workflow, options.checkpointer);
  const configurable = {
    ...(options.configurable ?? {}),
    // On the factory's models, not on the run's callbacks (see USAGE_HANDLER_KEY).
    [USAGE_HANDLER_KEY]: tracker,
    ...(options.model ? { model: options.model } : {}),
    ...(options.threadId ? { thread_id: options.threadId } : {}),
    ...extraConfigurable,
  };
  const config = {
    configurable,
    signal: options.signal,
    recursionLimit: options.recursionLimit,
    ...(options.callbacks ? { callbacks: options.callbacks } : {}),
    runName: workflow.name,
    ...(options.durability ? { durability: options.durability } : {}),
    streamMode: ["values", "tasks"],
  };
  const started = new Map<string, number>();
  let output: Record<string, unknown> = {};
  const stream = await graph.stream(graphInput as any, config as any);
  for await (const [mode, chunk] of stream as AsyncIterable<[string, any]>) {
    if (mode === "values") {
      // On an interrupt the values stream sends `{ __interrupt__ }` alone; the state is the chunk before it.
      if (!("__interrupt__" in chunk)) output = pickOutput(chunk, graph.outputChannels);
    } else if (mode === "tasks") {
      if ("input" in chunk && !("result" in chunk)) {
        started.set(chunk.id, performance.now());
      } else {
        const begin = started.get(chunk.id);
        started.delete(chunk.id);
        const raw = chunk.error ? String(chunk.error?.message ?? chunk.error) : tracker.taskErrors.get(chunk.id);
        const error = raw === undefined ? undefined : redactSecrets(raw);
        yield {
          type: "node",
          node: chunk.name,
          durationMs: begin === undefined ? 0 : performance.now() - begin,
          usage: tracker.byTask.get(chunk.id) ?? emptyUsage(),
          ...(error ? { error } : {}),
          ...(chunk.interrupts?.length && !error ? { interrupted: true } : {}),
        };
      }
    }
  }
  let interrupts: PendingInterrupt[] = [];
  if (options.checkpointer && configurable.thread_id) {
    const state = await graph.getState({ configurable: { thread_id: configurable.thread_id } });
    interrupts = await pendingInterrupts(state, options.checkpointer);
  }
  yield {
    type: "result",
    output,
    usage: tracker.total,
    byNode: Object.fromEntries(tracker.byNode),
    interrupts,
    ...(options.threadId ? { threadId: options.threadId } : {}),
  };
}

/**
 * Runs workflow `name` on `input` and yields one `node` event per finished node
 * task (with its duration in ms and its model tokens), then one `result` event
 * with the output state, the run's token usage and any pending interrupts.
 *
 * @throws {UnknownWorkflowError} for an unknown name.
 * @throws {InvalidInputError} naming each bad field, before anything runs (no thread is written).
 * @throws {ConfigurationError} for a thread without a checkpointer or a bad model setting.
 */
export async function* streamWorkflow(name: string, input: unknown, options: RunOptions = {}): AsyncGenerator<WorkflowEvent> {
  const workflow = getWorkflow(name);
  const parsed = parseInput(name, workflow.input, input);
  yield* executeGraph(workflow, parsed, options);
}

/** Drains events into the final result event. */
export async function lastResult(events: AsyncIterable<WorkflowEvent>): Promise<Extract<WorkflowEvent, { type: "result" }>> {
  let result: Extract<WorkflowEvent, { type: "result" }> | undefined;
  for await (const event of events) if (event.type === "result") result = event;
  if (!result) throw new Error("the run ended without a result");
  return result;
}

/**
 * Runs workflow `name` on `input` and returns its output state (with
 * `__interrupt__` listing pending interrupts when the run paused at one).
 *
 * @param name - A registered workflow (see `listWorkflows()`).
 * @param input - Validated against the workflow's input schema; defaults apply.
 * @throws {UnknownWorkflowError} for an unknown name.
 * @throws {InvalidInputError} naming each bad field, before anything runs.
 * @throws {ConfigurationError} for a thread without a checkpointer or a bad model setting.
 */
export async function runWorkflow<T extends Record<string, unknown> = Record<string, any>>(
  name: string,
  input: unknown,
  options: RunOptions = {},
): Promise<T> {
  const result = await lastResult(streamWorkflow(name, input, options));
  return (result.interrupts.length ? { ...result.output, __interrupt__: result.interrupts } : result.output) as T;
}

