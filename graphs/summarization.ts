/**
 * summarization: map-reduce summarisation of a long document (the article *Workflow*'s
 * "Map-Reduce Workflow": split into chunks, summarise each chunk in parallel,
 * then a final summary; the *Workflow Patterns Cheatsheet*'s map-reduce with a concurrency limit).
 *
 * - `split`: LangChain's `RecursiveCharacterTextSplitter` (paragraphs, then
 *   lines, then words) cuts the text into chunks of at most `chunkSize`
 *   characters overlapping by `chunkOverlap`;
 * - `summarize_chunk`: one task per chunk through `Send`, at most
 *   `maxConcurrency` at once;
 * - `reduce_summaries`: the partial summaries, in document order, are packed
 *   into groups of at most `groupTokenBudget` tokens and each group is
 *   summarised in parallel; this repeats, level by level, until one summary
 *   of at most `tokenBudget` tokens is left (or `maxRounds` rounds have run);
 * - `finish`: writes the figures (`chunks`, `rounds`, `levels`, `levelTokens`,
 *   `summaryTokens`, `finishReason`). When the reduction stalls (a model that
 *   cannot shorten a summary any further) or reaches `maxRounds` with a summary
 *   over `tokenBudget`, `overBudget: "truncate"` (the default) keeps its
 *   leading sentences that fit and sets `truncated`; `keep` returns it whole.
 *
 * Tokens are o200k_base tokens (gpt-4o / gpt-4o-mini); sizes of chunks are in
 * characters. A text shorter than one chunk is one chunk: one map call and,
 * when its summary fits the budget, no reduce round. Prompts ask for at most
 * 0.6 × `tokenBudget` words (about the budget in tokens for English prose).
 *
 * Input: `text` (required, 1 to 5,000,000 characters after trimming),
 * `chunkSize` (characters, 200-100,000, default 4,000), `chunkOverlap`
 * (characters, default 200, less than `chunkSize`), `tokenBudget` (tokens,
 * 20-100,000, default 400), `groupTokenBudget` (tokens, default 2,000),
 * `maxConcurrency` (model calls of one fan-out at once, default unbounded),
 * `maxRounds` (0-10, default 8), `overBudget` (`truncate` | `keep`).
 * Output: `summary`, `chunks`, `rounds`, `levels`, `levelTokens`,
 * `summaryTokens`, `finishReason`, `truncated`.
 * Errors: `InvalidInputError` naming the field for an empty or blank `text`
 * or a value out of range (from the input schema, before anything runs), and
 * naming `chunkOverlap` when it is not smaller than `chunkSize` (when `split`
 * runs); a model error fails the run once the node's retries are spent.
 */
