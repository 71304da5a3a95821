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

/** Collects usage per node, per task and for the whole run. */
export class UsageTracker extends BaseCallbackHandler {
  name = "llm_workflows_usage";
  /** Run inline, not in LangChain's background queue, so that counts are complete when the run ends. */
  override awaitHandlers = true;
  readonly total: TokenUsage = emptyUsage();
  readonly byNode = new Map<string, TokenUsage>();
  readonly byTask = new Map<string, TokenUsage>();
  private readonly runs = new Map<string, { node?: string; task?: string }>();

  override async handleChatModelStart(
    _llm: Serialized,
    _messages: BaseMessage[][],
    runId: string,
    _parentRunId?: string,
    _extraParams?: Record<string, unknown>,
    _tags?: string[],
    metadata?: Record<string, unknown>,
  ): Promise<void> {
    const ns = typeof metadata?.langgraph_checkpoint_ns === "string" ? metadata.langgraph_checkpoint_ns : undefined;
    const task = ns?.split("|").pop()?.split(":")[1];
    this.runs.set(runId, { node: metadata?.langgraph_node as string | undefined, task });
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
}
