/**
 * researchAssistant: orchestrator-workers (*Lesson 05: Workflow Patterns* pattern 4). The
 * orchestrator breaks the task into subtasks with structured output (how many
 * is decided at run time), `Send` fans out one worker per subtask, a reducer
 * gathers the findings, and a synthesizer writes the answer.
 */
import { StateSchema, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import { getChatModel } from "../src/models/factory.js";
import { tagged } from "../src/models/prompting.js";
import { invokeStructured } from "../src/models/structured.js";
import { indexedResults } from "../src/patterns/core/fanOut.js";
import { buildOrchestratorWorkers } from "../src/patterns/workflow/orchestratorWorkers.js";
import { defineWorkflow, inputSchema } from "../src/workflow.js";

/** Most subtasks the orchestrator may plan unless the input says otherwise (*Lesson 05: Workflow Patterns* asks for 3). */
export const DEFAULT_MAX_SUBTASKS = 3;
/** Highest `maxSubtasks` a run may ask for. */
export const MAX_SUBTASKS_LIMIT = 10;

export const Finding = z.object({
  subtask: z.string().describe("The subtask the worker did"),
  finding: z.string().describe("What the worker found"),
});
export type Finding = z.infer<typeof Finding>;

const inputFields = {
  task: z.string().trim().min(1).max(5_000).describe("The research task"),
  sources: z.string().max(500_000).default("").describe("Source text the workers may draw on (optional)"),
  maxSubtasks: z.number().int().min(1).max(MAX_SUBTASKS_LIMIT).default(DEFAULT_MAX_SUBTASKS).describe("Most subtasks to plan"),
};
const outputFields = {
  subtasks: z.array(z.string()).default(() => []).describe("The orchestrator's plan"),
  findings: z.array(Finding).default(() => []).describe("The workers' findings, in plan order"),
  synthesis: z.string().default("").describe("The synthesizer's answer"),
};

/** The input: checked whole (required fields too) by the facade, LangGraph and the server. */
export const ResearchInput = inputSchema(inputFields);
export const ResearchOutput = new StateSchema(outputFields);
export const ResearchState = new StateSchema({ ...inputFields, ...outputFields, workerResults: indexedResults(Finding) });
export type ResearchState = typeof ResearchState.State;

export const PLAN_PROMPT = "Break the research task into independent subtasks, one per distinct question it asks, at most";

/** Orchestrator: plans the subtasks. */
export async function planSubtasks(state: ResearchState, config: LangGraphRunnableConfig) {
  const Plan = z.object({
    subtasks: z.array(z.string().min(1)).min(1).max(state.maxSubtasks).describe("The subtasks, each a self-contained instruction"),
  });
  const plan = await invokeStructured(
    getChatModel("default", config),
    Plan,
    "TaskPlan",
    `${PLAN_PROMPT} ${state.maxSubtasks}.\n\n${tagged("task", state.task)}`,
    config,
  );
  return { subtasks: plan.subtasks, findings: [], synthesis: "" };
}

/** Worker: does one subtask. */
export async function researchSubtask(subtask: string, _index: number, context: { task: string; sources: string }, config: LangGraphRunnableConfig): Promise<Finding> {
  const answer = await getChatModel("default", config).invoke(
    [
      "Complete this subtask of the research task. Use the sources when given and say what they do not cover.",
      tagged("subtask", subtask),
      tagged("task", context.task),
      context.sources ? tagged("sources", context.sources) : "",
    ].join("\n\n"),
    config,
  );
  return { subtask, finding: answer.text };
}

/** Synthesizer: one answer from the findings, in plan order. */
export async function synthesizeFindings(state: ResearchState, findings: Finding[], config: LangGraphRunnableConfig) {
  const combined = findings.map((f, i) => `${i + 1}. ${f.subtask}\n${f.finding}`).join("\n\n");
  const answer = await getChatModel("default", config).invoke(
    ["Synthesize the findings into one answer to the task.", tagged("task", state.task), tagged("findings", combined)].join("\n\n"),
    config,
  );
  return { findings, synthesis: answer.text };
}

export const definition = defineWorkflow({
  name: "researchAssistant",
  description: "Orchestrator-workers: plan subtasks at run time, one worker each via Send, then synthesize",
  pattern: "orchestrator-workers",
  input: ResearchInput,
  builder: buildOrchestratorWorkers<ResearchState, string, { task: string; sources: string }, Finding>({
    state: ResearchState,
    input: ResearchInput,
    output: ResearchOutput,
    orchestrator: { name: "plan_subtasks", run: planSubtasks },
    subtasks: (s) => s.subtasks,
    context: (s) => ({ task: s.task, sources: s.sources }),
    worker: { name: "research_subtask", run: researchSubtask },
    resultsKey: "workerResults",
    synthesizer: { name: "synthesize", run: synthesizeFindings },
  }),
  example: {
    task: "Explain how the requests library handles sessions, authentication and timeouts",
    sources:
      "A Session object persists cookies and parameters across requests. It uses connection pooling, so requests to the same host reuse the TCP connection. Basic authentication is passed with the auth argument, as a tuple of user and password. Custom authentication classes subclass AuthBase. Timeouts are set per request with the timeout argument, in seconds. Without a timeout a request can hang indefinitely.",
  },
});

export const graph = definition.graph;
