/**
 * A simulated chat model for benchmarks: a deterministic `BaseChatModel` that
 * waits a simulated network latency per call and reports fixed token counts.
 *
 * - **Latency.** Each call waits a delay drawn from a seeded PRNG, uniform in
 *   `[meanMs - spreadMs, meanMs + spreadMs]` (clipped at 0, whole
 *   milliseconds). The draw is keyed by the seed, the prompt and how many
 *   calls with that prompt came before, not by the order calls happen in, so
 *   a graph run and a plain `Promise.all` baseline over the same prompts see
 *   the same latency for each call, however they are scheduled ({@link reset}
 *   between the two). `meanMs: 0` (and `spreadMs: 0`) is the zero-latency
 *   model: no timer at all.
 * - **Tokens.** `usage_metadata` is `inputTokens` in and `outputTokens` out on
 *   every call, whatever the prompt (no tokenizer runs).
 * - **Answers.** `content: "offline"` (the default) answers like
 *   {@link OfflineChatModel} (a composed instance does the work), so the
 *   workflows take their usual paths; `content: "fixed"` answers with a fixed
 *   text, or for structured output a fixed value derived from the JSON schema
 *   (first enum option, numbers at their maximum, `minItems` items or one), at
 *   almost no CPU cost, for measuring the overhead of what sits around calls.
 *
 * It supports `invoke`, `bindTools` and `withStructuredOutput(zod)` (a forced
 * tool call, validated against the zod schema) like the offline model.
 * `stream` falls back to one chunk.
 *
 * @example
 * ```ts
 * const model = new SimulatedChatModel({ seed: 1, meanMs: 100, spreadMs: 30 });
 * await runWorkflow("supportRouting", { query: "charged twice" }, { configurable: { modelOverride: model } });
 * model.stats; // { calls: 2, totalDelayMs: ..., ... }
 * ```
 * @module
 */
import type { BaseChatModelParams } from "@langchain/core/language_models/chat_models";
import { AIMessageChunk, type BaseMessage } from "@langchain/core/messages";
import type { ChatResult } from "@langchain/core/outputs";
import type { JsonSchema } from "./offline/fill.js";
import { OfflineChatModel } from "./offline/model.js";
import { ToolCallingChatModel, type OfflineCallOptions } from "./offline/toolCalling.js";

