/**
 * The one model factory: every LLM call in this project goes through
 * {@link getChatModel}. With `OPENAI_API_KEY` and/or `OPENAI_BASE_URL` set it
 * returns `ChatOpenAI` (OpenAI or any OpenAI-compatible server: Ollama, vLLM,
 * LM Studio, llama.cpp); without them, the embedded {@link OfflineChatModel}.
 *
 * @example
 * ```ts
 * // inside a node: (state, config) => ...
 * const model = getChatModel("strong", config);
 * const answer = await model.invoke("Hello");
 * ```
 * @module
 */
import type { CallbackManagerForLLMRun } from "@langchain/core/callbacks/manager";
import { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { BaseMessage } from "@langchain/core/messages";
import type { ChatGenerationChunk, ChatResult } from "@langchain/core/outputs";
import type { RunnableConfig } from "@langchain/core/runnables";
import { AsyncLocalStorageProviderSingleton } from "@langchain/core/singletons";
import { ChatOpenAI, type ChatOpenAICallOptions } from "@langchain/openai";
import { ConfigurationError, ProviderRequestError } from "../runtime/errors.js";
import { loggerFrom, warnOnce } from "../runtime/logger.js";
import { attachRequestRecord, UsageTracker } from "../runtime/usage.js";
import { resolveModelSettings, type ModelRole, type ModelSettings } from "./configuration.js";
import { OfflineChatModel } from "./offline/model.js";
import { FallbackChatModel, modelName } from "./fallback.js";
import { modelWithRecorder } from "./replay.js";
import { DEFAULT_BASE_DELAY_MS, DEFAULT_MAX_DELAY_MS, newRequestRecord, resilientFetch, withRequestRecord, type RequestRecord } from "./transport.js";
import { limiterFor, type ModelRateLimiter } from "../runtime/rateLimit.js";

const cache = new Map<string, BaseChatModel>();

/**
 * The `configurable` key under which the facade passes its run's
 * `UsageTracker` to the factory, whose models report every call to it
 * directly (see `withUsageTracker`). Not a callback handler on purpose: a
 * handler on the run makes LangChain open a callback run for every runnable
 * of every task (about 0.2 ms a task in `npm run bench`), and one on the
 * model a callback run for every call (about 0.1 ms).
 */
export const USAGE_HANDLER_KEY = "__llmWorkflowsUsage";

const views = new WeakMap<BaseChatModel, WeakMap<UsageTracker, BaseChatModel>>();

/**
 * Stops a model call that would take its run over budget, before anything is
 * sent, for a usage tracker given as a callback handler on the run (the
 * facade's own tracker is asked by `withUsageTracker`). Called at the start of
 * the model's own generation, after LangChain reported the call's start to
 * the tracker, and not from inside a callback, so that the error reaches the
 * run once and LangChain does not log it ("Error in handler ...").
 * @throws {BudgetExceededError}
 */
function checkBudget(runManager: CallbackManagerForLLMRun | undefined): void {
  for (const handler of runManager?.handlers ?? []) if (handler instanceof UsageTracker) handler.checkBudget(runManager!.runId);
}

/** Whether `error` says the provider's answer could not be parsed or validated (it came after a successful request). */
function isAnswerError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return error instanceof SyntaxError || error.name === "OutputParserException" || Array.isArray((error as { issues?: unknown }).issues);
}

/**
 * The error a failed model call of {@link ProviderChatModel} ends with: the
 * transport's {@link ProviderRequestError} when it gave up (the OpenAI client
 * wraps what `fetch` throws), an HTTP error the transport did not retry (a
 * 400, a 401, ...) as a {@link ProviderRequestError} naming the URL, and
 * anything else (an answer that does not parse, an abort) as it is.
 */
function callError(error: unknown, record: RequestRecord): unknown {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 6; e = e.cause, depth++) {
    if (e instanceof ProviderRequestError) return e;
  }
  const status = (error as { status?: unknown })?.status;
  if (record.requests > 0 && typeof status === "number" && !isAnswerError(error)) {
    return new ProviderRequestError(record.url ?? "the provider", record.requests, (error as Error).message, { status, cause: error });
  }
  return error;
}

/**
 * ChatOpenAI as the factory builds it: each model call runs with a
 * {@link RequestRecord} the transport fills (requests made, the provider's
 * token usage), handed to the usage tracker with the result or the error;
 * the run's budget is checked before the call; transport failures surface as
 * {@link ProviderRequestError}. `withConfig` (behind `withStructuredOutput`
 * and `bindTools`) keeps this class.
 */
class ProviderChatModel extends ChatOpenAI {
  static lc_name(): string {
    return "ChatOpenAI";
  }

  override withConfig(config: Partial<ChatOpenAICallOptions>): ProviderChatModel {
    // ChatOpenAI.withConfig builds a plain ChatOpenAI from `fields`; the same for this class.
    const model = new ProviderChatModel(this.fields);
    model.defaultOptions = { ...this.defaultOptions, ...config };
    return model;
  }

