/**
 * Record and replay model calls: a chat model that wraps the model the
 * factory would return and either calls it and writes each request and
 * answer to a JSON Lines file (record), or answers from that file without
 * calling anything (replay). A recorded real run becomes a regression test
 * that needs no network and no key.
 *
 * **One recorder per run.** A {@link ModelCallRecorder} holds the file, the
 * mode and the records read from it; it travels in the run config's
 * `configurable` under {@link RECORDER_KEY}, and `getChatModel` wraps the
 * models it hands out when it finds one there (`models/factory.ts`). Nothing
 * is kept at module level.
 *
 * **Modes.**
 * - `record`: every call goes to the model; the request and answer are
 *   appended to the file (created if missing; existing records are kept).
 * - `replay` (strict): every call is answered from the file; a request not in
 *   it is a {@link ReplayMissError} naming the node (`langgraph_node`) and
 *   the request's hash. The wrapped model is never built or called.
 * - `record-missing`: answered from the file when the request is there,
 *   otherwise the model is called and the record appended.
 *
 * **The key.** Each record is keyed by a hash of what determines the answer
 * ({@link requestHash}: SHA-256 of the canonical JSON of the record's
 * `request`, keys sorted):
 * - `model`: the model name the run asks for (`configurable.model` /
 *   `strongModel`, `LLM_WORKFLOWS_MODEL` / `LLM_WORKFLOWS_STRONG_MODEL`, or
 *   the default), whichever provider answers, so that a run recorded with a
 *   key replays without one;
 * - `temperature`;
 * - `messages`: each message's role, content, name, tool calls (name, args,
 *   id) and tool call id;
 * - `output`: for structured output, the schema's name and JSON Schema
 *   (whether the provider is asked through a forced tool call, a JSON schema
 *   response format or JSON mode is not in the key);
 * - `tools` and `toolChoice`: tools bound with `bindTools` (name,
 *   description, parameters);
 * - `stop`: stop sequences.
 *
 * Not in the key: the provider, base URL and API key, timeouts, retries, rate
 * limits and fallback models, the node and thread, message ids, callbacks and
 * metadata. The same request made several times (a loop, identical rows) is
 * answered with its records in file order; requests are matched by hash, not
 * by position, so fan-outs and parallel branches replay in any order.
 *
 * **The file.** One JSON object per line: `{ hash, node, request, response }`,
 * `response` being `{ content, toolCalls?, usage?, model?, finishReason? }`.
 * Lines are redacted with the call log's `redactSecrets` before they are
 * written; records are looked up by their stored `hash` (computed before
 * redaction), so a redacted line still replays.
 *
 * **What it changes when recording.** Calls go through the wrapped model's
 * `_generate` (a stream is one chunk); a fallback list (`fallbackModels`) is
 * one model to `invokeStructured`, so an answer that does not fit the schema
 * is repaired with the same list rather than handed to the next model.
 * Failed calls are not recorded.
 *
 * @module
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { createHash } from "node:crypto";
import { BaseChatModel, type BaseChatModelCallOptions, type BindToolsInput } from "@langchain/core/language_models/chat_models";
import type { BaseLanguageModelInput, StructuredOutputMethodOptions } from "@langchain/core/language_models/base";
import { AIMessageChunk, type BaseMessage } from "@langchain/core/messages";
import { ChatGenerationChunk, type ChatResult } from "@langchain/core/outputs";
import type { CallbackManagerForLLMRun } from "@langchain/core/callbacks/manager";
import type { Runnable, RunnableConfig } from "@langchain/core/runnables";
import { convertToOpenAITool } from "@langchain/core/utils/function_calling";
import { toJsonSchema } from "@langchain/core/utils/json_schema";
import { isInteropZodSchema } from "@langchain/core/utils/types";
import { ConfigurationError, DataFileError, LlmWorkflowsError } from "../runtime/errors.js";
import { redactSecrets } from "../runtime/redact.js";
import { resolveModelSettings, type ModelRole } from "./configuration.js";
import { FallbackChatModel } from "./fallback.js";

/** The `configurable` key under which a run carries its {@link ModelCallRecorder}. */
export const RECORDER_KEY = "__llmWorkflowsRecorder";

/** The factory's `configurable.modelOverride` (`MODEL_OVERRIDE_KEY` in `factory.ts`, which imports this module). */
const MODEL_OVERRIDE = "modelOverride";