/** Options of {@link SimulatedChatModel}. */
export interface SimulatedModelOptions extends BaseChatModelParams {
  /** PRNG seed: the same seed and prompts give the same latencies. Default 1. */
  seed?: number;
  /** Mean latency per call in ms. Default 100; 0 with `spreadMs` 0 is the zero-latency model. */
  meanMs?: number;
  /** Half-width of the uniform latency distribution in ms. Default 30 (100 ms +/- 30 ms). */
  spreadMs?: number;
  /** Input tokens reported per call. Default 500. */
  inputTokens?: number;
  /** Output tokens reported per call. Default 50. */
  outputTokens?: number;
  /** How answers are made (see the module doc). Default `offline`. */
  content?: "offline" | "fixed";
  /** The free-text answer of `content: "fixed"`. */
  fixedText?: string;
  /** How a delay is waited (tests pass a fake). Default: `setTimeout`; an aborted call fails before or after its wait. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** Counters since construction or the last {@link SimulatedChatModel.reset}. */
export interface SimulatedModelStats {
  calls: number;
  /** Sum of the delays waited. */
  totalDelayMs: number;
  /** Longest single delay. */
  maxDelayMs: number;
  inputTokens: number;
  outputTokens: number;
  /** Every delay waited, in the order the calls were made. */
  delays: number[];
}

/** The free-text answer of `content: "fixed"`: six sentences, over 25 words (passes contentPipeline's gates). */
export const FIXED_TEXT =
  "The first point explains the topic in plain words. The second point gives a concrete example. " +
  "The third point lists the main limits. The fourth point says what to do next. " +
  "The fifth point names the sources used. The sixth point sums the answer up.";

const DEFAULTS = { seed: 1, meanMs: 100, spreadMs: 30, inputTokens: 500, outputTokens: 50 };

/** 32-bit FNV-1a hash of `text`, continuing from `h`. */
export function fnv1a(text: string, h = 0x811c9dc5): number {
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** mulberry32: a small seeded PRNG; returns the generator's first value in [0, 1). */
function mulberry32(seed: number): number {
  let t = (seed + 0x6d2b79f5) | 0;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/**
 * The delay in whole ms for the `occurrence`-th call (0-based) with prompt hash
 * `key`: uniform in `[mean - spread, mean + spread]`, clipped at 0.
 */
export function drawDelay(seed: number, key: number, occurrence: number, meanMs: number, spreadMs: number): number {
  if (meanMs <= 0 && spreadMs <= 0) return 0;
  const u = mulberry32(Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(key, 0x85ebca6b) ^ Math.imul(occurrence + 1, 0xc2b2ae35));
  return Math.max(0, Math.round(meanMs - spreadMs + 2 * spreadMs * u));
}

/** A fixed value valid for `schema` (see the module doc, `content: "fixed"`). */
export function fixedValue(schema: JsonSchema, name = "value", root: JsonSchema = schema): unknown {
  if (schema.$ref) {
    const ref = schema.$ref.replace(/^#\/(\$defs|definitions)\//, "");
    const target = root.$defs?.[ref] ?? root.definitions?.[ref];
    return target ? fixedValue(target, name, root) : null;
  }
  if (schema.const !== undefined) return schema.const;
  if (schema.enum?.length) return schema.enum[0];
  const options = schema.anyOf ?? schema.oneOf;
  if (options?.length) return fixedValue(options.find((o) => o.type !== "null") ?? options[0], name, root);
  if (schema.allOf?.length) return fixedValue(schema.allOf[0], name, root);
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type;
  switch (type) {
    case "object": {
      const out: Record<string, unknown> = {};
      for (const [key, sub] of Object.entries(schema.properties ?? {})) out[key] = fixedValue(sub, key, root);
      return out;
    }
    case "array": {
      const n = Math.max(schema.minItems ?? 0, 1);
      const count = schema.maxItems !== undefined ? Math.min(n, schema.maxItems) : n;
      return Array.from({ length: count }, (_, i) => fixedValue(schema.items ?? { type: "string" }, `${name} ${i + 1}`, root));
    }
    case "integer":
    case "number": {
      const max = schema.maximum ?? (schema.exclusiveMaximum !== undefined ? schema.exclusiveMaximum - (type === "integer" ? 1 : 1e-6) : undefined);
      const min = schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + (type === "integer" ? 1 : 1e-6) : undefined);
      return max ?? min ?? 1;
    }
    case "boolean":
      return true;
    case "null":
      return null;
    default: {
      const text = `Simulated ${name}.`;
      return schema.minLength && text.length < schema.minLength ? text.padEnd(schema.minLength, ".") : text;
    }
  }
}

function emptyStats(): SimulatedModelStats {
  return { calls: 0, totalDelayMs: 0, maxDelayMs: 0, inputTokens: 0, outputTokens: 0, delays: [] };
}

/**
 * `setTimeout` for `ms`. The call checks its signal before and after; the wait adds no
 * abort listener: every task of a LangGraph superstep shares one signal, Node's
 * `addEventListener` is linear in the listeners already there, and LangChain's
 * `invoke` already races each call against the signal, so a listener per call
 * would only add quadratic work to large fan-outs.
 */
function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The simulated chat model (see the module doc). */
export class SimulatedChatModel extends ToolCallingChatModel {
  static lc_name(): string {
    return "SimulatedChatModel";
  }

  /** Name reported in usage accounting and traces. */
  readonly model = "simulated";
  readonly seed: number;
  readonly meanMs: number;
  readonly spreadMs: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly content: "offline" | "fixed";
  readonly fixedText: string;
  /** Counters since construction or the last {@link reset}. */
  stats: SimulatedModelStats = emptyStats();
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly occurrences = new Map<number, number>();
  private offline?: OfflineChatModel;

  constructor(options: SimulatedModelOptions = {}) {
    const { seed, meanMs, spreadMs, inputTokens, outputTokens, content, fixedText, sleep, ...base } = options;
    super(base);
    this.seed = seed ?? DEFAULTS.seed;
    this.meanMs = meanMs ?? DEFAULTS.meanMs;
    this.spreadMs = spreadMs ?? (meanMs === 0 ? 0 : DEFAULTS.spreadMs);
    if (!(this.meanMs >= 0) || !(this.spreadMs >= 0)) throw new RangeError("meanMs and spreadMs must be at least 0");
    this.inputTokens = inputTokens ?? DEFAULTS.inputTokens;
    this.outputTokens = outputTokens ?? DEFAULTS.outputTokens;
    this.content = content ?? "offline";
    this.fixedText = fixedText ?? FIXED_TEXT;
    this.sleep = sleep ?? defaultSleep;
  }

  _llmType(): string {
    return "simulated";
  }

  /** Forgets the prompts seen and zeroes {@link stats}: the next run draws the same latencies as the first. */
  reset(): void {
    this.occurrences.clear();
    this.stats = emptyStats();
  }

  /** The prompt hash a call is keyed by: its messages and the tool it is forced to call. */
  promptKey(messages: BaseMessage[], toolName?: string): number {
    let h = fnv1a(toolName ?? "");
    for (const m of messages) h = fnv1a(m.text, fnv1a(m.type, h));
    return h;
  }

  /** The delay the next call with these messages (and tool) will wait, counting it as made. */
  nextDelay(messages: BaseMessage[], toolName?: string): number {
    const key = this.promptKey(messages, toolName);
    const occurrence = this.occurrences.get(key) ?? 0;
    this.occurrences.set(key, occurrence + 1);
    return drawDelay(this.seed, key, occurrence, this.meanMs, this.spreadMs);
  }

  /** The answer message (without usage), from the offline model or fixed. */
  private async answer(messages: BaseMessage[], options: this["ParsedCallOptions"]): Promise<AIMessageChunk> {
    const tool = options.tools?.[0];
    if (this.content === "offline") {
      this.offline ??= new OfflineChatModel();
      const result = await this.offline._generate(messages, options);
      const message = result.generations[0].message as AIMessageChunk;
      return new AIMessageChunk({ content: message.content, tool_calls: message.tool_calls ?? [] });
    }
    if (tool) {
      const args = fixedValue(tool.function.parameters) as Record<string, unknown>;
      const id = `call_sim_${this.stats.calls}`;
      return new AIMessageChunk({ content: "", tool_calls: [{ name: tool.function.name, args, id, type: "tool_call" }] });
    }
    return new AIMessageChunk({ content: this.fixedText });
  }

  async _generate(messages: BaseMessage[], options: this["ParsedCallOptions"]): Promise<ChatResult> {
    options.signal?.throwIfAborted();
    const delay = this.nextDelay(messages, options.tools?.[0]?.function.name);
    const stats = this.stats;
    stats.delays.push(delay);
    if (delay > 0) {
      await this.sleep(delay, options.signal);
      options.signal?.throwIfAborted();
    }
    stats.calls += 1;
    stats.totalDelayMs += delay;
    if (delay > stats.maxDelayMs) stats.maxDelayMs = delay;
    stats.inputTokens += this.inputTokens;
    stats.outputTokens += this.outputTokens;
    const message = await this.answer(messages, options);
    const usage_metadata = { input_tokens: this.inputTokens, output_tokens: this.outputTokens, total_tokens: this.inputTokens + this.outputTokens };
    const out = new AIMessageChunk({
      content: message.content,
      tool_calls: message.tool_calls ?? [],
      usage_metadata,
      response_metadata: { model_name: this.model },
    });
    return {
      generations: [{ text: out.text, message: out }],
      llmOutput: { tokenUsage: { promptTokens: this.inputTokens, completionTokens: this.outputTokens, totalTokens: usage_metadata.total_tokens } },
    };
  }
}
