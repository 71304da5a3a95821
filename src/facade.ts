/**
 * The facade: run any workflow (a name in a registry, a definition, or a
 * compiled LangGraph graph) with validated input, and get node events with
 * durations and token usage, budgets and a call log.
 *
 * @example
 * ```ts
 * import { runWorkflow } from "llm-workflows";
 * import { supportRouting } from "llm-workflows/workflows";
 * const out = await runWorkflow(supportRouting, { query: "I was charged twice" });
 * out.route; // "billing"
 * ```
 * @module
 */
import type { BaseCheckpointSaver } from "@langchain/langgraph";
import type { Callbacks } from "@langchain/core/callbacks/manager";
import { setMaxListeners } from "node:events";
import { isInteropZodObject } from "@langchain/core/utils/types";
import { StateSchema } from "@langchain/langgraph";
import { performance } from "node:perf_hooks";
import { WORKFLOW_METADATA_KEY, WORKFLOW_SOURCE_METADATA_KEY, withCheckpointMetadata } from "./runtime/checkpointer.js";
import { ConfigurationError, InvalidInputError, parseInput, type FieldIssue } from "./runtime/errors.js";
import { pendingInterrupts, type PendingInterrupt } from "./runtime/interrupts.js";
import { emptyUsage, UsageTracker, type TokenUsage } from "./runtime/usage.js";
import { USAGE_HANDLER_KEY } from "./models/factory.js";
import { BudgetExceededError, pricesFrom, type Budget } from "./runtime/cost.js";
import { redactSecrets } from "./runtime/redact.js";
import { RECORDER_KEY, recorderForOptions, type ModelCallRecorder, type ReplayMode } from "./models/replay.js";
import { defaultRegistry, type WorkflowRegistry } from "./registry.js";
import { isCompiledGraph, isStateGraph, workflowFromGraph, type CompiledGraph, type UncompiledGraph, type WorkflowDefinition } from "./workflow.js";

/**
 * What the facade runs: a workflow name (looked up in `RunOptions.registry`,
 * else in `defaultRegistry`), a {@link WorkflowDefinition}, or a LangGraph
 * `StateGraph`, compiled or not.
 */
export type WorkflowTarget = string | WorkflowDefinition<any> | CompiledGraph | UncompiledGraph;

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
  /** Where a workflow given by name is looked up (default: `defaultRegistry`). */
  registry?: WorkflowRegistry;
  /** Append every model request and its answer to this JSONL file (secrets redacted); see docs/record-and-replay.md. */
  record?: string;
  /** Answer every model call from this recording (a file, or a recorder shared by several runs) instead of the provider. */
  replay?: string | ModelCallRecorder;
  /** `strict` (default): a request not in the recording is a `ReplayMissError`; `record-missing`: call the model and append it. */
  replayMode?: ReplayMode;
}

const definitionsOfGraphs = new WeakMap<object, WorkflowDefinition<any>>();

/**
 * The definition `target` stands for (see {@link WorkflowTarget}). A graph
 * given twice maps to the same definition, so its compiled copies are reused.
 * @throws {UnknownWorkflowError} for a name the registry does not have.
 * @throws {GraphDefinitionError} for a value that is none of the three.
 */
export function resolveWorkflow(target: WorkflowTarget, registry: WorkflowRegistry = defaultRegistry): WorkflowDefinition<any> {
  if (typeof target === "string") return registry.get(target);
  if (isCompiledGraph(target) || isStateGraph(target)) {
    let definition = definitionsOfGraphs.get(target);
    if (!definition) definitionsOfGraphs.set(target, (definition = workflowFromGraph(target)));
    return definition;
  }
  if (target && typeof target === "object" && isCompiledGraph((target as WorkflowDefinition).graph)) return target as WorkflowDefinition<any>;
  return workflowFromGraph(target);
}

/**
 * `input` validated against the workflow's input schema: its definition's zod
 * `input`, else the graph's own input schema (a zod object, checked whole, or
 * a `StateSchema`, which checks the fields present), else its state schema
 * when that is a `StateSchema`, else any JSON object. Zod defaults are applied.
 * @throws {InvalidInputError} naming each bad field.
 */
