/**
 * Structured output for nodes: ask a model for a value of a zod schema and get
 * it back validated, or a {@link StructuredOutputError} naming the schema path.
 *
 * @module
 */
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { BaseLanguageModelInput } from "@langchain/core/language_models/base";
import type { RunnableConfig } from "@langchain/core/runnables";
import type { z } from "zod";
import { fieldIssues, StructuredOutputError } from "../runtime/errors.js";

/**
 * Invokes `model.withStructuredOutput(schema)` and validates the answer with
 * `schema` (providers do not all enforce it; defaults and transforms apply).
 *
 * @param name - Schema name sent to the provider (a tool or json_schema name) and used in errors.
 * @throws {StructuredOutputError} when the answer does not match the schema.
 */
export async function invokeStructured<S extends z.ZodObject>(
  model: BaseChatModel,
  schema: S,
  name: string,
  input: BaseLanguageModelInput,
  config?: RunnableConfig,
): Promise<z.infer<S>> {
  const answer = await model.withStructuredOutput(schema, { name }).invoke(input, config);
  const parsed = schema.safeParse(answer);
  if (!parsed.success) throw new StructuredOutputError(name, fieldIssues(parsed.error));
  return parsed.data;
}