/** How a recorder answers: see the module doc. `replay` is strict. */
export type RecorderMode = "record" | "replay" | "record-missing";

/** A replay's handling of a request that is not in the file: `strict` fails, `record-missing` calls the model and appends it. */
export type ReplayMode = "strict" | "record-missing";

/** What a record's hash is computed from (see the module doc). */
export interface RecordedRequest {
  model: string;
  temperature?: number;
  messages: Array<{ role: string; content: unknown; name?: string; toolCalls?: Array<{ name: string; args: unknown; id?: string }>; toolCallId?: string }>;
  /** Structured output: the schema's name and JSON Schema. */
  output?: { name: string; schema: unknown };
  /** Tools bound with `bindTools`. */
  tools?: unknown[];
  toolChoice?: unknown;
  stop?: string[];
}

/** A recorded answer. */
export interface RecordedResponse {
  /** The message's content (text, or content blocks). */
  content: unknown;
  toolCalls?: Array<{ name: string; args: Record<string, unknown>; id?: string }>;
  /** Tokens the provider reported. */
  usage?: { inputTokens: number; outputTokens: number };
  /** The model that answered, as the provider named it (prices the replayed call). */
  model?: string;
  finishReason?: string;
}

/** One line of a recording. */
export interface CallRecord {
  /** {@link requestHash} of `request` (before redaction). */
  hash: string;
  /** The graph node that made the call, when known (not part of the key). */
  node?: string | null;
  request: RecordedRequest;
  response: RecordedResponse;
}

/** Options of a {@link ModelCallRecorder}. */
export interface ModelCallRecorderOptions {
  /** The JSON Lines file. */
  file: string;
  /** Default `replay` (strict). */
  mode?: RecorderMode;
  /** Secrets to keep out of the file besides API-key patterns and `OPENAI_API_KEY` (e.g. the configured key). */
  secrets?: readonly (string | undefined)[];
}

/** What a recorder did so far. */
export interface RecorderStats {
  /** Calls answered from the file. */
  replayed: number;
  /** Calls made to the model and appended. */
  recorded: number;
  /** Records read from the file. */
  loaded: number;
}

/**
 * A strict replay met a model request that the recording does not have (or
 * has fewer times than it was asked). `node` is the graph node that asked,
 * `hash` the request's hash (search the file for it).
 */
export class ReplayMissError extends LlmWorkflowsError {
  readonly node?: string;
  readonly hash: string;
  readonly file: string;

  constructor(file: string, hash: string, node: string | undefined, recordedTimes: number) {
    const where = node ? `node "${node}"` : "a model call outside a graph node";
    const problem =
      recordedTimes === 0
        ? `its model request ${hash} is not in the recording ${file}: a prompt, schema, tool or model setting changed since it was recorded`
        : `its model request ${hash} was recorded ${recordedTimes} time${recordedTimes === 1 ? "" : "s"} in ${file} and is asked once more`;
    super("REPLAY_MISS", `${where}: ${problem} (strict replay; record again, or replay with mode record-missing to add what is missing)`);
    this.node = node;
    this.hash = hash;
    this.file = file;
  }
}

/** `value` as JSON with object keys sorted and undefined members left out: the same value always gives the same text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : sortKeys(v)));
  if (value && typeof value === "object" && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

/** The key of a request: hex SHA-256 of its {@link canonicalJson}, first 32 characters (128 bits). */
export function requestHash(request: RecordedRequest): string {
  return createHash("sha256").update(canonicalJson(request)).digest("hex").slice(0, 32);
}

/** The call option that marks a structured-output request: the schema's name and JSON Schema. */
const STRUCTURED = "llmWorkflowsStructuredOutput";
/** The call option that carries the calling node (from the config's `metadata.langgraph_node`). */
const NODE = "llmWorkflowsNode";

/** Call options of a {@link ReplayChatModel}: the wrapped model's, plus what the replay adds. */
export interface ReplayCallOptions extends BaseChatModelCallOptions {
  tools?: unknown[];
  response_format?: { type: string };
  [STRUCTURED]?: { name: string; schema: unknown };
  [NODE]?: string;
}

interface OpenAITool {
  type?: string;
  function?: { name: string; description?: string; parameters?: unknown };
}

