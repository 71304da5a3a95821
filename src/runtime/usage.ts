/**
 * Token accounting: a LangChain callback handler that records every chat
 * model call's usage metadata (input and output tokens) against the LangGraph
 * task and node that made it.
 *
 * @module
 */
import { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import type { Serialized } from "@langchain/core/load/serializable";
import type { BaseMessage } from "@langchain/core/messages";
import type { LLMResult } from "@langchain/core/outputs";

/** Token counts of one or more model calls. */
export interface TokenUsage {
  calls: number;
  inputTokens: number;
  outputTokens: number;
}

/** A zeroed {@link TokenUsage}. */
export function emptyUsage(): TokenUsage {
  return { calls: 0, inputTokens: 0, outputTokens: 0 };
}

function add(into: TokenUsage, input: number, output: number): void {
  into.calls += 1;
  into.inputTokens += input;
  into.outputTokens += output;
}

/** The LangGraph task id in a run's metadata (`langgraph_checkpoint_ns` is `node:taskId`, nested with `|`). */
function taskOf(metadata?: Record<string, unknown>): string | undefined {
  const ns = typeof metadata?.langgraph_checkpoint_ns === "string" ? metadata.langgraph_checkpoint_ns : undefined;
  return ns?.split("|").pop()?.split(":")[1];
}

/** Collects usage per node, per task and for the whole run, and the error of each failed task. */
export class UsageTracker extends BaseCallbackHandler {
  name = "llm_workflows_usage";
  /** Run inline, not in LangChain's background queue, so that counts are complete when the run ends. */
  override awaitHandlers = true;
  readonly total: TokenUsage = emptyUsage();
  readonly byNode = new Map<string, TokenUsage>();
  readonly byTask = new Map<string, TokenUsage>();
  /** The first error raised inside each failed task (LangGraph's task stream does not carry it). */
  readonly taskErrors = new Map<string, string>();
  private readonly runs = new Map<string, { node?: string; task?: string }>();
  private readonly chainTasks = new Map<string, string>();

  override async handleChatModelStart(
    _llm: Serialized,
    _messages: BaseMessage[][],
    runId: string,
    _parentRunId?: string,
    _extraParams?: Record<string, unknown>,
    _tags?: string[],
    metadata?: Record<string, unknown>,
  ): Promise<void> {
    this.runs.set(runId, { node: metadata?.langgraph_node as string | undefined, task: taskOf(metadata) });
  }

  override async handleLLMEnd(output: LLMResult, runId: string): Promise<void> {
    const where = this.runs.get(runId) ?? {};
    this.runs.delete(runId);
    let input = 0;
    let out = 0;
    for (const gen of output.generations.flat()) {
      const usage = (gen as { message?: { usage_metadata?: { input_tokens?: number; output_tokens?: number } } }).message?.usage_metadata;
      input += usage?.input_tokens ?? 0;
      out += usage?.output_tokens ?? 0;
    }
    if (!input && !out) {
      const legacy = output.llmOutput?.tokenUsage as { promptTokens?: number; completionTokens?: number } | undefined;
      input = legacy?.promptTokens ?? 0;
      out = legacy?.completionTokens ?? 0;
    }
    add(this.total, input, out);
    if (where.node) {
      if (!this.byNode.has(where.node)) this.byNode.set(where.node, emptyUsage());
      add(this.byNode.get(where.node)!, input, out);
    }
    if (where.task) {
      if (!this.byTask.has(where.task)) this.byTask.set(where.task, emptyUsage());
      add(this.byTask.get(where.task)!, input, out);
    }
  }

  override async handleLLMError(_error: unknown, runId: string): Promise<void> {
    this.runs.delete(runId);
  }

  override async handleChainStart(
    _chain: Serialized,
    _inputs: unknown,
    runId: string,
    _runType?: string,
    _tags?: string[],
    metadata?: Record<string, unknown>,
  ): Promise<void> {
    const task = taskOf(metadata);
    if (task) this.chainTasks.set(runId, task);
  }

  override async handleChainEnd(_outputs: unknown, runId: string): Promise<void> {
    this.chainTasks.delete(runId);
  }

  override async handleChainError(error: unknown, runId: string): Promise<void> {
    const task = this.chainTasks.get(runId);
    this.chainTasks.delete(runId);
    if (!task || this.taskErrors.has(task)) return;
    const e = error as { name?: string; message?: string };
    if (e?.name === "GraphInterrupt" || e?.name === "ParentCommand") return;
    this.taskErrors.set(task, e?.message ?? String(error));
  }
}