export async function validateWorkflowInput(workflow: WorkflowDefinition<any>, input: unknown): Promise<Record<string, unknown>> {
  if (workflow.input) return parseInput(workflow.name, workflow.input, input);
  const builder = workflow.builder as unknown as { _inputRuntimeDefinition?: unknown; _schemaRuntimeDefinition?: unknown };
  // A graph built without an `input` option takes its state's fields (LangGraph's PartialStateSchema marker).
  const declared = builder._inputRuntimeDefinition;
  const schema = isInteropZodObject(declared) || StateSchema.isInstance(declared) ? declared : builder._schemaRuntimeDefinition;
  if (isInteropZodObject(schema) && schema === declared) return parseInput(workflow.name, schema as any, input);
  if (input === null || typeof input !== "object" || Array.isArray(input)) {
    throw new InvalidInputError(workflow.name, [{ path: "(root)", message: `expected a JSON object, received ${Array.isArray(input) ? "an array" : input === null ? "null" : typeof input}` }]);
  }
  if (StateSchema.isInstance(schema)) {
    const issues = await stateSchemaIssues(schema as StateSchema<any>, input as Record<string, unknown>);
    if (issues.length) throw new InvalidInputError(workflow.name, issues);
    return (await (schema as StateSchema<any>).validateInput(input as never)) as Record<string, unknown>;
  }
  return input as Record<string, unknown>;
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

/**
 * The run's own abort signal, following the caller's. LangGraph adds an abort
 * listener to the run's signal per superstep, so a long run would make Node
 * warn of a listener leak that is not one: the limit is lifted on this signal
 * only, never on the caller's or the process's. (The per-task listeners of a
 * large fan-out go on a signal LangGraph makes for each superstep, which no
 * option reaches: langgraphjs issue #1494.)
 */
function runSignal(caller: AbortSignal | undefined): AbortSignal {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  if (caller?.aborted) controller.abort(caller.reason);
  else caller?.addEventListener("abort", () => controller.abort(caller.reason), { once: true });
  return controller.signal;
}

/**
 * Every problem of the fields present in `input`, checked with each field's
 * Standard Schema the way `StateSchema.validateInput` picks it (a reduced
 * value's input schema, an untracked value's schema, or the field itself).
 * LangGraph's own check stops at the first bad field, with its issues as JSON
 * text in the message; this one names them all as {@link FieldIssue}s.
 */
async function stateSchemaIssues(schema: StateSchema<any>, input: Record<string, unknown>): Promise<FieldIssue[]> {
  const issues: FieldIssue[] = [];
  const fields = (schema as unknown as { fields: Record<string, any> }).fields;
  for (const [key, value] of Object.entries(input)) {
    const field = fields[key];
    const standard = field?.inputSchema?.["~standard"] ?? field?.schema?.["~standard"] ?? field?.["~standard"];
    if (!standard) continue;
    const result = await standard.validate(value);
    for (const issue of result.issues ?? []) {
      const path = [key, ...(issue.path ?? []).map((p: unknown) => String(typeof p === "object" && p !== null ? (p as { key: unknown }).key : p))];
      issues.push({ path: path.join("."), message: issue.message });
    }
  }
  return issues;
}

/** The output channels of a values chunk (the "values" stream mode carries the whole state). */
function pickOutput(values: Record<string, unknown>, channels: string | string[]): Record<string, unknown> {
  if (typeof channels === "string") return { [channels]: values[channels] };
  return Object.fromEntries(channels.filter((c) => c in values).map((c) => [c, values[c]]));
}

const compiledWith = new WeakMap<BaseCheckpointSaver, WeakMap<WorkflowDefinition<any>, CompiledGraph>>();

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
    const tagged = withCheckpointMetadata(checkpointer, {
      [WORKFLOW_METADATA_KEY]: workflow.name,
      ...(workflow.source ? { [WORKFLOW_SOURCE_METADATA_KEY]: workflow.source } : {}),
    });
    // What the graph was compiled with, besides its checkpointer, carries over.
    const { interruptBefore, interruptAfter, store, cache, description } = workflow.graph as unknown as Record<string, unknown>;
    graph = workflow.builder.compile({ checkpointer: tagged, name: workflow.name, interruptBefore, interruptAfter, store, cache, description } as any) as CompiledGraph;
    byWorkflow.set(workflow, graph);
  }
  return graph;
}