function normalizeTools(tools: unknown[] | undefined): unknown[] | undefined {
  if (!tools?.length) return undefined;
  return tools.map((t) => {
    const f = (t as OpenAITool).function;
    return f && typeof f.name === "string" ? { name: f.name, description: f.description, parameters: f.parameters } : t;
  });
}

function normalizeToolChoice(choice: unknown): unknown {
  if (choice && typeof choice === "object") {
    const name = (choice as { function?: { name?: string }; name?: string }).function?.name ?? (choice as { name?: string }).name;
    if (typeof name === "string") return name;
  }
  return choice;
}

function normalizeMessage(m: BaseMessage): RecordedRequest["messages"][number] {
  const out: RecordedRequest["messages"][number] = { role: m.getType(), content: m.content };
  if (m.name) out.name = m.name;
  const toolCalls = (m as { tool_calls?: Array<{ name: string; args: unknown; id?: string }> }).tool_calls;
  if (toolCalls?.length) out.toolCalls = toolCalls.map((c) => ({ name: c.name, args: c.args, id: c.id }));
  const toolCallId = (m as { tool_call_id?: string }).tool_call_id;
  if (toolCallId) out.toolCallId = toolCallId;
  return out;
}

/** The request (what is hashed) of a call with `messages` and call `options` to a model named `model`. */
export function describeRequest(model: string, temperature: number | undefined, messages: BaseMessage[], options: Partial<ReplayCallOptions>): RecordedRequest {
  const structured = options[STRUCTURED];
  const request: RecordedRequest = { model, messages: messages.map(normalizeMessage) };
  if (temperature !== undefined) request.temperature = temperature;
  if (structured) request.output = { name: structured.name, schema: structured.schema };
  else {
    const tools = normalizeTools(options.tools);
    if (tools) request.tools = tools;
    if (options.tool_choice !== undefined) request.toolChoice = normalizeToolChoice(options.tool_choice);
  }
  if (options.stop?.length) request.stop = options.stop;
  return request;
}

/** The record's view of a model's answer. */
function responseOf(result: ChatResult): RecordedResponse {
  const generation = result.generations[0];
  const message = generation?.message as (BaseMessage & { tool_calls?: Array<{ name: string; args: Record<string, unknown>; id?: string }>; usage_metadata?: { input_tokens: number; output_tokens: number } }) | undefined;
  const response: RecordedResponse = { content: message?.content ?? generation?.text ?? "" };
  if (message?.tool_calls?.length) response.toolCalls = message.tool_calls.map((c) => ({ name: c.name, args: c.args, ...(c.id ? { id: c.id } : {}) }));
  const legacy = result.llmOutput?.tokenUsage as { promptTokens?: number; completionTokens?: number } | undefined;
  const usage = message?.usage_metadata;
  if (usage) response.usage = { inputTokens: usage.input_tokens ?? 0, outputTokens: usage.output_tokens ?? 0 };
  else if (legacy) response.usage = { inputTokens: legacy.promptTokens ?? 0, outputTokens: legacy.completionTokens ?? 0 };
  const metadata = (message?.response_metadata ?? {}) as Record<string, unknown>;
  const model = metadata.model_name ?? metadata.model;
  if (typeof model === "string") response.model = model;
  const finish = metadata.finish_reason;
  if (typeof finish === "string") response.finishReason = finish;
  return response;
}

/**
 * The recorded answer in the form the current request's parser reads: for
 * structured output, a tool call when the request forces a tool, JSON text
 * when it asks for a response format (a recording made through one form
 * replays through the other).
 */
function shapeAnswer(response: RecordedResponse, options: Partial<ReplayCallOptions>, hash: string): { content: unknown; toolCalls?: RecordedResponse["toolCalls"] } {
  if (!options[STRUCTURED]) return { content: response.content, toolCalls: response.toolCalls };
  let value: unknown = response.toolCalls?.[0]?.args;
  let text = typeof response.content === "string" ? response.content : undefined;
  if (value === undefined && text !== undefined) {
    try {
      value = JSON.parse(text);
    } catch {
      value = undefined; // not JSON: replayed as it was, for the parser to refuse as it did
    }
  }
  if (options.response_format) {
    if (value !== undefined && (text === undefined || response.toolCalls?.length)) text = JSON.stringify(value);
    return { content: text ?? response.content };
  }
  const forced = normalizeToolChoice(options.tool_choice);
  const tool = typeof forced === "string" && forced !== "auto" && forced !== "required" && forced !== "none" ? forced : (options.tools?.[0] as OpenAITool | undefined)?.function?.name;
  if (!tool || value === undefined || value === null || typeof value !== "object") return { content: response.content, toolCalls: response.toolCalls };
  const id = response.toolCalls?.[0]?.id ?? `call_${hash.slice(0, 24)}`;
  return { content: "", toolCalls: [{ name: tool, args: value as Record<string, unknown>, id }] };
}

