/**
 * The tool-calling half of the project's own chat models (the offline model
 * and the benchmarks' simulated model): `bindTools` remembers the tools in the
 * call options, and `withStructuredOutput` is the base implementation (a
 * forced tool call) followed by validation with the zod schema, so that
 * defaults apply and a bad answer is a {@link StructuredOutputError}.
 *
 * @module
 */
import { BaseChatModel, type BaseChatModelCallOptions, type BindToolsInput } from "@langchain/core/language_models/chat_models";
import type { AIMessageChunk, BaseMessage } from "@langchain/core/messages";
import type { Runnable } from "@langchain/core/runnables";
import type { BaseLanguageModelInput, StructuredOutputMethodOptions } from "@langchain/core/language_models/base";
import { convertToOpenAITool } from "@langchain/core/utils/function_calling";
import { z } from "zod";
import type { JsonSchema } from "./fill.js";
import { fieldIssues, StructuredOutputError } from "../../runtime/errors.js";

/** Call options: the tools bound by `bindTools`, in OpenAI's function format. */
export interface OfflineCallOptions extends BaseChatModelCallOptions {
  tools?: Array<{ type: "function"; function: { name: string; description?: string; parameters: JsonSchema } }>;
}

/** Base of the project's own chat models (see the module doc). */
export abstract class ToolCallingChatModel extends BaseChatModel<OfflineCallOptions, AIMessageChunk> {
  override bindTools(
    tools: BindToolsInput[],
    kwargs?: Partial<OfflineCallOptions>,
  ): Runnable<BaseLanguageModelInput, AIMessageChunk, OfflineCallOptions> {
    const converted = tools.map((t) => convertToOpenAITool(t)) as OfflineCallOptions["tools"];
    return this.withConfig({ ...kwargs, tools: converted } as Partial<OfflineCallOptions>);
  }

  /**
   * Like the base implementation (a forced tool call), then validated with the
   * zod schema so that defaults apply and a bad answer is a {@link StructuredOutputError}.
   */
  override withStructuredOutput<RunOutput extends Record<string, any> = Record<string, any>>(
    outputSchema: z.ZodType<RunOutput> | Record<string, any>,
    config?: StructuredOutputMethodOptions<false>,
  ): Runnable<BaseLanguageModelInput, RunOutput>;
  override withStructuredOutput<RunOutput extends Record<string, any> = Record<string, any>>(
    outputSchema: z.ZodType<RunOutput> | Record<string, any>,
    config?: StructuredOutputMethodOptions<true>,
  ): Runnable<BaseLanguageModelInput, { raw: BaseMessage; parsed: RunOutput }>;
  override withStructuredOutput<RunOutput extends Record<string, any> = Record<string, any>>(
    outputSchema: z.ZodType<RunOutput> | Record<string, any>,
    config?: StructuredOutputMethodOptions<boolean>,
  ): Runnable<BaseLanguageModelInput, RunOutput> | Runnable<BaseLanguageModelInput, { raw: BaseMessage; parsed: RunOutput }> {
    const base = super.withStructuredOutput(outputSchema as any, { ...config, method: "functionCalling" } as any) as Runnable<BaseLanguageModelInput, any>;
    if (!(outputSchema instanceof z.ZodType) || config?.includeRaw) return base;
    const name = config?.name ?? outputSchema.description ?? "extract";
    return base.pipe((value: unknown): RunOutput => {
      const parsed = (outputSchema as z.ZodType<RunOutput>).safeParse(value);
      if (!parsed.success) throw new StructuredOutputError(name, fieldIssues(parsed.error));
      return parsed.data;
    });
  }
}
