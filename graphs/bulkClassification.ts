/**
 * bulkClassification: parallelization by item (*Lesson 05: Workflow Patterns* pattern 3, "bulk email
 * classification"). One classifier task per item through `Send`, all in one
 * superstep, results in input order, with an optional per-run concurrency
 * limit (`maxConcurrency`).
 */
import { StateSchema, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import { getChatModel } from "../src/models/factory.js";
import { optionList, tagged } from "../src/models/prompting.js";
import { invokeStructured } from "../src/models/structured.js";
import { indexedResults } from "../src/patterns/core/fanOut.js";
import { buildParallelMap } from "../src/patterns/workflow/parallel.js";
import { defineWorkflow, inputSchema } from "../src/workflow.js";

/** Labels when the input gives none (*Lesson 05: Workflow Patterns*'s email triage). */
export const DEFAULT_LABELS = ["urgent", "spam", "normal"];
/** Most items one run accepts. */
export const MAX_ITEMS = 100_000;

export const ItemResult = z.object({
  item: z.string().describe("The item as given"),
  label: z.string().nullable().describe("The chosen label; null when the item failed"),
  confidence: z.number().nullable().describe("The classifier's confidence, 0-1; null when the item failed"),
  error: z.string().optional().describe("Why the item failed (only with minSuccesses)"),
});
export type ItemResult = z.infer<typeof ItemResult>;

const inputFields = {
  items: z.array(z.string().max(100_000)).max(MAX_ITEMS).describe("The texts to classify"),
  labels: z
    .array(z.string().trim().min(1))
    .min(2)
    .default(DEFAULT_LABELS)
    .refine((l) => new Set(l).size === l.length, "labels must be distinct")
    .describe("The labels to choose from"),
  labelDescriptions: z.record(z.string(), z.string()).default({}).describe("Optional: what each label means"),
  maxConcurrency: z.number().int().min(1).optional().describe("At most this many classifications at once (default: all)"),
  minSuccesses: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe("Tolerate failed items (after retries) as long as this many succeed; the result is then marked partial (default: any failure fails the run)"),
};
const outputFields = {
  results: z.array(ItemResult).default(() => []).describe("One result per item, in input order"),
  partial: z.boolean().default(false).describe("Whether some items failed and are missing a label"),
  failures: z.array(z.object({ index: z.number(), item: z.string(), error: z.string() })).default(() => []).describe("The failed items, with their errors"),
};

/** The input: checked whole (required fields too) by the facade, LangGraph and the server. */
export const BulkInput = inputSchema(inputFields);
export const BulkOutput = new StateSchema(outputFields);
export const BulkState = new StateSchema({ ...inputFields, ...outputFields, classified: indexedResults(ItemResult) });
export type BulkState = typeof BulkState.State;

interface LabelContext {
  labels: string[];
  labelDescriptions: Record<string, string>;
}

/** The classification prompt for one item. */
export function classificationPrompt(item: string, context: LabelContext): string {
  const options = Object.fromEntries(context.labels.map((l) => [l, context.labelDescriptions[l] ?? ""]));
  return `Classify the text with exactly one of these labels:\n${optionList(options)}\nGive your confidence from 0 to 1.\n\n${tagged("text", item)}`;
}

/** Worker: classifies one item. */
export async function classifyItem(item: string, _index: number, context: LabelContext, config: LangGraphRunnableConfig): Promise<ItemResult> {
  const schema = z.object({
    label: z.enum(context.labels as [string, ...string[]]).describe("The label of the text"),
    confidence: z.number().min(0).max(1).describe("How sure the label is, from 0 to 1"),
  });
  const { label, confidence } = await invokeStructured(getChatModel("default", config), schema, "ItemLabel", classificationPrompt(item, context), config);
  return { item, label, confidence };
}

export const definition = defineWorkflow({
  name: "bulkClassification",
  description: "Parallelization: classify many items at once with Send, results in input order, optional concurrency limit",
  pattern: "parallelization (map)",
  input: BulkInput,
  builder: buildParallelMap<BulkState, string, LabelContext, ItemResult>({
    state: BulkState,
    input: BulkInput,
    output: BulkOutput,
    items: (s) => s.items,
    context: (s) => ({ labels: s.labels, labelDescriptions: s.labelDescriptions }),
    worker: { name: "classify_item", run: classifyItem },
    resultsKey: "classified",
    collect: (results, state, { failures, partial }) => ({
      results: results.map((r, i) => r ?? { item: state.items[i], label: null, confidence: null, error: failures.find((f) => f.index === i)?.error }),
      partial,
      failures: failures.map((f) => ({ index: f.index, item: state.items[f.index], error: f.error })),
    }),
    maxConcurrency: (s) => s.maxConcurrency,
    minSuccesses: (s) => s.minSuccesses,
  }),
  example: {
    items: [
      "URGENT: the production server is down and customers cannot log in",
      "Congratulations, you won a free cruise! Click here to claim your prize",
      "Minutes from Tuesday's team meeting are attached",
    ],
    labels: DEFAULT_LABELS,
    labelDescriptions: {
      urgent: "needs action now: outage, down, broken, deadline, asap, urgent",
      spam: "unsolicited offers: won, prize, free, click, claim, lottery",
      normal: "routine messages: meeting, minutes, update, schedule, attached",
    },
  },
});

export const graph = definition.graph;