/** A {@link ChatResult} from a recorded answer. */
function replayedResult(response: RecordedResponse, options: Partial<ReplayCallOptions>, hash: string): ChatResult {
  const { content, toolCalls } = shapeAnswer(response, options, hash);
  const usage = response.usage;
  const message = new AIMessageChunk({
    content: content as AIMessageChunk["content"],
    ...(toolCalls?.length ? { tool_calls: toolCalls.map((c) => ({ name: c.name, args: c.args, id: c.id, type: "tool_call" as const })) } : {}),
    ...(usage ? { usage_metadata: { input_tokens: usage.inputTokens, output_tokens: usage.outputTokens, total_tokens: usage.inputTokens + usage.outputTokens } } : {}),
    response_metadata: { ...(response.model ? { model_name: response.model } : {}), ...(response.finishReason ? { finish_reason: response.finishReason } : {}), replayed: true },
  });
  return {
    generations: [{ text: message.text, message }],
    ...(usage ? { llmOutput: { tokenUsage: { promptTokens: usage.inputTokens, completionTokens: usage.outputTokens, totalTokens: usage.inputTokens + usage.outputTokens } } } : {}),
  };
}

/**
 * `target` with `withConfig` answered by `withConfig`: the wrapped model's own
 * `bindTools` / `withStructuredOutput` shape the request (tools, response
 * format, tool choice) and the result calls the replay model. LangChain's
 * chat models (ChatOpenAI, the base implementation) build both through
 * `this.withConfig`; a model that does not goes around the recording.
 */
function shapingHost<T extends object>(target: T, withConfig: (config: Record<string, unknown>) => Runnable): T {
  return new Proxy(target, { get: (t, key, receiver) => (key === "withConfig" ? withConfig : Reflect.get(t, key, receiver)) });
}

/** How a {@link ReplayChatModel} names and reaches what it wraps. */
export interface ReplayModelIdentity {
  /** The model name in the key (see the module doc). */
  model: string;
  /** The temperature in the key. */
  temperature?: number;
}

/**
 * The replaying (or recording) chat model: see the module doc. Built by
 * {@link ModelCallRecorder.wrap} or {@link modelWithRecorder}; `build` gives
 * the wrapped model, called only when a call has to reach it (never in a
 * strict replay).
 */
export class ReplayChatModel extends BaseChatModel<ReplayCallOptions, AIMessageChunk> {
  static lc_name(): string {
    return "ReplayChatModel";
  }

  /** The model name in the key. */
  readonly model: string;
  /** The temperature in the key. */
  readonly temperature?: number;
  private built?: BaseChatModel;

  constructor(
    private readonly recorder: ModelCallRecorder,
    identity: ReplayModelIdentity,
    private readonly build: () => BaseChatModel,
  ) {
    super({});
    this.model = identity.model;
    this.temperature = identity.temperature;
  }

  _llmType(): string {
    return "replay";
  }

  /** The wrapped model (built on first use). */
  wrapped(): BaseChatModel {
    return (this.built ??= this.build());
  }

  /** The model whose `bindTools` / `withStructuredOutput` shape requests: the wrapped one (a fallback list's primary); none in a strict replay. */
  private shaper(): BaseChatModel | undefined {
    if (this.recorder.mode === "replay") return undefined;
    const model = this.wrapped();
    return model instanceof FallbackChatModel ? model.models[0] : model;
  }

  override getLsParams(options: this["ParsedCallOptions"]) {
    return { ...super.getLsParams(options), ls_provider: "replay", ls_model_name: this.model, ls_temperature: this.temperature };
  }

  /** Carries the calling node (the config's `metadata.langgraph_node`) to `_generate`, for the error of a strict replay. */
  override async invoke(input: BaseLanguageModelInput, options?: Partial<ReplayCallOptions>): Promise<AIMessageChunk> {
    const node = (options as RunnableConfig | undefined)?.metadata?.langgraph_node;
    return super.invoke(input, typeof node === "string" ? ({ ...options, [NODE]: node } as Partial<ReplayCallOptions>) : options);
  }

