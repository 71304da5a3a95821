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
 *   its `configurable.modelOverride` ({@link MODEL_OVERRIDE_KEY}), when set, is returned for every role.
 * @throws {ConfigurationError} when a setting is invalid.
 */
export function getChatModel(role: ModelRole = "default", config?: RunnableConfig): BaseChatModel {
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
