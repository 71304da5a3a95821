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
import { ConfigurationError, parseInput } from "./runtime/errors.js";
import { emptyUsage, UsageTracker, type TokenUsage } from "./runtime/usage.js";
import { getWorkflow } from "./registry.js";

/** Options of {@link runWorkflow} and {@link streamWorkflow}. */
export interface RunOptions {
  /** Checkpointer for durable threads; required with `threadId`. */
  checkpointer?: BaseCheckpointSaver;
  /** Thread to run on (needs `checkpointer`): the run's checkpoints are saved under it. */
  threadId?: string;
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
}

/** Progress and result events of {@link streamWorkflow}. */
export type WorkflowEvent =
  | { type: "node"; node: string; durationMs: number; usage: TokenUsage; error?: string }
  | { type: "result"; output: Record<string, unknown>; usage: TokenUsage; byNode: Record<string, TokenUsage> };

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

function runConfig(name: string, options: RunOptions, tracker: UsageTracker) {
  if (options.threadId && !options.checkpointer) {
    throw new ConfigurationError("threadId", "a checkpointer to keep the thread in (option checkpointer)", options.threadId);
  }
  const callbacks = Array.isArray(options.callbacks) ? [...options.callbacks, tracker] : options.callbacks ? options.callbacks : [tracker];
  if (!Array.isArray(callbacks)) callbacks.addHandler(tracker);
  return {
    configurable: {
      ...(options.configurable ?? {}),
      ...(options.model ? { model: options.model } : {}),
      ...(options.threadId ? { thread_id: options.threadId } : {}),
    },
    signal: options.signal,
    recursionLimit: options.recursionLimit,
    callbacks,
    runName: name,
  };
}

/** The output channels of a values chunk (the "values" stream mode carries the whole state). */
function pickOutput(values: Record<string, unknown>, channels: string | string[]): Record<string, unknown> {
  if (typeof channels === "string") return { [channels]: values[channels] };
  return Object.fromEntries(channels.filter((c) => c in values).map((c) => [c, values[c]]));
}

/**
 * Runs workflow `name` on `input` and yields one `node` event per finished node
 * task (with its duration in ms and its model tokens), then one `result` event
 * with the output state and the run's token usage.
 *
 * @throws {UnknownWorkflowError} for an unknown name.
 * @throws {InvalidInputError} naming each bad field, before anything runs.
 * @throws {ConfigurationError} for a thread without a checkpointer or a bad model setting.
 */
export async function* streamWorkflow(
  name: string,
  input: unknown,
  options: RunOptions = {},
): AsyncGenerator<WorkflowEvent> {
  const workflow = getWorkflow(name);
  const parsed = parseInput(name, workflow.input, input);
  raiseListenerLimit();
  const tracker = new UsageTracker();
  const graph = options.checkpointer ? workflow.builder.compile({ checkpointer: options.checkpointer, name } as any) : workflow.graph;
  const started = new Map<string, number>();
  let output: Record<string, unknown> = {};
  const stream = await graph.stream(parsed, { ...runConfig(name, options, tracker), streamMode: ["values", "tasks"] } as any);
  for await (const [mode, chunk] of stream as AsyncIterable<[string, any]>) {
    if (mode === "values") {
      output = pickOutput(chunk, graph.outputChannels);
    } else if (mode === "tasks") {
      if ("input" in chunk && !("result" in chunk)) {
        started.set(chunk.id, performance.now());
      } else {
        const begin = started.get(chunk.id);
        started.delete(chunk.id);
        const error = chunk.error ? String(chunk.error?.message ?? chunk.error) : tracker.taskErrors.get(chunk.id);
        yield {
          type: "node",
          node: chunk.name,
          durationMs: begin === undefined ? 0 : performance.now() - begin,
          usage: tracker.byTask.get(chunk.id) ?? emptyUsage(),
          ...(error ? { error } : {}),
        };
      }
    }
  }
  yield { type: "result", output, usage: tracker.total, byNode: Object.fromEntries(tracker.byNode) };
}

/**
 * Runs workflow `name` on `input` and returns its output state.
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
  let output: Record<string, unknown> = {};
  for await (const event of streamWorkflow(name, input, options)) if (event.type === "result") output = event.output;
  return output as T;
}
