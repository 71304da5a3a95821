/**
 * votingClassification: parallelization by voting (a prompt ensemble; *LLM Workflow Patterns*
 * refs 10-13). Several voters label the same text, each with a differently
 * worded prompt, in one superstep; the majority label wins and the vote counts
 * are kept.
 */
import { StateSchema, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import { getChatModel } from "../src/models/factory.js";
import { optionList, tagged } from "../src/models/prompting.js";
import { invokeStructured } from "../src/models/structured.js";
import { indexedResults } from "../src/patterns/core/fanOut.js";
import { buildVoting } from "../src/patterns/workflow/parallel.js";
import { defineWorkflow, inputSchema } from "../src/workflow.js";

/** Votes taken when the input does not say (odd, so two labels cannot tie). */
export const DEFAULT_VOTERS = 3;
/** Most votes one run may take. */
export const MAX_VOTERS = 15;

/** The prompt wordings; voter i uses wording i modulo their number. */
export const VOTER_PROMPTS = [
  "Classify the text with exactly one of these labels:",
  "Read the text as a careful reviewer would, then pick the single best label:",
  "Which one of these labels describes the text best? Consider the whole text, not one phrase:",
];

const inputFields = {
  text: z.string().trim().min(1).max(100_000).describe("The text to label"),
  labels: z
    .array(z.string().trim().min(1))
    .min(2)
    .refine((l) => new Set(l).size === l.length, "labels must be distinct")
    .describe("The labels to choose from"),
  labelDescriptions: z.record(z.string(), z.string()).default({}).describe("Optional: what each label means"),
  voters: z.number().int().min(1).max(MAX_VOTERS).default(DEFAULT_VOTERS).describe("How many votes to take"),
};
const outputFields = {
  votes: z.array(z.string()).default(() => []).describe("Each voter's label, in voter order"),
  counts: z.record(z.string(), z.number()).default({}).describe("Votes per label"),
  winner: z.string().nullable().default(null).describe("The majority label (on a tie, the one voted first)"),
  agreement: z.number().default(0).describe("Share of votes the winner got, 0-1"),
  tie: z.boolean().default(false).describe("Whether another label had as many votes"),
};

/** The input: checked whole (required fields too) by the facade, LangGraph and the server. */
export const VotingInput = inputSchema(inputFields);
export const VotingOutput = new StateSchema(outputFields);
export const VotingState = new StateSchema({ ...inputFields, ...outputFields, ballots: indexedResults(z.string()) });
export type VotingState = typeof VotingState.State;

type VoterContext = Pick<VotingState, "text" | "labels" | "labelDescriptions">;

/** Voter `i`: one label for the text, with prompt wording `i`. */
export async function castVote(voter: number, context: VoterContext, config: LangGraphRunnableConfig): Promise<string> {
  const schema = z.object({ label: z.enum(context.labels as [string, ...string[]]).describe("The label of the text") });
  const options = Object.fromEntries(context.labels.map((l) => [l, context.labelDescriptions[l] ?? ""]));
  const prompt = `${VOTER_PROMPTS[voter % VOTER_PROMPTS.length]}\n${optionList(options)}\n\n${tagged("text", context.text)}`;
  const { label } = await invokeStructured(getChatModel("default", config), schema, "Vote", prompt, config);
  return label;
}

export const definition = defineWorkflow({
  name: "votingClassification",
  description: "Parallelization (voting): several differently prompted votes on one label, majority wins, counts kept",
  pattern: "parallelization (voting)",
  input: VotingInput,
  builder: buildVoting<VotingState, VoterContext>({
    state: VotingState,
    input: VotingInput,
    output: VotingOutput,
    voters: (s) => s.voters,
    context: (s) => ({ text: s.text, labels: s.labels, labelDescriptions: s.labelDescriptions }),
    voter: { name: "cast_vote", run: castVote },
    votesKey: "ballots",
    collect: (tally, votes) => ({ votes, counts: tally.counts, winner: tally.winner, agreement: tally.agreement, tie: tally.tie }),
  }),
  example: {
    text: "The battery died after two days and support never answered my emails.",
    labels: ["positive", "negative"],
    labelDescriptions: {
      positive: "praise: good, great, excellent, works, love, recommend",
      negative: "complaint: bad, broken, died, failed, never, poor, disappointed",
    },
    voters: 3,
  },
});

export const graph = definition.graph;
