/**
 * draftAndImprove: the source's `Workflow` framework (*Lesson 05: Workflow Patterns*, "The Workflow
 * Framework") in use: typed step functions run in order by `Workflow`, each
 * taking and returning the state, with `shouldContinue` ending the run early.
 * The steps are the source's usage example: write from the input, then improve
 * the result; the first step stops the run when it has nothing to write from.
 */
import { StateSchema, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import { getChatModel } from "../src/models/factory.js";
import { tagged } from "../src/models/prompting.js";
import { Workflow, workflowStateFields } from "../src/patterns/composition/sequentialWorkflow.js";
import { defineWorkflow, inputSchema } from "../src/workflow.js";

const inputFields = {
  input: z.string().trim().min(1).max(100_000).describe("What to write, with any notes to draw on"),
  notes: z.string().max(200_000).default("").describe("Material to write from (optional)"),
};
const outputFields = {
  result: z.string().default("").describe("The improved text"),
  draft: z.string().default("").describe("The first draft"),
  shouldContinue: workflowStateFields.shouldContinue,
  stopReason: workflowStateFields.stopReason,
  stoppedAfter: workflowStateFields.stoppedAfter,
};

/** The input: checked whole (required fields too) by the facade, LangGraph and the server. */
export const DraftInput = inputSchema(inputFields);
export const DraftOutput = new StateSchema(outputFields);
export const DraftState = new StateSchema({ ...inputFields, ...outputFields });
export type DraftState = typeof DraftState.State;

async function complete(prompt: string, config: LangGraphRunnableConfig): Promise<string> {
  const answer = await getChatModel("default", config).invoke(prompt, config);
  return answer.text.trim();
}

/** Step 1 (the source's `step1`): write from the input; nothing written ends the workflow. */
export async function write(state: DraftState, config: LangGraphRunnableConfig): Promise<DraftState> {
  const draft = await complete(["Write the text asked for.", tagged("task", state.input), state.notes ? tagged("notes", state.notes) : ""].join("\n\n"), config);
  return { ...state, draft, result: draft, shouldContinue: draft.length > 0 };
}

/** Step 2 (the source's `step2`): improve the result. */
export async function improve(state: DraftState, config: LangGraphRunnableConfig): Promise<DraftState> {
  const result = await complete(["Improve the text: clearer, tighter, same facts.", tagged("task", state.input), tagged("text", state.result)].join("\n\n"), config);
  return { ...state, result };
}

/** The workflow: `new Workflow(State, write, improve)`, as in the source. */
export const draftWorkflow = new Workflow<DraftState>(DraftState, { input: DraftInput, output: DraftOutput }, write, improve);

export const definition = defineWorkflow({
  name: "draftAndImprove",
  description: "The source's Workflow framework: typed steps (write, improve) run in order, shouldContinue ends the run early",
  pattern: "sequential workflow (Workflow class)",
  input: DraftInput,
  builder: draftWorkflow.builder,
  example: {
    input: "A short note on why HTTP clients should set timeouts",
    notes: "Without a timeout, a request can hang forever. Timeouts bound the connect and the read phases. One value can set both.",
  },
});

export const graph = definition.graph;
