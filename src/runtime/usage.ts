/**
 * Token and cost accounting: a LangChain callback handler that records every
 * chat model call (input and output tokens, and USD from the run's price
 * table) against the LangGraph task and node that made it, writes the opt-in
 * JSONL call log, and answers whether the next call fits the run's budget.
 *
 * **What a call is.** One model invocation (one LangChain LLM run), whether it
 * answered or failed: a call whose answer the client could not parse (and
 * that `invokeStructured` then asks again) counts, with the tokens the
 * provider reported for it, and so does a call whose requests all failed (no
 * tokens). The HTTP requests behind a call (the transport's retries) are in
 * the call log as `retries`. What the transport saw of a call comes in a
 * {@link RequestRecord}-like object attached to the result or the error
 * ({@link attachRequestRecord}); models without the transport (offline,
 * simulated) report their usage metadata as usual.
 *
 * @module
 */
import { appendFileSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { countTokens } from "./text.js";
import { BudgetExceededError, costOf, DEFAULT_PRICES, type Budget, type Price } from "./cost.js";
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

/** What the transport saw of one model call (`models/transport.ts` fills it). */
export interface CallRequests {
  /** HTTP requests made for the call. */
  requests: number;
  /** Requests stopped by the timeout. */
  timeouts?: number;
  /** Tokens the provider reported in its last answer (also when the answer then failed to parse). */
  usage?: { inputTokens: number; outputTokens: number };
  /** The model the provider says answered. */
  model?: string;
}

const REQUEST_RECORD = Symbol.for("llm-workflows.requestRecord");

/**
 * Attaches what the transport saw of a call to the call's `llmOutput` or
 * error (a hidden property: not copied into messages), for the tracker.
 * Returns `target`.
 */
export function attachRequestRecord<T>(target: T, record: CallRequests): T {
  if (target && typeof target === "object") Object.defineProperty(target, REQUEST_RECORD, { value: record, enumerable: false, configurable: true });
  return target;
}

function requestRecordOf(value: unknown): CallRequests | undefined {
  return value && typeof value === "object" ? ((value as Record<symbol, unknown>)[REQUEST_RECORD] as CallRequests | undefined) : undefined;
}

/** Options of a {@link UsageTracker}. */
export interface UsageTrackerOptions {
  /** Stop the run before a call that would exceed this (see {@link UsageTracker.checkBudget}). */
  budget?: Budget;
  /** The run's price table (USD per 1M tokens): `pricesFrom(configurable)` (`cost.ts`). Default {@link DEFAULT_PRICES}. */
  prices?: Record<string, Price>;
  /** Append one JSON line per model call to this file (node, model, prompt, response or error, tokens, USD, latency, retries, timeouts). */
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
  /** Tokens of the prompt (counted only when a budget is set). */
  promptTokens?: number;
}

/** One model call in progress, as {@link UsageTracker.beginCall} returns it (opaque). */
export type CallHandle = object;

/**
 * The top-level task a call belongs to: the first segment of its checkpoint
 * namespace (`route:TASK|inner_node:INNER_TASK` inside a subgraph), so that a
 * subgraph's calls count for the parent's task that the facade reports.
 */
function taskOf(metadata?: Record<string, unknown>): string | undefined {
  const ns = typeof metadata?.langgraph_checkpoint_ns === "string" ? metadata.langgraph_checkpoint_ns : undefined;
  return ns?.split("|")[0]?.split(":")[1];
}

/**
 * Collects usage per node, per task and for the whole run, and the error of
 * each failed task's model call. Two ways in:
 * - as a LangChain callback handler on a run (`callbacks: [tracker]`): every
 *   model call of the run, chain errors included;
 * - as the facade uses it, called directly by the models the factory hands
 *   out ({@link UsageTracker.beginCall}, `endCall`, `failCall`; see
 *   `USAGE_HANDLER_KEY` in `models/factory.ts`): no LangChain callback run per
 *   call, which costs about 0.1 ms a call (docs/performance.md, cause 7).
 *
 * Its callbacks never throw: the budget is enforced by the models calling
 * {@link UsageTracker.checkBudget} (or {@link UsageTracker.checkCallBudget})
 * before they send anything (an error thrown in a callback would also be
 * logged by LangChain).
 */
export class UsageTracker extends BaseCallbackHandler {
  name = "llm_workflows_usage";
  /** Run inline, not in LangChain's background queue, so that counts are complete when the run ends. */
  override awaitHandlers = true;
  readonly total: TokenUsage = emptyUsage();
  readonly byNode = new Map<string, TokenUsage>();
  readonly byTask = new Map<string, TokenUsage>();
  /** The error of each task whose last model call failed (LangGraph's task stream does not carry errors). */
  readonly taskErrors = new Map<string, string>();
  private readonly runs = new Map<string, RunInfo>();
  private readonly chainTasks = new Map<string, string>();
  private readonly prices: Record<string, Price>;

  constructor(private readonly options: UsageTrackerOptions = {}) {
    super();
    this.prices = options.prices ?? DEFAULT_PRICES;
    if (options.callLog) mkdirSync(dirname(options.callLog), { recursive: true });
  }

  override async handleChatModelStart(
    llm: Serialized,
    messages: BaseMessage[][],
    runId: string,
    _parentRunId?: string,
    extraParams?: Record<string, unknown>,
    _tags?: string[],
    metadata?: Record<string, unknown>,
  ): Promise<void> {
    const invocation = extraParams?.invocation_params as { model?: string; model_name?: string } | undefined;
    const model = String(metadata?.ls_model_name ?? invocation?.model ?? invocation?.model_name ?? (llm as { kwargs?: { model?: string } }).kwargs?.model ?? "unknown");
    this.runs.set(runId, this.beginCall(model, messages.flat(), metadata) as RunInfo);
  }

  /**
   * Starts one model call made outside LangChain's callbacks: `model` is the
   * name asked for, `metadata` the calling node's run metadata (LangGraph's
   * `langgraph_node` and `langgraph_checkpoint_ns`). Returns the handle to
   * give {@link UsageTracker.checkCallBudget}, then `endCall` or `failCall`.
   */
  beginCall(model: string, messages: readonly BaseMessage[], metadata?: Record<string, unknown>): CallHandle {
    const info: RunInfo = { node: metadata?.langgraph_node as string | undefined, task: taskOf(metadata), model, started: Date.now() };
    if (this.options.callLog) info.messages = messages.map((m) => ({ role: m.getType(), content: m.content }));
    const budget = this.options.budget;
    if (budget && (budget.maxTokens !== undefined || budget.maxUsd !== undefined)) info.promptTokens = messages.reduce((n, m) => n + countTokens(m.text), 0);
    return info;
  }

  /**
   * Throws {@link BudgetExceededError} when call `runId` (reported started)
   * would take the run over its budget: tokens spent so far plus the call's
   * prompt, or their USD. Called by the models before they send anything.
   */
  checkBudget(runId: string): void {
    const info = this.runs.get(runId);
    if (!info) return;
    try {
      this.checkCallBudget(info);
    } catch (error) {
      this.runs.delete(runId);
      throw error;
    }
  }

  /**
   * Throws {@link BudgetExceededError} when the call of `handle` would take
   * the run over its budget (see {@link UsageTracker.checkBudget}); such a
   * call sent nothing and is not counted.
   * @throws {BudgetExceededError} naming the budget, what was spent and what the call needs.
   */
  checkCallBudget(handle: CallHandle): void {
    const budget = this.options.budget;
    const info = handle as RunInfo;
    if (!budget || info.promptTokens === undefined) return;
    const next = { tokens: info.promptTokens, usd: costOf(info.model, info.promptTokens, 0, this.prices) };
    const spent = { tokens: this.total.inputTokens + this.total.outputTokens, usd: this.total.usd };
    if ((budget.maxTokens !== undefined && spent.tokens + next.tokens > budget.maxTokens) || (budget.maxUsd !== undefined && spent.usd + next.usd > budget.maxUsd)) {
      throw new BudgetExceededError(budget, spent, next);
    }
  }

  /** Adds one call of `where` with these tokens to the totals; returns its USD. */
  private count(where: RunInfo, model: string, input: number, output: number): number {
    const usd = costOf(model, input, output, this.prices);
    add(this.total, input, output, usd);
    if (where.node) {
      if (!this.byNode.has(where.node)) this.byNode.set(where.node, emptyUsage());
      add(this.byNode.get(where.node)!, input, output, usd);
    }
    if (where.task) {
      if (!this.byTask.has(where.task)) this.byTask.set(where.task, emptyUsage());
      add(this.byTask.get(where.task)!, input, output, usd);
    }
    return usd;
  }

  override async handleLLMEnd(output: LLMResult, runId: string): Promise<void> {
    const where = this.runs.get(runId) ?? { model: "unknown", started: Date.now() };
    this.runs.delete(runId);
    this.endCall(where, output);
  }

  /** Ends the call of `handle` with its answer: counted, and logged to the call log. */
  endCall(handle: CallHandle, output: LLMResult): void {
    const where = handle as RunInfo;
    const requests = requestRecordOf(output.llmOutput);
    const message = (output.generations.flat()[0] as { message?: { content?: unknown; tool_calls?: unknown[]; response_metadata?: Record<string, unknown> } } | undefined)?.message;
    // The model that answered: the provider's word, else the model's own (the offline model's "offline"), else the one asked.
    const model = String(requests?.model ?? message?.response_metadata?.model_name ?? message?.response_metadata?.model ?? where.model);
    let input = 0;
    let out = 0;
    for (const gen of output.generations.flat()) {
      const usage = (gen as { message?: { usage_metadata?: { input_tokens?: number; output_tokens?: number } } }).message?.usage_metadata;
      input += usage?.input_tokens ?? 0;
      out += usage?.output_tokens ?? 0;
    }
    if (!input && !out) {
      const legacy = output.llmOutput?.tokenUsage as { promptTokens?: number; completionTokens?: number } | undefined;
      input = legacy?.promptTokens ?? requests?.usage?.inputTokens ?? 0;
      out = legacy?.completionTokens ?? requests?.usage?.outputTokens ?? 0;
    }
    const usd = this.count(where, model, input, out);
    if (where.task) this.taskErrors.delete(where.task);
    if (this.options.callLog) {
      this.log({
        time: new Date().toISOString(),
        node: where.node ?? null,
        task: where.task ?? null,
        model,
        prompt: where.messages,
        response: message?.tool_calls?.length ? { tool_calls: message.tool_calls } : message?.content ?? output.generations.flat()[0]?.text,
        inputTokens: input,
        outputTokens: out,
        usd,
        latencyMs: Date.now() - where.started,
        retries: Math.max(0, (requests?.requests ?? 1) - 1),
        timeouts: requests?.timeouts ?? 0,
      });
    }
  }

  private log(entry: Record<string, unknown>): void {
    appendFileSync(this.options.callLog!, `${redactSecrets(JSON.stringify(entry), this.options.secrets)}\n`);
  }

  /**
   * A failed call: counted, with the tokens the provider reported for it
   * (an answer that failed to parse was paid for), logged, and its error kept
   * as its task's. A call the budget stopped sent nothing and is not a call.
   */
  override async handleLLMError(error: unknown, runId: string): Promise<void> {
    const where = this.runs.get(runId);
    this.runs.delete(runId);
    if (where) this.failCall(where, error);
  }

  /**
   * Ends the call of `handle` with its error: counted with the tokens the
   * provider reported for it, logged, and its error kept as its task's. A
   * call the budget stopped sent nothing and is not a call.
   */
  failCall(handle: CallHandle, error: unknown): void {
    const where = handle as RunInfo;
    if (error instanceof BudgetExceededError) return;
    const requests = requestRecordOf(error);
    const model = String(requests?.model ?? where.model);
    const input = requests?.usage?.inputTokens ?? 0;
    const out = requests?.usage?.outputTokens ?? 0;
    const usd = this.count(where, model, input, out);
    const message = error instanceof Error ? error.message : String(error);
    const e = error as { name?: string };
    if (where.task && e?.name !== "AbortError") this.taskErrors.set(where.task, message);
    if (this.options.callLog) {
      this.log({
        time: new Date().toISOString(),
        node: where.node ?? null,
        task: where.task ?? null,
        model,
        prompt: where.messages,
        error: message,
        inputTokens: input,
        outputTokens: out,
        usd,
        latencyMs: Date.now() - where.started,
        retries: Math.max(0, (requests?.requests ?? 1) - 1),
        timeouts: requests?.timeouts ?? 0,
      });
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
