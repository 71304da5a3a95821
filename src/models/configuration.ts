/**
 * Model settings for a run: read from the run config (`configurable`), then the
 * environment, then the defaults below.
 *
 * | setting       | `configurable` key | environment variable            | default        |
 * | ------------- | ------------------ | ------------------------------- | -------------- |
 * | provider      | `provider`         | `LLM_WORKFLOWS_PROVIDER`        | `openai` when `OPENAI_API_KEY` or `OPENAI_BASE_URL` is set, else `offline` |
 * | default model | `model`            | `LLM_WORKFLOWS_MODEL`           | `gpt-4o-mini` (the sources' model) |
 * | strong model  | `strongModel`      | `LLM_WORKFLOWS_STRONG_MODEL`    | `gpt-4o`       |
 * | temperature   | `temperature`      | `LLM_WORKFLOWS_TEMPERATURE`     | `0`            |
 * | timeout (ms)  | `timeoutMs`        | `LLM_WORKFLOWS_TIMEOUT_MS`      | `60000` (per request; the most an adaptive timeout gives) |
 * | adaptive timeout | `adaptiveTimeout` | `LLM_WORKFLOWS_ADAPTIVE_TIMEOUT` | `true` (a request is cut after 4x the model's p99 latency, see `transport.ts`) |
 * | retries       | `maxRetries`       | `LLM_WORKFLOWS_MAX_RETRIES`     | `7`: at most 8 HTTP requests per model call (`transport.ts`) |
 * | base URL      | `baseURL`          | `OPENAI_BASE_URL`               | OpenAI's       |
 * | requests/min  | `rpm`              | `LLM_WORKFLOWS_RPM`             | none           |
 * | tokens/min    | `tpm`              | `LLM_WORKFLOWS_TPM`             | none           |
 * | concurrency   | `maxConcurrency`   | `LLM_WORKFLOWS_MAX_CONCURRENCY` | `64` (adaptive below it) |
 * | Redis         | `redisUrl`         | `LLM_WORKFLOWS_REDIS_URL`       | none (limits per process) |
 * | fallbacks     | `fallbackModels` / `strongFallbackModels` | `LLM_WORKFLOWS_FALLBACK_MODELS` / `LLM_WORKFLOWS_STRONG_FALLBACK_MODELS` | none |
 *
 * A fallback is a model name, or `name@baseURL` for another OpenAI-compatible
 * endpoint (same key); lists are comma-separated in the environment.
 *
 * A model name of `offline` selects the embedded offline model whatever else is set.
 *
 * @module
 */
import type { RunnableConfig } from "@langchain/core/runnables";
import { ConfigurationError } from "../runtime/errors.js";

/** Which model a step asks for: `default`, or `strong` where a pattern escalates hard or low-confidence cases (*Advanced Workflows*). */
export type ModelRole = "default" | "strong";

/** Where model calls go. */
export type ModelProvider = "openai" | "offline";

/** Resolved settings for one role. */
export interface ModelSettings {
  provider: ModelProvider;
  /** Model name sent to the provider (`offline` for the embedded model). */
  model: string;
  temperature: number;
  /** Per-request timeout in milliseconds (the most an adaptive timeout gives). */
  timeoutMs: number;
  /** Shorten a request's timeout from the model's observed latency (`transport.ts`). */
  adaptiveTimeout: boolean;
  /** Retries of one model call in the transport: at most `maxRetries` + 1 HTTP requests per call. */
  maxRetries: number;
  /** Base URL of an OpenAI-compatible server (Ollama, vLLM, LM Studio, llama.cpp); undefined for OpenAI itself. */
  baseURL?: string;
  /** API key; undefined for the offline model. */
  apiKey?: string;
  /** Requests per minute to this model (undefined: no limit). */
  rpm?: number;
  /** Tokens per minute to this model (undefined: no limit). */
  tpm?: number;
  /** Most calls in flight to this model; the adaptive limit stays below it. */
  maxConcurrency?: number;
  /** Redis URL shared by processes for the RPM/TPM budget. */
  redisUrl?: string;
  /** Models tried in order when this one fails: names, or `name@baseURL`. */
  fallbacks: string[];
}

/** Model used for the `default` role with a provider (*Lesson 05: Workflow Patterns* uses gpt-4o-mini). */
export const DEFAULT_MODEL = "gpt-4o-mini";
/** Model used for the `strong` role with a provider. */
export const DEFAULT_STRONG_MODEL = "gpt-4o";
/** Sampling temperature; 0 keeps classification and evaluation steps stable. */
export const DEFAULT_TEMPERATURE = 0;
/** Per-request timeout in ms. */
export const DEFAULT_TIMEOUT_MS = 60_000;
/**
 * Retries of one model call in the transport (`transport.ts`): at most 8 HTTP
 * requests per call. At a 16% rate of transport faults (a 20% mixed fault
 * rate, see docs/reliability.md) a call then fails with probability
 * 0.16^8 = 4e-7, about one in a thousand 1,000-row batches of two calls a row.
 */
export const DEFAULT_MAX_RETRIES = 7;
/** The model name that selects the embedded offline model. */
export const OFFLINE_MODEL_NAME = "offline";
/**
 * The OpenAI client refuses to start without an API key; local OpenAI-compatible
 * servers (Ollama, vLLM, llama.cpp) ignore it, so this value is sent when only
 * `OPENAI_BASE_URL` is set.
 */
