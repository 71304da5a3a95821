/**
 * Fallback models per role: a chat model that tries its models in order and
 * answers with the first that succeeds. Configured with `fallbackModels` /
 * `strongFallbackModels` (see `configuration.ts`); each model has its own
 * transport (rate limits, retries), so a fallback is tried only after the
 * primary's retries are spent.
 *
 * @module
 */
import { BaseChatModel, type BaseChatModelCallOptions } from "@langchain/core/language_models/chat_models";
import type { BaseLanguageModelInput, StructuredOutputMethodOptions } from "@langchain/core/language_models/base";
import type { BaseMessage } from "@langchain/core/messages";
import type { ChatResult } from "@langchain/core/outputs";
import type { CallbackManagerForLLMRun } from "@langchain/core/callbacks/manager";
import type { Runnable } from "@langchain/core/runnables";
import { LlmWorkflowsError, ProviderRequestError } from "../runtime/errors.js";

/** Every model of a fallback list failed; `errors` holds each one's error, in order. */
export class AllModelsFailedError extends LlmWorkflowsError {
  readonly errors: Error[];

  constructor(models: string[], errors: Error[]) {
    super("ALL_MODELS_FAILED", `every model failed: ${models.map((m, i) => `${m}: ${errors[i]?.message ?? "?"}`).join("; ")}`);
    this.errors = errors;
  }
}

/**
 * Whether a failure should move on to the next model: a provider that failed
 * (its transport retries spent, {@link ProviderRequestError}) or any other
 * error of the model, but not an abort or one of this library's own errors
 * (a budget, a bad setting).
 */
function worthFallingBack(error: unknown): boolean {
  if (!(error instanceof Error)) return true;
  if (error.name === "AbortError" || error.message.startsWith("Abort")) return false;
  return error instanceof ProviderRequestError || !(error instanceof LlmWorkflowsError);
}

/** A chat model's name as asked for: its `model` (or `modelName`) field, else its LangChain type (`offline`, `fallback`, ...). */
export function modelName(model: BaseChatModel): string {
  const named = model as unknown as { model?: unknown; modelName?: unknown };
  return String(named.model ?? named.modelName ?? model._llmType());
}

/** A chat model over several: the first that succeeds answers (see the module doc). */
export class FallbackChatModel extends BaseChatModel {
  static lc_name(): string {
    return "FallbackChatModel";
  }

  constructor(readonly models: BaseChatModel[]) {
    super({});
    if (models.length === 0) throw new Error("FallbackChatModel needs at least one model");
  }

  /** Name of the primary model. */
  get model(): string {
    return modelName(this.models[0]);
  }

  _llmType(): string {
    return "fallback";
  }

  async _generate(messages: BaseMessage[], options: this["ParsedCallOptions"], runManager?: CallbackManagerForLLMRun): Promise<ChatResult> {
    const errors: Error[] = [];
    for (const model of this.models) {
      try {
        return await model._generate(messages, options as BaseChatModelCallOptions, runManager);
      } catch (error) {
        if (!worthFallingBack(error)) throw error;
        errors.push(error as Error);
      }
    }
    throw new AllModelsFailedError(this.models.map(modelName), errors);
  }

  override bindTools(tools: Parameters<NonNullable<BaseChatModel["bindTools"]>>[0], kwargs?: Partial<BaseChatModelCallOptions>) {
    const bound = this.models.map((m) => m.bindTools!(tools, kwargs));
    return bound[0].withFallbacks(bound.slice(1)) as unknown as Runnable<BaseLanguageModelInput, any>;
  }

  /** The primary's structured output, falling back to each other model's. */
  override withStructuredOutput(schema: any, config?: StructuredOutputMethodOptions<boolean>): any {
    const runnables = this.models.map((m) => m.withStructuredOutput(schema, config as any) as Runnable);
    return runnables.length === 1 ? runnables[0] : runnables[0].withFallbacks(runnables.slice(1));
  }
}