  override async _generate(messages: BaseMessage[], options: this["ParsedCallOptions"], runManager?: CallbackManagerForLLMRun): Promise<ChatResult> {
    checkBudget(runManager);
    const record = newRequestRecord();
    try {
      const result = await withRequestRecord(record, () => super._generate(messages, options, runManager));
      result.llmOutput = attachRequestRecord(result.llmOutput ?? {}, record);
      return result;
    } catch (error) {
      throw attachRequestRecord(callError(error, record), record);
    }
  }

  override async *_streamResponseChunks(messages: BaseMessage[], options: this["ParsedCallOptions"], runManager?: CallbackManagerForLLMRun): AsyncGenerator<ChatGenerationChunk> {
    checkBudget(runManager);
    const record = newRequestRecord();
    const chunks = super._streamResponseChunks(messages, options, runManager);
    try {
      // A generator's body runs in the context of whoever calls next(): open the record around each step.
      for (;;) {
        const step = await withRequestRecord(record, () => chunks.next());
        if (step.done) return;
        yield step.value;
      }
    } catch (error) {
      throw attachRequestRecord(callError(error, record), record);
    }
  }
}

/** The metadata of the runnable running now (the calling node's: `langgraph_node`, `langgraph_checkpoint_ns`). */
function currentMetadata(): Record<string, unknown> | undefined {
  return (AsyncLocalStorageProviderSingleton.getRunnableConfig() as RunnableConfig | undefined)?.metadata;
}

/**
 * `model` reporting each of its calls to `tracker` directly: a `Proxy` of
 * the shared instance (one per model and tracker) whose `_generate` and
 * `_streamResponseChunks` begin a call on the tracker (node and task from the
 * running node's metadata, read from LangChain's async-local config), check
 * the run's budget before anything is sent, and end or fail the call with the
 * answer or the error. Everything else (client, transport, rate limiter, and
 * any field a method writes) is the shared instance's.
 *
 * Not a LangChain callback handler: any handler on a model makes LangChain
 * open a callback run per call (`CallbackManager`, run ids, a LangSmith
 * `RunTree`), about 0.1 ms a call (docs/performance.md, cause 7).
 *
 * The paths a call can take to another model instance are covered here:
 * `ChatOpenAI.withConfig` (behind its `withStructuredOutput` and `bindTools`)
 * builds a new model, which gets its own proxy; a {@link FallbackChatModel}'s
 * `models` are proxies, so each model it tries is a call of its own. Models
 * whose `withConfig` binds `this` (the offline and simulated models) need
 * nothing more: the binding calls the proxy.
 */
function withUsageTracker(model: BaseChatModel, tracker: UsageTracker): BaseChatModel {
  let byTracker = views.get(model);
  if (!byTracker) views.set(model, (byTracker = new WeakMap()));
  let view = byTracker.get(tracker);
  if (view) return view;
  const replaced: Record<string | symbol, unknown> = {};
  if (model instanceof FallbackChatModel) {
    replaced.models = model.models.map((m) => withUsageTracker(m, tracker));
  } else {
    const begin = (messages: BaseMessage[]) => {
      const call = tracker.beginCall(modelName(model), messages, currentMetadata());
      tracker.checkCallBudget(call);
      return call;
    };
    replaced._generate = async (messages: BaseMessage[], options: unknown, runManager?: CallbackManagerForLLMRun): Promise<ChatResult> => {
      const call = begin(messages);
      let result: ChatResult;
      try {
        result = await (model._generate as (...args: unknown[]) => Promise<ChatResult>).call(view, messages, options, runManager);
      } catch (error) {
        tracker.failCall(call, error);
        throw error;
      }
      tracker.endCall(call, { generations: [result.generations], llmOutput: result.llmOutput });
      return result;
    };
    replaced._streamResponseChunks = async function* (messages: BaseMessage[], options: unknown, runManager?: CallbackManagerForLLMRun): AsyncGenerator<ChatGenerationChunk> {
      const call = begin(messages);
      let answer: ChatGenerationChunk | undefined;
      let ended = false;
      try {
        for await (const chunk of (model._streamResponseChunks as (...args: unknown[]) => AsyncGenerator<ChatGenerationChunk>).call(view, messages, options, runManager)) {
          answer = answer ? answer.concat(chunk) : chunk;
          yield chunk;
        }
      } catch (error) {
        ended = true;
        tracker.failCall(call, error);
        throw error;
      } finally {
        // Also when the reader stops early: what streamed so far is what the call cost.
        if (!ended) tracker.endCall(call, { generations: [answer ? [answer] : []] });
      }
    };
    if (model instanceof ChatOpenAI) {
      replaced.withConfig = (config: Partial<ChatOpenAICallOptions>) => withUsageTracker(model.withConfig(config) as BaseChatModel, tracker);
    }
  }
  view = new Proxy(model, {
    get: (target, key, receiver) => (Object.prototype.hasOwnProperty.call(replaced, key) ? replaced[key] : Reflect.get(target, key, receiver)),
  });
  byTracker.set(tracker, view);
  return view;
}

