/**
 * contentPipeline: prompt chaining (*Lesson 05: Workflow Patterns*, pattern 1). A content pipeline
 * outline -> draft -> polish, with a gate after each step that ends the chain
 * early, with a reason, when a step's output is too thin to build on.
 */
import { StateSchema, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import { getChatModel } from "../src/models/factory.js";
import { tagged } from "../src/models/prompting.js";
import { sentences, surfaceWords } from "../src/runtime/text.js";
import { buildPromptChain, chainFields } from "../src/patterns/workflow/promptChain.js";
import { defineWorkflow, inputSchema } from "../src/workflow.js";

/** Fewest outline points worth drafting from. */
export const MIN_OUTLINE_POINTS = 2;
/** Fewest words of a draft worth polishing. */
export const MIN_DRAFT_WORDS = 25;

const inputFields = {
  topic: z.string().trim().min(1).max(500).describe("What the piece is about"),
  sources: z.string().max(200_000).default("").describe("Notes or source text to write from (optional)"),
};
const outputFields = {
  outline: z.string().default("").describe("Step 1: the outline"),
  draft: z.string().default("").describe("Step 2: the draft written from the outline"),
  final: z.string().default("").describe("Step 3: the polished text; empty when the chain stopped early"),
  ...chainFields,
};

/** The input: checked whole (required fields too) by the facade, LangGraph and the server. */
export const ContentInput = inputSchema(inputFields);
export const ContentOutput = new StateSchema(outputFields);
export const ContentState = new StateSchema({ ...inputFields, ...outputFields });
export type ContentState = typeof ContentState.State;

export const OUTLINE_PROMPT =
  "Create an outline for a short article on the topic, one point per line, drawing on the sources when given.";
export const DRAFT_PROMPT = "Write a draft of the article based on the outline, in plain paragraphs.";
export const POLISH_PROMPT = "Edit the draft for clarity: keep it concise, remove repetition, keep every fact.";

async function complete(prompt: string, config: LangGraphRunnableConfig): Promise<string> {
  const answer = await getChatModel("default", config).invoke(prompt, config);
  return answer.text.trim();
}

/** Step 1: the outline. */
export async function createOutline(state: ContentState, config: LangGraphRunnableConfig) {
  const outline = await complete(
    [OUTLINE_PROMPT, tagged("topic", state.topic), state.sources ? tagged("sources", state.sources) : ""].join("\n\n"),
    config,
  );
  return { outline };
}

/** Step 2: the draft. */
export async function writeDraft(state: ContentState, config: LangGraphRunnableConfig) {
  const draft = await complete(
    [DRAFT_PROMPT, tagged("topic", state.topic), tagged("outline", state.outline), state.sources ? tagged("sources", state.sources) : ""].join("\n\n"),
    config,
  );
  return { draft };
}

/** Step 3: the polished text. */
export async function polishContent(state: ContentState, config: LangGraphRunnableConfig) {
  const final = await complete([POLISH_PROMPT, tagged("topic", state.topic), tagged("draft", state.draft)].join("\n\n"), config);
  return { final };
}

/** The gate (the sources' `should_continue`): a reason to stop after `step`, or undefined. */
export function contentGate(state: ContentState, step: string): string | undefined {
  if (step === "create_outline") {
    const points = sentences(state.outline).length;
    if (points < MIN_OUTLINE_POINTS) return `the outline has ${points} point(s); at least ${MIN_OUTLINE_POINTS} are needed to write a draft`;
  }
  if (step === "write_draft") {
    const words = surfaceWords(state.draft).length;
    if (words < MIN_DRAFT_WORDS) return `the draft has ${words} word(s); at least ${MIN_DRAFT_WORDS} are needed to polish it`;
  }
  return undefined;
}

export const definition = defineWorkflow({
  name: "contentPipeline",
  description: "Prompt chaining: outline -> draft -> polish, with a gate that can stop the chain early",
  pattern: "prompt chaining",
  input: ContentInput,
  builder: buildPromptChain<ContentState>({
    state: ContentState,
    input: ContentInput,
    output: ContentOutput,
    steps: [
      { name: "create_outline", run: createOutline },
      { name: "write_draft", run: writeDraft },
      { name: "polish_content", run: polishContent },
    ],
    gate: contentGate,
  }),
  example: {
    topic: "Sessions in the Python requests library",
    sources:
      "The Session object allows you to persist certain parameters across requests. It also persists cookies across all requests made from the Session instance. A Session uses urllib3's connection pooling, so repeated requests to the same host reuse the underlying TCP connection. Sessions can provide default data to the request methods. Sessions can also be used as context managers, which closes the session when the block exits.",
  },
});

export const graph = definition.graph;