  override bindTools(tools: BindToolsInput[], kwargs?: Partial<ReplayCallOptions>): Runnable<BaseLanguageModelInput, AIMessageChunk, ReplayCallOptions> {
    const shaper = this.shaper();
    if (!shaper?.bindTools) return this.withConfig({ ...kwargs, tools: tools.map((t) => convertToOpenAITool(t)) } as Partial<ReplayCallOptions>);
    const host = shapingHost(shaper, (config) => this.withConfig(config as Partial<ReplayCallOptions>));
    return shaper.bindTools.call(host, tools, kwargs as never) as unknown as Runnable<BaseLanguageModelInput, AIMessageChunk, ReplayCallOptions>;
  }

  /**
   * The wrapped model's structured output (the base implementation, a forced
   * tool call, in a strict replay), with the schema marked so that the key
   * holds the schema rather than the form it is sent in.
   */
  override withStructuredOutput(schema: any, config?: StructuredOutputMethodOptions<boolean>): any {
    const name = config?.name ?? "extract";
    const jsonSchema = isInteropZodSchema(schema) ? toJsonSchema(schema) : schema;
    const marker = { name, schema: jsonSchema };
    const withConfig = (options: Record<string, unknown>) => this.withConfig({ ...options, [STRUCTURED]: marker } as Partial<ReplayCallOptions>);
    const shaper = this.shaper();
    if (shaper) return shaper.withStructuredOutput.call(shapingHost(shaper, withConfig), schema, config as never);
    return BaseChatModel.prototype.withStructuredOutput.call(shapingHost(this, withConfig), schema, { ...config, method: "functionCalling" } as never);
  }

  async _generate(messages: BaseMessage[], options: this["ParsedCallOptions"], runManager?: CallbackManagerForLLMRun): Promise<ChatResult> {
    const { [NODE]: nodeOption, [STRUCTURED]: _marker, ...callOptions } = options;
    const request = describeRequest(this.model, this.temperature, messages, options);
    const hash = requestHash(request);
    // A stream reaches here without `invoke`: the node from the run manager's metadata then.
    const metaNode = (runManager as unknown as { metadata?: Record<string, unknown> } | undefined)?.metadata?.langgraph_node;
    const node = nodeOption ?? (typeof metaNode === "string" ? metaNode : undefined);
    if (this.recorder.mode !== "record") {
      const hit = this.recorder.take(hash);
      if (hit) return replayedResult(hit.response, options, hash);
      if (this.recorder.mode === "replay") throw this.recorder.missError(hash, node);
    }
    const model = this.wrapped();
    const result = await model._generate(messages, callOptions as never, runManager);
    this.recorder.append({ hash, node: node ?? null, request, response: responseOf(result) });
    return result;
  }

  /** A stream is the whole answer in one chunk (see the module doc). */
  override async *_streamResponseChunks(messages: BaseMessage[], options: this["ParsedCallOptions"], runManager?: CallbackManagerForLLMRun): AsyncGenerator<ChatGenerationChunk> {
    const result = await this._generate(messages, options, runManager);
    const generation = result.generations[0];
    const message = generation.message instanceof AIMessageChunk ? generation.message : new AIMessageChunk({ ...(generation.message as object) } as ConstructorParameters<typeof AIMessageChunk>[0]);
    const chunk = new ChatGenerationChunk({ text: generation.text, message });
    yield chunk;
    if (generation.text) await runManager?.handleLLMNewToken(generation.text, undefined, undefined, undefined, undefined, { chunk });
  }
}

/**
 * The recorder of a run (or of several, such as the rows of an eval): the
 * file, the mode, and the records read from it (see the module doc).
 *
 * @example
 * ```ts
 * const recorder = new ModelCallRecorder({ file: "test/fixtures/routing.jsonl", mode: "replay" });
 * await runWorkflow("supportRouting", { query: "I was charged twice" }, { configurable: recorder.configurable });
 * ```
 */
