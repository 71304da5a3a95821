/**
 * sectionedAnalysis: parallelization by section (Anthropic's "sectioning";
 * *Lesson 05: Workflow Patterns*: "multiple independent analyses"). Three analyses of one text run
 * in the same superstep (sentiment, key points, requested actions), then an
 * aggregator writes one report from them.
 */
import { StateSchema, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import { getChatModel } from "../src/models/factory.js";
import { optionList, tagged } from "../src/models/prompting.js";
import { invokeStructured } from "../src/models/structured.js";
import { buildSectioning, keyedResults } from "../src/patterns/workflow/parallel.js";
import { defineWorkflow, inputSchema } from "../src/workflow.js";

export const SENTIMENTS = {
  positive: "praise, satisfaction: good, great, excellent, love, works well, happy, recommend",
  negative: "complaints, problems: bad, poor, broken, fails, disappointed, waste, angry, refund",
  neutral: "neither: questions, facts, requests without judgement",
};

export const SentimentSection = z.object({
  sentiment: z.enum(["positive", "negative", "neutral"]).describe("The overall sentiment"),
  confidence: z.number().min(0).max(1).describe("How sure, from 0 to 1"),
});
export const KeyPointsSection = z.object({
  points: z.array(z.string()).min(1).max(5).describe("The main points the text makes"),
});
export const ActionsSection = z.object({
  actions: z.array(z.string()).max(5).describe("What the writer asks for or needs done"),
});

const sectionValue = z.union([SentimentSection, KeyPointsSection, ActionsSection]);

const inputFields = {
  text: z.string().trim().min(1).max(200_000).describe("The text to analyse"),
};
const outputFields = {
  sections: keyedResults(sectionValue),
  report: z.string().default("").describe("The aggregator's report"),
};

/** The input: checked whole (required fields too) by the facade, LangGraph and the server. */
export const AnalysisInput = inputSchema(inputFields);
export const AnalysisOutput = new StateSchema(outputFields);
export const AnalysisState = new StateSchema({ ...inputFields, ...outputFields });
export type AnalysisState = typeof AnalysisState.State;

function structured<S extends z.ZodObject>(schema: S, name: string, instruction: string) {
  return (state: AnalysisState, config: LangGraphRunnableConfig) =>
    invokeStructured(getChatModel("default", config), schema, name, `${instruction}\n\n${tagged("text", state.text)}`, config);
}

export const analyseSentiment = structured(
  SentimentSection,
  "Sentiment",
  `Classify the overall sentiment of the text as one of:\n${optionList(SENTIMENTS)}\nGive your confidence from 0 to 1.`,
);
export const extractKeyPoints = structured(KeyPointsSection, "KeyPoints", "List the main points the text makes, at most five.");
export const extractActions = structured(ActionsSection, "Actions", "List what the writer asks for or needs done, at most five; none if nothing.");

/** The sections as readable text for the aggregator's prompt. */
export function formatSections(sections: AnalysisState["sections"]): string {
  const sentiment = sections.sentiment as z.infer<typeof SentimentSection> | undefined;
  const points = (sections.key_points as z.infer<typeof KeyPointsSection> | undefined)?.points ?? [];
  const actions = (sections.actions as z.infer<typeof ActionsSection> | undefined)?.actions ?? [];
  return [
    sentiment ? `Sentiment: ${sentiment.sentiment} (confidence ${sentiment.confidence}).` : "Sentiment: unknown.",
    `Main points: ${points.length ? points.join(" ") : "none."}`,
    `Requested actions: ${actions.length ? actions.join(" ") : "none."}`,
  ].join("\n");
}

/** Aggregator: one report from the three sections. */
export async function writeReport(state: AnalysisState, config: LangGraphRunnableConfig) {
  const answer = await getChatModel("default", config).invoke(
    [
      "Write a short report on the text from the analyses below: its sentiment, its main points and the actions it asks for.",
      tagged("text", state.text),
      tagged("analyses", formatSections(state.sections)),
    ].join("\n\n"),
    config,
  );
  return { report: answer.text };
}

export const definition = defineWorkflow({
  name: "sectionedAnalysis",
  description: "Parallelization (sectioning): sentiment, key points and actions of one text in one superstep, then an aggregated report",
  pattern: "parallelization (sectioning)",
  input: AnalysisInput,
  builder: buildSectioning<AnalysisState, z.infer<typeof sectionValue>>({
    state: AnalysisState,
    input: AnalysisInput,
    output: AnalysisOutput,
    sections: { sentiment: analyseSentiment, key_points: extractKeyPoints, actions: extractActions },
    sectionsKey: "sections",
    aggregator: { name: "write_report", run: writeReport },
  }),
  example: {
    text: "I ordered the headset two weeks ago and it still has not arrived. The tracking page has not changed since Monday. Please tell me where my order is or refund me. The earlier model I bought was excellent, so I am disappointed.",
  },
});

export const graph = definition.graph;