/**
 * The one hook for substituting a model: `configurable.modelOverride`, a
 * `BaseChatModel` instance that every role of the run then uses, and no other
 * setting is read (the benchmarks pass a `SimulatedChatModel` this way; see
 * `bench/`). Not settable from the environment or the CLI.
 */
export const MODEL_OVERRIDE_KEY = "modelOverride";

/** What the run's logger is told when the offline model answers for want of a provider. */
export const OFFLINE_NOTICE =
  "no OPENAI_API_KEY or OPENAI_BASE_URL set; using the embedded offline model (deterministic and extractive, not a language model).";

/** Builds a new chat model for resolved settings (no caching); fallbacks included. */
export function createChatModel(settings: ModelSettings): BaseChatModel {
  if (settings.provider === "offline") return new OfflineChatModel();
  const primary = createOpenAIModel(settings);
  if (settings.fallbacks.length === 0) return primary;
  const fallbacks = settings.fallbacks.map((spec) => {
    const [model, baseURL] = spec.split("@");
    return createOpenAIModel({ ...settings, model, baseURL: baseURL || settings.baseURL, fallbacks: [] });
  });
  return new FallbackChatModel([primary, ...fallbacks]);
}

/**
 * ChatOpenAI for one model and endpoint, over the resilient transport
 * (`transport.ts`): the client's own retries are off, the transport's apply.
 */
function createOpenAIModel(settings: ModelSettings): ChatOpenAI {
  const key = `${settings.baseURL ?? "openai"}|${settings.model}`;
  const limits = { rpm: settings.rpm, tpm: settings.tpm, maxConcurrency: settings.maxConcurrency, redisUrl: settings.redisUrl };
  let limiter: Promise<ModelRateLimiter> | undefined;
  const fetch = resilientFetch(
    { maxAttempts: settings.maxRetries + 1, baseDelayMs: DEFAULT_BASE_DELAY_MS, maxDelayMs: DEFAULT_MAX_DELAY_MS, timeoutMs: settings.timeoutMs, adaptiveTimeout: settings.adaptiveTimeout },
    () => (limiter ??= limiterFor(key, limits)),
  );
  return new ProviderChatModel({
    model: settings.model,
    temperature: settings.temperature,
    // The client times the whole call, retries and waits included; the transport times each attempt.
    timeout: (settings.timeoutMs + DEFAULT_MAX_DELAY_MS) * (settings.maxRetries + 1),
    maxRetries: 0,
    apiKey: settings.apiKey,
    streamUsage: true,
    configuration: { ...(settings.baseURL ? { baseURL: settings.baseURL } : {}), fetch },
  });
}

/**
 * Returns the chat model for `role`, configured from the run config's
 * `configurable` and the environment (see `configuration.ts`). Instances are
 * shared between calls with the same settings.
 *
 * @param role - `default`, or `strong` for steps that escalate hard or low-confidence cases.
 * @param config - The node's run config (pass the second argument of a node function);
 *   its `configurable.modelOverride` ({@link MODEL_OVERRIDE_KEY}), when set, is returned for every role;
 *   a usage tracker under {@link USAGE_HANDLER_KEY} (the facade sets one per run) sees every call of the returned model;
 *   a recorder under `RECORDER_KEY` (`replay.ts`) records the model's calls or answers them from its file;
 *   a logger under `configurable.logger` (`runtime/logger.ts`) is told once (code `OFFLINE_MODEL`) when the
 *   embedded offline model stands in for a provider. Nothing is written to stderr otherwise.
 * @throws {ConfigurationError} when a setting is invalid.
 */
export function getChatModel(role: ModelRole = "default", config?: RunnableConfig): BaseChatModel {
  const configurable = config?.configurable as Record<string, unknown> | undefined;
  const tracker = configurable?.[USAGE_HANDLER_KEY];
  // A run with a recorder (replay.ts, RECORDER_KEY) gets the model that records or replays its calls.
  const model = modelWithRecorder(role, config, () => sharedModel(role, config));
  return tracker instanceof UsageTracker ? withUsageTracker(model, tracker) : model;
}

function sharedModel(role: ModelRole, config?: RunnableConfig): BaseChatModel {
  const override = (config?.configurable as Record<string, unknown> | undefined)?.[MODEL_OVERRIDE_KEY];
  if (override !== undefined && override !== null) {
    if (!(override instanceof BaseChatModel)) throw new ConfigurationError(MODEL_OVERRIDE_KEY, "a BaseChatModel instance", typeof override);
    return override;
  }
  const settings = resolveModelSettings(role, config);
  if (settings.provider === "offline") warnOnce(loggerFrom(config), OFFLINE_NOTICE, { code: "OFFLINE_MODEL" });
  const key = JSON.stringify(settings);
  let model = cache.get(key);
  if (!model) {
    model = createChatModel(settings);
    cache.set(key, model);
  }
  return model;
}
