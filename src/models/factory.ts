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
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { RunnableConfig } from "@langchain/core/runnables";
import { ChatOpenAI } from "@langchain/openai";
import { resolveModelSettings, type ModelRole, type ModelSettings } from "./configuration.js";
import { OfflineChatModel } from "./offline/model.js";

const cache = new Map<string, BaseChatModel>();

/** Builds a new chat model for resolved settings (no caching). */
export function createChatModel(settings: ModelSettings): BaseChatModel {
  if (settings.provider === "offline") return new OfflineChatModel();
  return new ChatOpenAI({
    model: settings.model,
    temperature: settings.temperature,
    timeout: settings.timeoutMs,
    maxRetries: settings.maxRetries,
    apiKey: settings.apiKey,
    streamUsage: true,
    configuration: settings.baseURL ? { baseURL: settings.baseURL } : undefined,
  });
}

/**
 * Returns the chat model for `role`, configured from the run config's
 * `configurable` and the environment (see `configuration.ts`). Instances are
 * shared between calls with the same settings.
 *
 * @param role - `default`, or `strong` for steps that escalate hard or low-confidence cases.
 * @param config - The node's run config (pass the second argument of a node function).
 * @throws {ConfigurationError} when a setting is invalid.
 */
export function getChatModel(role: ModelRole = "default", config?: RunnableConfig): BaseChatModel {
  const settings = resolveModelSettings(role, config);
  const key = JSON.stringify(settings);
  let model = cache.get(key);
  if (!model) {
    model = createChatModel(settings);
    cache.set(key, model);
  }
  return model;
}