/**
 * Runs `graphInput` (validated input, `null` to continue, or a `Command`) on
 * `workflow`'s graph and yields node and result events. Shared by runs,
 * resumes and forks. With `nodeEvents` false it yields only the result
 * event and does not ask LangGraph for the `tasks` stream.
 * @internal
 */
export async function* executeGraph(
  workflow: WorkflowDefinition<any>,
  graphInput: unknown,
  options: RunOptions,
  extraConfigurable: Record<string, unknown> = {},
  nodeEvents = true,
): AsyncGenerator<WorkflowEvent> {
  if (options.threadId && !options.checkpointer) {
    throw new ConfigurationError("threadId", "a checkpointer to keep the thread in (option checkpointer)", options.threadId);
  }
  const secrets = [options.configurable?.apiKey as string | undefined, process.env.OPENAI_API_KEY].filter((s): s is string => !!s);
  const recorder = recorderForOptions({ record: options.record, replay: options.replay, replayMode: options.replayMode, secrets });
  const tracker = new UsageTracker({
    budget: options.budget,
    // The run's price table: configurable.prices over the defaults (nothing process-wide).
    prices: pricesFrom(options.configurable),
    callLog: options.callLog ?? (process.env.LLM_WORKFLOWS_CALL_LOG || undefined),
    secrets,
  });
  const graph = graphFor(workflow, options.checkpointer);
  const configurable = {
    ...(options.configurable ?? {}),
    // On the factory's models, not on the run's callbacks (see USAGE_HANDLER_KEY).
    [USAGE_HANDLER_KEY]: tracker,
    ...(recorder ? { [RECORDER_KEY]: recorder } : {}),
    ...(options.model ? { model: options.model } : {}),
    ...(options.threadId ? { thread_id: options.threadId } : {}),
    ...extraConfigurable,
  };
  const config = {
    configurable,
    signal: runSignal(options.signal),
    recursionLimit: options.recursionLimit,
    ...(options.callbacks ? { callbacks: options.callbacks } : {}),
    runName: workflow.name,
    ...(options.durability ? { durability: options.durability } : {}),
    // "tasks" only for node events: LangGraph builds two payloads per task for it (16% of a 100-node chain's time, bench section 6).
    streamMode: nodeEvents ? ["values", "tasks"] : ["values"],
  };
  const started = new Map<string, number>();
  let values: Record<string, unknown> | undefined;
  /*
   * A superstep's node events wait for its end (the next values chunk): when a
   * node throws, LangGraph's tasks stream still reports it as a task with an
   * empty result and no error, and the run's error comes after. Held until
   * then, a task with no result gets the run's error instead of passing as done.
   */
  let held: Array<{ event: Extract<WorkflowEvent, { type: "node" }>; empty: boolean }> = [];
  // LangGraph 1.7's tasks chunk carries a failed task's error serialized: a plain { name, message }.
  const isBudgetStop = (error: unknown) => error instanceof BudgetExceededError || (error as { name?: unknown } | null)?.name === BudgetExceededError.name;
  const release = function* (runError?: unknown) {
    // A budget stop is the run's own error (issue: printed once), not a node's failure.
    const nodeError = runError !== undefined && !isBudgetStop(runError);
    const message = nodeError ? redactSecrets(runError instanceof Error ? runError.message : String(runError)) : undefined;
    for (const { event, empty } of held) yield message && empty && !event.error && !event.interrupted ? { ...event, error: message } : event;
    held = [];
  };
  const stream = await graph.stream(graphInput as any, config as any);
  try {
    for await (const [mode, chunk] of stream as AsyncIterable<[string, any]>) {
      if (mode === "values") {
        yield* release();
        // On an interrupt the values stream sends `{ __interrupt__ }` alone; the state is the chunk before it.
        if (!("__interrupt__" in chunk)) values = chunk;
      } else if (mode === "tasks") {
        if ("input" in chunk && !("result" in chunk)) {
          started.set(chunk.id, performance.now());
        } else {
          const begin = started.get(chunk.id);
          started.delete(chunk.id);
          // LangGraph 1.7 puts a failed task's error on its tasks chunk (1.4 does not); a budget stop is still the run's.
          const raw = chunk.error ? (isBudgetStop(chunk.error) ? undefined : String(chunk.error?.message ?? chunk.error)) : tracker.taskErrors.get(chunk.id);
          const error = raw === undefined ? undefined : redactSecrets(raw);
          held.push({
            empty: !chunk.result?.length,
            event: {
              type: "node",
              node: chunk.name,
              durationMs: begin === undefined ? 0 : performance.now() - begin,
              usage: tracker.byTask.get(chunk.id) ?? emptyUsage(),
              ...(error ? { error } : {}),
              ...(chunk.interrupts?.length && !error ? { interrupted: true } : {}),
            },
          });
        }
      }
    }
  } catch (error) {
    yield* release(error);
    throw error;
  }
  yield* release();
  const output = values ? pickOutput(values, graph.outputChannels) : {};
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
 * Runs `target` on `input` and yields one `node` event per finished node task
 * (with its duration in ms and its model tokens), then one `result` event with
 * the output state, the run's token usage and any pending interrupts.
 *
 * @param target - A workflow name, a definition, or a (compiled) StateGraph of your own.
 * @throws {UnknownWorkflowError} for a name not in the registry.
 * @throws {InvalidInputError} naming each bad field, before anything runs (no thread is written).
 * @throws {ConfigurationError} for a thread without a checkpointer or a bad model setting.
 */
export async function* streamWorkflow(target: WorkflowTarget, input: unknown, options: RunOptions = {}): AsyncGenerator<WorkflowEvent> {
  const workflow = resolveWorkflow(target, options.registry);
  const parsed = await validateWorkflowInput(workflow, input);
  yield* executeGraph(workflow, parsed, options);
}

/**
 * Like {@link streamWorkflow} but returns only the `result` event: the run
 * streams no task events, which saves LangGraph two payloads per task (what
 * `runWorkflow` runs, and what a caller that reads only the result, such as
 * batch mode, may run; docs/performance.md).
 * @internal
 */
export async function workflowResult(target: WorkflowTarget, input: unknown, options: RunOptions = {}): Promise<Extract<WorkflowEvent, { type: "result" }>> {
  const workflow = resolveWorkflow(target, options.registry);
  const parsed = await validateWorkflowInput(workflow, input);
  return lastResult(executeGraph(workflow, parsed, options, {}, false));
}

/** Drains events into the final result event. */
export async function lastResult(events: AsyncIterable<WorkflowEvent>): Promise<Extract<WorkflowEvent, { type: "result" }>> {
  let result: Extract<WorkflowEvent, { type: "result" }> | undefined;
  for await (const event of events) if (event.type === "result") result = event;
  if (!result) throw new Error("the run ended without a result");
  return result;
}

/**
 * Runs `target` on `input` and returns its output state (with
 * `__interrupt__` listing pending interrupts when the run paused at one).
 *
 * @param target - A workflow name (see `WorkflowRegistry.list()`), a definition, or a (compiled) StateGraph of your own.
 * @param input - Validated against the workflow's input schema; defaults apply.
 * @throws {UnknownWorkflowError} for an unknown name.
 * @throws {InvalidInputError} naming each bad field, before anything runs.
 * @throws {ConfigurationError} for a thread without a checkpointer or a bad model setting.
 */
export async function runWorkflow<T extends Record<string, unknown> = Record<string, any>>(
  target: WorkflowTarget,
  input: unknown,
  options: RunOptions = {},
): Promise<T> {
  const result = await workflowResult(target, input, options);
  return (result.interrupts.length ? { ...result.output, __interrupt__: result.interrupts } : result.output) as T;
}

