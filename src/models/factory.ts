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
import { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { RunnableConfig } from "@langchain/core/runnables";
import { ChatOpenAI } from "@langchain/openai";
import { ConfigurationError } from "../runtime/errors.js";
import { resolveModelSettings, type ModelRole, type ModelSettings } from "./configuration.js";
import { OfflineChatModel } from "./offline/model.js";
import { FallbackChatModel } from "./fallback.js";
import { DEFAULT_BASE_DELAY_MS, DEFAULT_MAX_DELAY_MS, resilientFetch } from "./transport.js";
import { limiterFor, type ModelRateLimiter } from "../runtime/rateLimit.js";

const cache = new Map<string, BaseChatModel>();

/**
 * The `configurable` key under which the facade passes its run's usage
 * tracker (`UsageTracker`, a LangChain callback handler) to the factory, which
 * attaches it to the models it hands out. Not a run-level callback on
 * purpose: any run-level handler makes LangChain open a callback run for every
 * runnable of every task, about 0.2 ms per task in `npm run bench`; on the
 * model it sees the model calls only.
 */
export const USAGE_HANDLER_KEY = "__llmWorkflowsUsage";

const views = new WeakMap<BaseChatModel, WeakMap<BaseCallbackHandler, BaseChatModel>>();

/**
 * `model` with `handler` added to its own callbacks, so that LangChain reports
 * this model's calls to the handler, with the calling node's metadata. A
 * `Proxy` of the shared instance (one per model and handler): reads of
 * `callbacks` see the handler, everything else (client, transport, rate
 * limiter, and any field a method writes) is the shared instance's. Two
 * models need more: `ChatOpenAI.withConfig` (behind its `withStructuredOutput`
 * and `bindTools`) builds a new model from `fields`, so the proxy's `fields`
 * carry the callbacks; a {@link FallbackChatModel}'s `models` are proxies too,
 * for `invokeStructured`, which calls them one by one.
 */
function withUsageHandler(model: BaseChatModel, handler: BaseCallbackHandler): BaseChatModel {
  let byHandler = views.get(model);
  if (!byHandler) views.set(model, (byHandler = new WeakMap()));
  let view = byHandler.get(handler);
  if (!view) {
    const own = model.callbacks;
    const callbacks = own === undefined ? [handler] : Array.isArray(own) ? [...own, handler] : own.copy([handler]);
    const fields = (model as { fields?: unknown }).fields;
    const replaced: Record<string | symbol, unknown> = { callbacks };
    if (fields && typeof fields === "object") replaced.fields = { ...fields, callbacks };
    if (model instanceof FallbackChatModel) replaced.models = model.models.map((m) => withUsageHandler(m, handler));
    view = new Proxy(model, {
      get: (target, key, receiver) => (Object.prototype.hasOwnProperty.call(replaced, key) ? replaced[key] : Reflect.get(target, key, receiver)),
    });
    byHandler.set(handler, view);
  }
  return view;
}

/**
 * The one hook for substituting a model: `configurable.modelOverride`, a
 * `BaseChatModel` instance that every role of the run then uses, and no other
 * setting is read (the benchmarks pass a `SimulatedChatModel` this way; see
 * `bench/`). Not settable from the environment or the CLI.
 */
export const MODEL_OVERRIDE_KEY = "modelOverride";

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
    { maxAttempts: settings.maxRetries + 1, baseDelayMs: DEFAULT_BASE_DELAY_MS, maxDelayMs: DEFAULT_MAX_DELAY_MS, timeoutMs: settings.timeoutMs },
    () => (limiter ??= limiterFor(key, limits)),
  );
  return new ChatOpenAI({
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
 *   a usage tracker under {@link USAGE_HANDLER_KEY} (the facade sets one per run) sees every call of the returned model.
 * @throws {ConfigurationError} when a setting is invalid.
 */
export function getChatModel(role: ModelRole = "default", config?: RunnableConfig): BaseChatModel {
  const configurable = config?.configurable as Record<string, unknown> | undefined;
  const handler = configurable?.[USAGE_HANDLER_KEY];
  const model = sharedModel(role, config);
  return handler instanceof BaseCallbackHandler ? withUsageHandler(model, handler) : model;
}

function sharedModel(role: ModelRole, config?: RunnableConfig): BaseChatModel {
  const override = (config?.configurable as Record<string, unknown> | undefined)?.[MODEL_OVERRIDE_KEY];
  if (override !== undefined && override !== null) {
    if (!(override instanceof BaseChatModel)) throw new ConfigurationError(MODEL_OVERRIDE_KEY, "a BaseChatModel instance", typeof override);
    return override;
  }
  const settings = resolveModelSettings(role, config);
  const key = JSON.stringify(settings);
  let model = cache.get(key);
  if (!model) {
    model = createChatModel(settings);
    cache.set(key, model);
  }
  return model;
}