export const LOCAL_SERVER_API_KEY = "not-needed";

type Env = Record<string, string | undefined>;

function pick(configurable: Record<string, unknown>, key: string, env: Env, envKey: string): unknown {
  const fromConfig = configurable[key];
  if (fromConfig !== undefined && fromConfig !== null && fromConfig !== "") return fromConfig;
  const fromEnv = env[envKey];
  return fromEnv === undefined || fromEnv === "" ? undefined : fromEnv;
}

function toNumber(setting: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = typeof value === "number" ? value : Number(value);
  if (!Number.isFinite(n) || n < min || n > max) {
    throw new ConfigurationError(setting, `a number from ${min} to ${max}`, value);
  }
  return n;
}

function toBoolean(setting: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (value === true || value === "true" || value === "1") return true;
  if (value === false || value === "false" || value === "0") return false;
  throw new ConfigurationError(setting, "true or false (1 or 0)", value);
}

/**
 * Resolves the settings for `role` from a run config and the environment.
 *
 * @param role - `default` or `strong`.
 * @param config - The run config; its `configurable` keys override the environment.
 * @param env - The environment (defaults to `process.env`).
 * @throws {ConfigurationError} when a value is out of range or the provider is unknown.
 */
export function resolveModelSettings(
  role: ModelRole,
  config?: RunnableConfig,
  env: Env = process.env,
): ModelSettings {
  const configurable = (config?.configurable ?? {}) as Record<string, unknown>;
  const apiKey = pick(configurable, "apiKey", env, "OPENAI_API_KEY") as string | undefined;
  const baseURL = pick(configurable, "baseURL", env, "OPENAI_BASE_URL") as string | undefined;
  const model = String(
    role === "strong"
      ? pick(configurable, "strongModel", env, "LLM_WORKFLOWS_STRONG_MODEL") ?? DEFAULT_STRONG_MODEL
      : pick(configurable, "model", env, "LLM_WORKFLOWS_MODEL") ?? DEFAULT_MODEL,
  );
  const requested = pick(configurable, "provider", env, "LLM_WORKFLOWS_PROVIDER");
  if (requested !== undefined && requested !== "openai" && requested !== "offline") {
    throw new ConfigurationError("provider (LLM_WORKFLOWS_PROVIDER)", '"openai" or "offline"', requested);
  }
  const provider: ModelProvider =
    model === OFFLINE_MODEL_NAME
      ? "offline"
      : (requested as ModelProvider | undefined) ?? (apiKey || baseURL ? "openai" : "offline");
  if (provider === "openai" && !apiKey && !baseURL) {
    throw new ConfigurationError("OPENAI_API_KEY", "an API key (or OPENAI_BASE_URL) for provider openai", undefined);
  }
  const optionalInt = (key: string, envKey: string) => {
    const v = pick(configurable, key, env, envKey);
    return v === undefined ? undefined : toNumber(key, v, 0, 1, 1e9);
  };
  const fallbackValue = pick(configurable, role === "strong" ? "strongFallbackModels" : "fallbackModels", env, role === "strong" ? "LLM_WORKFLOWS_STRONG_FALLBACK_MODELS" : "LLM_WORKFLOWS_FALLBACK_MODELS");
  const fallbacks = Array.isArray(fallbackValue)
    ? fallbackValue.map(String)
    : typeof fallbackValue === "string"
      ? fallbackValue.split(",").map((s) => s.trim()).filter(Boolean)
      : [];
  return {
    provider,
    model: provider === "offline" ? OFFLINE_MODEL_NAME : model,
    temperature: toNumber("temperature", pick(configurable, "temperature", env, "LLM_WORKFLOWS_TEMPERATURE"), DEFAULT_TEMPERATURE, 0, 2),
    timeoutMs: toNumber("timeoutMs", pick(configurable, "timeoutMs", env, "LLM_WORKFLOWS_TIMEOUT_MS"), DEFAULT_TIMEOUT_MS, 1, 3_600_000),
    adaptiveTimeout: toBoolean("adaptiveTimeout", pick(configurable, "adaptiveTimeout", env, "LLM_WORKFLOWS_ADAPTIVE_TIMEOUT"), true),
    maxRetries: toNumber("maxRetries", pick(configurable, "maxRetries", env, "LLM_WORKFLOWS_MAX_RETRIES"), DEFAULT_MAX_RETRIES, 0, 20),
    baseURL: provider === "openai" ? baseURL : undefined,
    apiKey: provider === "openai" ? apiKey ?? LOCAL_SERVER_API_KEY : undefined,
    rpm: optionalInt("rpm", "LLM_WORKFLOWS_RPM"),
    tpm: optionalInt("tpm", "LLM_WORKFLOWS_TPM"),
    maxConcurrency: optionalInt("maxConcurrency", "LLM_WORKFLOWS_MAX_CONCURRENCY"),
    redisUrl: (pick(configurable, "redisUrl", env, "LLM_WORKFLOWS_REDIS_URL") as string | undefined) ?? undefined,
    fallbacks: provider === "openai" ? fallbacks : [],
  };
}
