/**
 * Structured output for nodes: ask a model for a value of a zod schema and get
 * it back validated. An answer that is not valid JSON or fails the schema is
 * asked for again with the validation errors given back to the model, up to
 * {@link DEFAULT_REPAIR_ATTEMPTS} times; then the next model of the role's
 * fallback list gets the same chance; then a {@link StructuredOutputError}
 * naming the node, the schema and the failing path.
 *
 * @module
 */
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { BaseLanguageModelInput } from "@langchain/core/language_models/base";
import { AIMessage, HumanMessage, type BaseMessage } from "@langchain/core/messages";
import { ChatPromptValue, StringPromptValue } from "@langchain/core/prompt_values";
import { coerceMessageLikeToMessage } from "@langchain/core/messages";
import type { RunnableConfig } from "@langchain/core/runnables";
import type { z } from "zod";
import { fieldIssues, StructuredOutputError, type FieldIssue } from "../runtime/errors.js";
import { FallbackChatModel } from "./fallback.js";

/** Repair requests after a bad structured answer, per model. */
export const DEFAULT_REPAIR_ATTEMPTS = 2;

function toMessages(input: BaseLanguageModelInput): BaseMessage[] {
  if (typeof input === "string") return [new HumanMessage(input)];
  if (input instanceof StringPromptValue || input instanceof ChatPromptValue) return input.toChatMessages();
  return (input as Parameters<typeof coerceMessageLikeToMessage>[0][]).map((m) => coerceMessageLikeToMessage(m));
}

/** Whether `error` is a zod validation error (it carries `issues`). */
function isZodError(error: unknown): error is z.ZodError {
  return error instanceof Error && Array.isArray((error as { issues?: unknown }).issues) && /ZodError/.test(error.name + error.constructor.name);
}

/** Whether `error` says the model's answer could not be parsed (bad JSON), as opposed to a failed call. */
function isUnparsableAnswer(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return error instanceof SyntaxError || error.name === "OutputParserException" || /JSON|parse/i.test(error.name);
}

function describe(issues: FieldIssue[]): string {
  return issues.map((i) => `- ${i.path}: ${i.message}`).join("\n");
}

/**
 * Invokes `model.withStructuredOutput(schema)` and validates the answer with
 * `schema`, repairing bad answers (see the module doc).
 *
 * @param name - Schema name sent to the provider (a tool or json_schema name) and used in errors.
 * @param options.repairAttempts - Repair requests per model (default {@link DEFAULT_REPAIR_ATTEMPTS}).
 * @throws {StructuredOutputError} naming the node, the schema and the failing path, once every model and repair failed.
 */
export async function invokeStructured<S extends z.ZodObject>(
  model: BaseChatModel,
  schema: S,
  name: string,
  input: BaseLanguageModelInput,
  config?: RunnableConfig,
  options: { repairAttempts?: number } = {},
): Promise<z.infer<S>> {
  const models = model instanceof FallbackChatModel ? model.models : [model];
  const repairs = options.repairAttempts ?? DEFAULT_REPAIR_ATTEMPTS;
  const node = typeof config?.metadata?.langgraph_node === "string" ? config.metadata.langgraph_node : undefined;
  let lastIssues: FieldIssue[] = [];
  let lastError: unknown;
  for (const [m, candidate] of models.entries()) {
    // The first request sends the input as given; repairs extend it as messages.
    let messages: BaseLanguageModelInput = input;
    for (let attempt = 0; attempt <= repairs; attempt++) {
      let raw: BaseMessage | undefined;
      let parsed: unknown;
      try {
        const answer = (await candidate.withStructuredOutput(schema, { name, includeRaw: true }).invoke(messages, config)) as unknown;
        // `includeRaw` answers `{ raw, parsed }`; a model that ignores it answers the value itself.
        if (answer && typeof answer === "object" && "raw" in answer && "parsed" in answer) {
          raw = (answer as { raw: BaseMessage }).raw;
          parsed = (answer as { parsed: unknown }).parsed;
        } else parsed = answer;
      } catch (error) {
        if (isZodError(error)) {
          // The client validated the answer against the schema itself (OpenAI's json_schema parsing) and refused it.
          lastIssues = fieldIssues(error);
          messages = [
            ...toMessages(messages),
            new HumanMessage(`Your previous answer does not match the "${name}" schema:\n${describe(lastIssues)}\nAnswer again with JSON that matches the schema exactly.`),
          ];
          continue;
        }
        if (isUnparsableAnswer(error)) {
          // The client could not parse the answer as JSON: ask again.
          lastIssues = [{ path: "(root)", message: `the answer is not valid JSON (${(error as Error).message})` }];
          messages = [
            ...toMessages(messages),
            new HumanMessage(`Your previous answer was not valid JSON for the "${name}" schema (${(error as Error).message}). Answer again with JSON that matches the schema exactly.`),
          ];
          continue;
        }
        // Not a schema problem (the call itself failed after the transport's retries): next model.
        lastError = error;
        if (m === models.length - 1) throw error;
        break;
      }
      const result = schema.safeParse(parsed);
      if (result.success) return result.data;
      lastIssues =
        parsed === null || parsed === undefined
          ? [{ path: "(root)", message: "the answer is not valid JSON for the schema" }]
          : fieldIssues(result.error);
      const said = raw?.text || JSON.stringify((raw as AIMessage | undefined)?.tool_calls?.[0]?.args ?? parsed ?? null);
      messages = [
        ...toMessages(messages),
        new AIMessage(said),
        new HumanMessage(`Your answer does not match the "${name}" schema:\n${describe(lastIssues)}\nAnswer again with JSON that matches the schema exactly.`),
      ];
    }
  }
  if (lastIssues.length === 0 && lastError) throw lastError;
  throw new StructuredOutputError(name, lastIssues, { node });
}
