/**
 * Token and cost accounting: a LangChain callback handler that records every
 * chat model call's usage metadata (input and output tokens, and USD from the
 * price table) against the LangGraph task and node that made it. It also
 * enforces a run's budget (throwing before the call that would exceed it) and
 * writes the opt-in JSONL call log.
 *
 * @module
 */
import { appendFileSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { countTokens } from "./text.js";
import { takeTaskRetries } from "../models/transport.js";
import { BudgetExceededError, costOf, type Budget } from "./cost.js";
import { redactSecrets } from "./redact.js";
import { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import type { Serialized } from "@langchain/core/load/serializable";
import type { BaseMessage } from "@langchain/core/messages";
import type { LLMResult } from "@langchain/core/outputs";

/** Token counts of one or more model calls. */
export interface TokenUsage {
  calls: number;
  inputTokens: number;
  outputTokens: number;
  /** Cost in USD from the price table (`cost.ts`); 0 for unpriced models. */
  usd: number;
}

/** A zeroed {@link TokenUsage}. */
export function emptyUsage(): TokenUsage {
  return { calls: 0, inputTokens: 0, outputTokens: 0, usd: 0 };
}

function add(into: TokenUsage, input: number, output: number, usd: number): void {
  into.calls += 1;
  into.inputTokens += input;
  into.outputTokens += output;
  into.usd += usd;
}

/** Adds `b` into `a` (for totals over runs). */
export function addUsage(a: TokenUsage, b: TokenUsage): TokenUsage {
  a.calls += b.calls;
  a.inputTokens += b.inputTokens;
  a.outputTokens += b.outputTokens;
  a.usd += b.usd;
  return a;
}

/** Options of a {@link UsageTracker}. */
export interface UsageTrackerOptions {
  /** Stop the run before a call that would exceed this. */
  budget?: Budget;
  /** Append one JSON line per model call to this file (node, model, prompt, response, tokens, latency, retries). */
  callLog?: string;
  /** Secrets to keep out of the call log besides API-key patterns (e.g. the configured key). */
  secrets?: string[];
}

interface RunInfo {
  node?: string;
  task?: string;
  model: string;
  started: number;
  messages?: Array<{ role: string; content: unknown }>;
}

/** The LangGraph task id in a run's metadata (`langgraph_checkpoint_ns` is `node:taskId`, nested with `|`). */
function taskOf(metadata?: Record<string, unknown>): string | undefined {
  const ns = typeof metadata?.langgraph_checkpoint_ns === "string" ? metadata.langgraph_checkpoint_ns : undefined;
  return ns?.split("|").pop()?.split(":")[1];
}

/**
 * Collects usage per node, per task and for the whole run, and the error of
 * each failed task. Use it either as a run's callback (every model call of the
 * run, chain errors included) or, as the facade does, on the models the
 * factory hands out (`configurable[USAGE_HANDLER_KEY]`, cheaper: see
 * `factory.ts`), where the graph builders' nodes report task errors through
 * {@link UsageTracker.noteTaskOutcome}.
 */
export class UsageTracker extends BaseCallbackHandler {
  name = "llm_workflows_usage";
  /** Run inline, not in LangChain's background queue, so that counts are complete when the run ends. */
  override awaitHandlers = true;
  readonly total: TokenUsage = emptyUsage();
  readonly byNode = new Map<string, TokenUsage>();
  readonly byTask = new Map<string, TokenUsage>();
  /** The first error raised inside each failed task (LangGraph's task stream does not carry it). */
  readonly taskErrors = new Map<string, string>();
  private readonly runs = new Map<string, RunInfo>();
  private readonly chainTasks = new Map<string, string>();
  /** Errors raised inside handlers propagate (the budget stops a call this way). */
  override raiseError = true;

  constructor(private readonly options: UsageTrackerOptions = {}) {
    super();
    if (options.callLog) mkdirSync(dirname(options.callLog), { recursive: true });
  }

  override async handleChatModelStart(
    _llm: Serialized,
    messages: BaseMessage[][],
    runId: string,
    _parentRunId?: string,
    extraParams?: Record<string, unknown>,
    _tags?: string[],
    metadata?: Record<string, unknown>,
  ): Promise<void> {
    const invocation = extraParams?.invocation_params as { model?: string; model_name?: string } | undefined;
    const model = String(metadata?.ls_model_name ?? invocation?.model ?? invocation?.model_name ?? "unknown");
    const flat = messages.flat();
    const info: RunInfo = { node: metadata?.langgraph_node as string | undefined, task: taskOf(metadata), model, started: Date.now() };
    if (this.options.callLog) info.messages = flat.map((m) => ({ role: m.getType(), content: m.content }));
    this.runs.set(runId, info);
    const budget = this.options.budget;
    if (budget && (budget.maxTokens !== undefined || budget.maxUsd !== undefined)) {
      const tokens = flat.reduce((n, m) => n + countTokens(typeof m.content === "string" ? m.content : JSON.stringify(m.content)), 0);
      const next = { tokens, usd: costOf(model, tokens, 0) };
      const spent = { tokens: this.total.inputTokens + this.total.outputTokens, usd: this.total.usd };
      if ((budget.maxTokens !== undefined && spent.tokens + next.tokens > budget.maxTokens) || (budget.maxUsd !== undefined && spent.usd + next.usd > budget.maxUsd)) {
        this.runs.delete(runId);
        throw new BudgetExceededError(budget, spent, next);
      }
    }
  }

  override async handleLLMEnd(output: LLMResult, runId: string): Promise<void> {
    const where = this.runs.get(runId) ?? { model: "unknown", started: Date.now() };
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
    const usd = costOf(where.model, input, out);
    add(this.total, input, out, usd);
    if (where.node) {
      if (!this.byNode.has(where.node)) this.byNode.set(where.node, emptyUsage());
      add(this.byNode.get(where.node)!, input, out, usd);
    }
    if (where.task) {
      if (!this.byTask.has(where.task)) this.byTask.set(where.task, emptyUsage());
      add(this.byTask.get(where.task)!, input, out, usd);
    }
    if (this.options.callLog) {
      const message = (output.generations.flat()[0] as { message?: { content?: unknown; tool_calls?: unknown[] } } | undefined)?.message;
      this.log({
        time: new Date().toISOString(),
        node: where.node ?? null,
        task: where.task ?? null,
        model: where.model,
        prompt: where.messages,
        response: message?.tool_calls?.length ? { tool_calls: message.tool_calls } : message?.content ?? output.generations.flat()[0]?.text,
        inputTokens: input,
        outputTokens: out,
        usd,
        latencyMs: Date.now() - where.started,
        retries: takeTaskRetries(where.task),
      });
    }
  }

  private log(entry: Record<string, unknown>): void {
    appendFileSync(this.options.callLog!, `${redactSecrets(JSON.stringify(entry), this.options.secrets)}\n`);
  }

  override async handleLLMError(error: unknown, runId: string): Promise<void> {
    const where = this.runs.get(runId);
    this.runs.delete(runId);
    if (this.options.callLog && where) {
      this.log({
        time: new Date().toISOString(),
        node: where.node ?? null,
        task: where.task ?? null,
        model: where.model,
        prompt: where.messages,
        error: error instanceof Error ? error.message : String(error),
        latencyMs: Date.now() - where.started,
        retries: takeTaskRetries(where.task),
      });
    }
  }

  /**
   * Notes how an attempt of a node ended in the task(s) of `checkpointNs`
   * (`node:taskId`, nested with `|`): with an error, that error becomes the
   * task's; without, the task has none (a retry succeeded).
   */
  noteTaskOutcome(checkpointNs: string, error?: unknown): void {
    for (const segment of checkpointNs.split("|")) {
      const task = segment.split(":")[1];
      if (!task) continue;
      if (error === undefined) this.taskErrors.delete(task);
      else this.taskErrors.set(task, error instanceof Error ? error.message : String(error));
    }
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