export class ModelCallRecorder {
  readonly file: string;
  readonly mode: RecorderMode;
  private readonly secrets: Set<string>;
  private readonly queues = new Map<string, CallRecord[]>();
  /** How many times each hash was recorded (the error of a strict replay says it). */
  private readonly counts = new Map<string, number>();
  private readonly models = new Map<string, ReplayChatModel>();
  private readonly byModel = new WeakMap<BaseChatModel, Map<string, ReplayChatModel>>();
  private readonly stat: RecorderStats = { replayed: 0, recorded: 0, loaded: 0 };
  private readonly answered = new Map<string, number>();

  /**
   * @throws {ConfigurationError} for an unknown mode.
   * @throws {DataFileError} when a strict replay's file is missing, or a line of the file is not a record.
   */
  constructor(options: ModelCallRecorderOptions) {
    const mode = options.mode ?? "replay";
    if (mode !== "record" && mode !== "replay" && mode !== "record-missing") throw new ConfigurationError("mode", '"record", "replay" or "record-missing"', mode);
    this.file = options.file;
    this.mode = mode;
    this.secrets = new Set([...(options.secrets ?? []), process.env.OPENAI_API_KEY].filter((s): s is string => !!s));
    if (mode !== "replay") mkdirSync(dirname(options.file), { recursive: true });
    if (mode !== "record") this.load();
  }

  /** `{ [RECORDER_KEY]: this }`: spread into a run's `configurable`. */
  get configurable(): Record<string, unknown> {
    return { [RECORDER_KEY]: this };
  }

  /** Calls replayed and recorded so far, records loaded. */
  get stats(): Readonly<RecorderStats> {
    return { ...this.stat };
  }

  /** Records of the file not replayed (yet), with their node: a run that now makes fewer calls leaves some. */
  unused(): Array<Pick<CallRecord, "hash" | "node">> {
    return [...this.queues.values()].flat().map((r) => ({ hash: r.hash, node: r.node }));
  }

  private load(): void {
    if (!existsSync(this.file)) {
      if (this.mode === "replay") throw new DataFileError(this.file, "no such recording (record one first with mode record)");
      return;
    }
    const lines = readFileSync(this.file, "utf8").split("\n");
    lines.forEach((line, i) => {
      if (!line.trim()) return;
      let record: CallRecord;
      try {
        record = JSON.parse(line) as CallRecord;
      } catch (error) {
        throw new DataFileError(`${this.file}:${i + 1}`, `not JSON (${(error as Error).message})`);
      }
      if (!record || typeof record.hash !== "string" || !record.response || typeof record.response !== "object") {
        throw new DataFileError(`${this.file}:${i + 1}`, "expected a record { hash, node, request, response }");
      }
      this.enqueue(record);
      this.stat.loaded++;
    });
  }

  private enqueue(record: CallRecord): void {
    let queue = this.queues.get(record.hash);
    if (!queue) this.queues.set(record.hash, (queue = []));
    queue.push(record);
    this.counts.set(record.hash, (this.counts.get(record.hash) ?? 0) + 1);
  }

  /** The next unreplayed record of `hash`, taken from the file's (in its order), if any. */
  take(hash: string): CallRecord | undefined {
    const record = this.queues.get(hash)?.shift();
    if (record) {
      this.stat.replayed++;
      this.countAnswer(record.response);
    }
    return record;
  }

  /** The error of a strict replay that has no (more) record of `hash`. */
  missError(hash: string, node: string | undefined): ReplayMissError {
    return new ReplayMissError(this.file, hash, node, this.counts.get(hash) ?? 0);
  }

  /** Appends `record` to the file, secrets redacted. */
  append(record: CallRecord): void {
    appendFileSync(this.file, `${redactSecrets(JSON.stringify(record), [...this.secrets])}\n`);
    this.stat.recorded++;
    this.countAnswer(record.response);
  }

  private countAnswer(response: RecordedResponse): void {
    const model = response.model ?? "unknown";
    this.answered.set(model, (this.answered.get(model) ?? 0) + 1);
  }

  /** The models that answered the calls replayed and recorded so far (as the provider named them), with their calls. */
  answeredBy(): Record<string, number> {
    return Object.fromEntries(this.answered);
  }

  /** Keeps `secret` (a key configured for a run) out of the file too. */
  addSecret(secret: unknown): void {
    if (typeof secret === "string" && secret.length >= 4) this.secrets.add(secret);
  }

