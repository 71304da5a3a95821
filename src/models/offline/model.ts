/**
 * The embedded offline model: a deterministic, network-free `BaseChatModel`.
 *
 * It is not a language model. It reads the prompt (see `prompt.ts`), answers
 * free-text requests with an extract of the material (`compose.ts`) and
 * structured requests with values derived from the prompt by lexical matching
 * (`fill.ts`). It exists so that every workflow runs end to end offline, in
 * tests and in LangGraph Studio; the same input always gives the same answer.
 *
 * It supports `invoke`, `stream`, `bindTools` and `withStructuredOutput(zod)`
 * (through a forced tool call, validated against the zod schema), and reports
 * usage metadata counted with the o200k_base tokenizer.
 *
 * Its text work is synchronous CPU work (about 5 s for the calls of a 1 MB
 * summarization on the development machine). It runs in slices of about
 * 10 ms through one {@link EventLoopSlicer} per model, so that timers, I/O
 * and other requests of the process (a dev server's) are served between
 * slices, also when a fan-out runs hundreds of calls at once.
 *
 * @example
 * ```ts
 * const model = new OfflineChatModel();
 * const Route = z.object({ category: z.enum(["billing", "technical"]) });
 * const { category } = await model.withStructuredOutput(Route).invoke(
 *   "- billing: charges, refunds\n- technical: errors, crashes\n<user_query>I was charged twice</user_query>",
 * ); // "billing"
 * ```
 * @module
 */
import type { BaseChatModelParams } from "@langchain/core/language_models/chat_models";
import { AIMessageChunk, type BaseMessage } from "@langchain/core/messages";
import { ChatGenerationChunk, type ChatResult } from "@langchain/core/outputs";
import type { CallbackManagerForLLMRun } from "@langchain/core/callbacks/manager";
import { createHash } from "node:crypto";
import { composeInSteps } from "./compose.js";
import { fillSchemaInSteps } from "./fill.js";
import { readPrompt } from "./prompt.js";
import { countTokensInSteps, EventLoopSlicer } from "../../runtime/text.js";
import { ToolCallingChatModel, type OfflineCallOptions } from "./toolCalling.js";

export type { OfflineCallOptions };

/** Characters per streamed chunk of a free-text answer (a word at most). */
const STREAM_CHUNK = /\S+\s*/g;

/** The deterministic offline chat model (see the module doc). */
export class OfflineChatModel extends ToolCallingChatModel {
  static lc_name(): string {
    return "OfflineChatModel";
  }

  /** Name reported in usage accounting and traces. */
  readonly model = "offline";

  /** Runs this model's text work in slices, letting the event loop turn between them (timing only; answers do not depend on it). */
  private readonly slicer = new EventLoopSlicer();

  constructor(fields: BaseChatModelParams = {}) {
    super(fields);
  }

  _llmType(): string {
    return "offline";
  }

  /** The answer message for `messages`, without usage (computed in slices, see the module doc). */
  private async answer(messages: BaseMessage[], options: OfflineCallOptions): Promise<{ text: string; message: AIMessageChunk }> {
    const prompt = readPrompt(messages);
    const tool = options.tools?.[0];
    if (tool) {
      const args = (await this.slicer.run(fillSchemaInSteps(tool.function.parameters, prompt))) as Record<string, unknown>;
      const text = JSON.stringify(args);
      const id = `call_${createHash("sha256").update(prompt.all + tool.function.name).digest("hex").slice(0, 24)}`;
      return {
        text,
        message: new AIMessageChunk({
          content: "",
          tool_calls: [{ name: tool.function.name, args, id, type: "tool_call" }],
        }),
      };
    }
    const text = await this.slicer.run(composeInSteps(prompt));
    return { text, message: new AIMessageChunk({ content: text }) };
  }

  /** Token usage of a call, counted with o200k_base (in slices, like the answer). */
  private async usage(messages: BaseMessage[], output: string) {
    let input_tokens = 0;
    for (const m of messages) input_tokens += await this.slicer.run(countTokensInSteps(m.text));
    const output_tokens = await this.slicer.run(countTokensInSteps(output));
    return { input_tokens, output_tokens, total_tokens: input_tokens + output_tokens };
  }

  async _generate(messages: BaseMessage[], options: this["ParsedCallOptions"]): Promise<ChatResult> {
    const { text, message } = await this.answer(messages, options);
    const usage_metadata = await this.usage(messages, text);
    const out = new AIMessageChunk({ ...message, usage_metadata, response_metadata: { model_name: this.model } });
    return {
      generations: [{ text: out.text, message: out }],
      llmOutput: { tokenUsage: { promptTokens: usage_metadata.input_tokens, completionTokens: usage_metadata.output_tokens, totalTokens: usage_metadata.total_tokens } },
    };
  }

  async *_streamResponseChunks(
    messages: BaseMessage[],
    options: this["ParsedCallOptions"],
    runManager?: CallbackManagerForLLMRun,
  ): AsyncGenerator<ChatGenerationChunk> {
    const { text, message } = await this.answer(messages, options);
    const usage_metadata = await this.usage(messages, text);
    if (message.tool_calls?.length) {
      const call = message.tool_calls[0];
      yield new ChatGenerationChunk({
        text: "",
        message: new AIMessageChunk({
          content: "",
          tool_call_chunks: [{ name: call.name, args: JSON.stringify(call.args), id: call.id, index: 0, type: "tool_call_chunk" }],
          usage_metadata,
        }),
      });
      return;
    }
    const pieces = text.match(STREAM_CHUNK) ?? [text];
    for (let i = 0; i < pieces.length; i++) {
      const last = i === pieces.length - 1;
      const chunk = new ChatGenerationChunk({
        text: pieces[i],
        message: new AIMessageChunk({ content: pieces[i], ...(last ? { usage_metadata } : {}) }),
      });
      yield chunk;
      await runManager?.handleLLMNewToken(pieces[i], undefined, undefined, undefined, undefined, { chunk });
    }
  }
}
