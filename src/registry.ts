/**
 * The workflow registry: name -> definition. The only module under `src/` that
 * imports `graphs/`.
 *
 * @module
 */
import { definition as bulkClassification } from "../graphs/bulkClassification.js";
import { definition as contentPipeline } from "../graphs/contentPipeline.js";
import { definition as iterativeRefinement } from "../graphs/iterativeRefinement.js";
import { definition as multiIntentSupport } from "../graphs/multiIntentSupport.js";
import { definition as researchAssistant } from "../graphs/researchAssistant.js";
import { definition as sectionedAnalysis } from "../graphs/sectionedAnalysis.js";
import { definition as supportRouting } from "../graphs/supportRouting.js";
import { definition as votingClassification } from "../graphs/votingClassification.js";
import { definition as feedbackAnalysis } from "../graphs/feedbackAnalysis.js";
import { definition as adaptiveQuestionAnswering } from "../graphs/adaptiveQuestionAnswering.js";
import { definition as documentExtraction } from "../graphs/documentExtraction.js";
import { definition as intelligentSupport } from "../graphs/intelligentSupport.js";
import { definition as researchReport } from "../graphs/researchReport.js";
import { definition as draftAndImprove } from "../graphs/draftAndImprove.js";
import { definition as knowledgeGraph } from "../graphs/knowledgeGraph.js";
import { definition as summarization } from "../graphs/summarization.js";
import { definition as faqGeneration } from "../graphs/faqGeneration.js";
import { definition as codeGeneration } from "../graphs/codeGeneration.js";
import { UnknownWorkflowError } from "./runtime/errors.js";
import type { WorkflowDefinition } from "./workflow.js";

/** Every registered workflow, by name. */
export const workflows = {
  contentPipeline,
  supportRouting,
  bulkClassification,
  sectionedAnalysis,
  votingClassification,
  researchAssistant,
  iterativeRefinement,
  multiIntentSupport,
  feedbackAnalysis,
  adaptiveQuestionAnswering,
  documentExtraction,
  intelligentSupport,
  researchReport,
  draftAndImprove,
  knowledgeGraph,
  summarization,
  faqGeneration,
  codeGeneration,
} as const satisfies Record<string, WorkflowDefinition<any>>;

/** A registered workflow's name. */
export type WorkflowName = keyof typeof workflows;

/** Names of every registered workflow, in registry order. */
export const workflowNames = Object.keys(workflows) as WorkflowName[];

/**
 * The definition registered as `name`.
 * @throws {UnknownWorkflowError} naming the workflows there are.
 */
export function getWorkflow(name: string): WorkflowDefinition<any> {
  if (!Object.hasOwn(workflows, name)) throw new UnknownWorkflowError(name, workflowNames);
  return workflows[name as WorkflowName];
}

/** Name, pattern and description of every workflow. */
export function listWorkflows(): Array<Pick<WorkflowDefinition, "name" | "pattern" | "description">> {
  return workflowNames.map((n) => ({ name: n, pattern: workflows[n].pattern, description: workflows[n].description }));
}