  /**
   * `model` wrapped for this recorder; one wrapper per model (and name).
   * @param identity - The name and temperature in the key (default: the model's own `model` and `temperature`).
   */
  wrap(model: BaseChatModel, identity?: Partial<ReplayModelIdentity>): ReplayChatModel {
    const own = model as unknown as { model?: unknown; temperature?: unknown };
    const full: ReplayModelIdentity = {
      model: identity?.model ?? (typeof own.model === "string" ? own.model : model._llmType()),
      temperature: identity?.temperature ?? (typeof own.temperature === "number" ? own.temperature : undefined),
    };
    return this.wrapped(`model|${full.model}|${full.temperature}`, full, () => model, model);
  }

  private wrapped(key: string, identity: ReplayModelIdentity, build: () => BaseChatModel, model?: BaseChatModel): ReplayChatModel {
    const cache = model ? (this.byModel.get(model) ?? this.byModel.set(model, new Map()).get(model)!) : this.models;
    let wrapper = cache.get(key);
    if (!wrapper) cache.set(key, (wrapper = new ReplayChatModel(this, identity, build)));
    return wrapper;
  }

  /**
   * The model the factory hands out for `role` in a run with this recorder:
   * keyed by the model name and temperature the run asks for (see the module
   * doc), wrapping `build()` (built only when a call reaches it).
   * @throws {ConfigurationError} for a bad model setting.
   */
  modelFor(role: ModelRole, config: RunnableConfig | undefined, build: () => BaseChatModel): ReplayChatModel {
    const configurable = (config?.configurable ?? {}) as Record<string, unknown>;
    this.addSecret(configurable.apiKey);
    const override = configurable[MODEL_OVERRIDE];
    if (override instanceof BaseChatModel) return this.wrap(override);
    // The name asked for, whichever provider answers: resolved as if a provider were configured.
    const settings = resolveModelSettings(role, { ...config, configurable: { ...configurable, provider: "openai", apiKey: configurable.apiKey ?? "replay" } });
    const identity = { model: settings.model, temperature: settings.temperature };
    return this.wrapped(`${role}|${identity.model}|${identity.temperature}`, identity, build);
  }
}

/** The run's recorder, if its `configurable` has one under {@link RECORDER_KEY}. */
export function recorderFrom(config?: RunnableConfig): ModelCallRecorder | undefined {
  const value = (config?.configurable as Record<string, unknown> | undefined)?.[RECORDER_KEY];
  return value instanceof ModelCallRecorder ? value : undefined;
}

/**
 * For the factory: `build()` as it is when the run has no recorder, else the
 * recorder's model for `role` (see {@link ModelCallRecorder.modelFor}).
 */
export function modelWithRecorder(role: ModelRole, config: RunnableConfig | undefined, build: () => BaseChatModel): BaseChatModel {
  const recorder = recorderFrom(config);
  return recorder ? recorder.modelFor(role, config, build) : build();
}

/** The record/replay options of a run (the facade's `RunOptions`, the CLI's flags). */
export interface RecordReplayOptions {
  /** Append every model call to this file. */
  record?: string;
  /** Answer model calls from this file (a file path, or a recorder shared by several runs). */
  replay?: string | ModelCallRecorder;
  /** What a replay does with a request not in the file (default `strict`). */
  replayMode?: ReplayMode;
  /** Secrets to keep out of a recording besides `OPENAI_API_KEY`. */
  secrets?: readonly (string | undefined)[];
}

/**
 * The recorder for a run's options: none, a new one for `record` or
 * `replay` (a file), or the one given.
 * @throws {ConfigurationError} when both `record` and `replay` are given, or `replayMode` is unknown.
 * @throws {DataFileError} when a strict replay's file is missing or not a recording.
 */
export function recorderForOptions(options: RecordReplayOptions): ModelCallRecorder | undefined {
  if (options.record && options.replay) throw new ConfigurationError("record", "either record or replay, not both (replay with mode record-missing adds to a recording)", options.record);
  if (options.replayMode !== undefined && options.replayMode !== "strict" && options.replayMode !== "record-missing") {
    throw new ConfigurationError("replayMode", '"strict" or "record-missing"', options.replayMode);
  }
  if (options.record) return new ModelCallRecorder({ file: options.record, mode: "record", secrets: options.secrets });
  if (options.replay instanceof ModelCallRecorder) return options.replay;
  if (options.replay) return new ModelCallRecorder({ file: options.replay, mode: options.replayMode === "record-missing" ? "record-missing" : "replay", secrets: options.secrets });
  return undefined;
}