import { StateSchema, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { RecursiveCharacterTextSplitter } from "@langchain/textsplitters";
import { z } from "zod";
import { getChatModel } from "../src/models/factory.js";
import { tagged } from "../src/models/prompting.js";
import { InvalidInputError } from "../src/runtime/errors.js";
import { buildMapReduce, DEFAULT_MAX_ROUNDS, FinishReason, mapReduceFields, MAX_ROUNDS_LIMIT } from "../src/patterns/composition/mapReduce.js";
import { defineWorkflow, inputSchema } from "../src/workflow.js";

/** Characters per chunk unless the input says otherwise. */
export const DEFAULT_CHUNK_SIZE = 4_000;
/** Characters shared by consecutive chunks unless the input says otherwise. */
export const DEFAULT_CHUNK_OVERLAP = 200;
/** Most tokens of the final summary unless the input says otherwise. */
export const DEFAULT_TOKEN_BUDGET = 400;
/** Most tokens of partial summaries one reduce call reads unless the input says otherwise. */
export const DEFAULT_GROUP_TOKEN_BUDGET = 2_000;
/** Longest text accepted, in characters (a long novel is about 1 M). */
export const MAX_TEXT_CHARS = 5_000_000;

const inputFields = {
  text: z.string().trim().min(1, "the text to summarise is empty").max(MAX_TEXT_CHARS).describe("The document to summarise"),
  chunkSize: z.number().int().min(200).max(100_000).default(DEFAULT_CHUNK_SIZE).describe("Most characters per chunk"),
  chunkOverlap: z.number().int().min(0).max(50_000).default(DEFAULT_CHUNK_OVERLAP).describe("Characters shared by consecutive chunks (less than chunkSize)"),
  tokenBudget: z.number().int().min(20).max(100_000).default(DEFAULT_TOKEN_BUDGET).describe("Most tokens (o200k_base) of the final summary"),
  groupTokenBudget: z
    .number()
    .int()
    .min(20)
    .max(1_000_000)
    .default(DEFAULT_GROUP_TOKEN_BUDGET)
    .describe("Most tokens of partial summaries one reduce call reads"),
  maxConcurrency: z.number().int().min(1).optional().describe("At most this many model calls of one fan-out at once (default: all)"),
  maxRounds: z.number().int().min(0).max(MAX_ROUNDS_LIMIT).default(DEFAULT_MAX_ROUNDS).describe("Most reduce rounds"),
  overBudget: z
    .enum(["truncate", "keep"])
    .default("truncate")
    .describe("When the reduction stalls or hits maxRounds over the budget: keep the leading sentences that fit (truncate) or return it as is (keep)"),
};
const outputFields = {
  summary: mapReduceFields.summary,
  chunks: z.number().int().min(0).default(0).describe("How many chunks the text was split into"),
  rounds: mapReduceFields.rounds,
  levels: mapReduceFields.levels,
  levelTokens: mapReduceFields.levelTokens,
  summaryTokens: mapReduceFields.summaryTokens,
  finishReason: mapReduceFields.finishReason,
  truncated: mapReduceFields.truncated,
};

/** The input: checked whole (required fields too) by the facade, LangGraph and the server. */
export const SummarizationInput = inputSchema(inputFields);
export const SummarizationOutput = new StateSchema(outputFields);
export const SummarizationState = new StateSchema({ ...inputFields, ...mapReduceFields, chunks: outputFields.chunks });
export type SummarizationState = typeof SummarizationState.State;

/** What every map and reduce call gets besides its chunk or group. */
export interface SummaryContext {
  tokenBudget: number;
}

export const CHUNK_PROMPT =
  "Summarize this part of a longer document in a few sentences: who appears, what happens and what is argued, in the order of the text. Use only the text.";
export const REDUCE_PROMPT =
  "These are summaries of consecutive parts of one document, in order. Combine them into one brief summary of the whole that keeps the order of events. Use only the summaries.";
export const CONDENSE_PROMPT =
  "This summary of a document is too long. Shorten it into a brief summary that keeps the main events in order. Use only the summary.";

/**
 * Splits `state.text` with `RecursiveCharacterTextSplitter` (separators: blank
 * line, line end, space, character), after turning CRLF and CR line ends into
 * LF so that the paragraphs of a Windows text are found.
 * @returns the chunks in document order, each at most `chunkSize` characters.
 * @throws {InvalidInputError} naming `chunkOverlap` when it is not smaller than `chunkSize`.
 */
export async function splitText(state: Pick<SummarizationState, "text" | "chunkSize" | "chunkOverlap">): Promise<string[]> {
  if (state.chunkOverlap >= state.chunkSize) {
    throw new InvalidInputError("summarization", [{ path: "chunkOverlap", message: `must be smaller than chunkSize (${state.chunkSize}), got ${state.chunkOverlap}` }]);
  }
  const splitter = new RecursiveCharacterTextSplitter({ chunkSize: state.chunkSize, chunkOverlap: state.chunkOverlap });
  return splitter.splitText(state.text.replace(/\r\n?/g, "\n"));
}

/** Map worker: summarises one chunk (one model call, free text; at most 0.6 × tokenBudget words asked). */
export async function summarizeChunk(chunk: string, _index: number, context: SummaryContext, config: LangGraphRunnableConfig): Promise<string> {
  const words = Math.max(10, Math.floor(context.tokenBudget * 0.6));
  const answer = await getChatModel("default", config).invoke(`${CHUNK_PROMPT} At most ${words} words.\n\n${tagged("text", chunk)}`, config);
  return answer.text.trim();
}

/**
 * Reduce worker: one summary from a group of consecutive summaries; a group of
 * one (a summary over the group budget, or the last one over the final
 * budget) is condensed instead.
 */
export async function reduceSummaries(group: string[], _index: number, context: SummaryContext, config: LangGraphRunnableConfig): Promise<string> {
  const words = Math.max(10, Math.floor(context.tokenBudget * 0.6));
  const prompt = group.length === 1 ? CONDENSE_PROMPT : REDUCE_PROMPT;
  const answer = await getChatModel("default", config).invoke(
    `${prompt} At most ${words} words.\n\n${tagged("summaries", group.join("\n\n"))}`,
    config,
  );
  return answer.text.trim();
}

export const definition = defineWorkflow({
  name: "summarization",
  description: "Map-reduce: split a long text, summarise the chunks in parallel, reduce hierarchically until the summary fits a token budget",
  pattern: "map-reduce",
  input: SummarizationInput,
  builder: buildMapReduce<SummarizationState, SummaryContext>({
    state: SummarizationState,
    input: SummarizationInput,
    output: SummarizationOutput,
    split: (s) => splitText(s),
    context: (s) => ({ tokenBudget: s.tokenBudget }),
    map: { name: "summarize_chunk", run: summarizeChunk },
    reduce: { name: "reduce_summaries", run: reduceSummaries },
    tokenBudget: (s) => s.tokenBudget,
    groupTokenBudget: (s) => s.groupTokenBudget,
    maxConcurrency: (s) => s.maxConcurrency,
    maxRounds: (s) => s.maxRounds,
    overBudget: (s) => s.overBudget,
    finish: (s) => ({ chunks: s.chunkTexts.length }),
  }),
  example: {
    text: [
      "The Session object allows you to persist certain parameters across requests. It also persists cookies across all requests made from the Session instance, and will use urllib3's connection pooling.",
      "So if you're making several requests to the same host, the underlying TCP connection will be reused, which can result in a significant performance increase.",
      "",
      "Most requests to external servers should have a timeout attached, in case the server is not responding in a timely manner. By default, requests do not time out unless a timeout value is set explicitly.",
      "Without a timeout, your code may hang for minutes or more.",
    ].join("\n"),
    chunkSize: 300,
    chunkOverlap: 0,
    tokenBudget: 60,
    groupTokenBudget: 200,
  },
});

export const graph = definition.graph;

/** Why a run stopped (re-exported for callers reading `finishReason`). */
export { FinishReason };
