/**
 * `llm-workflows/workflows`: the 18 ready workflows, their registry, and the
 * application code they use (the support desk, the Python test runner).
 * Importing this module registers every ready workflow in the facade's
 * `defaultRegistry`, so `runWorkflow("supportRouting", ...)` finds it.
 *
 * @example
 * ```ts
 * import { runWorkflow } from "llm-workflows";
 * import { supportRouting } from "llm-workflows/workflows";
 * const out = await runWorkflow(supportRouting, { query: "I was charged twice" });
 * ```
 * @module
 */
import { defaultRegistry, createRegistry } from "../src/registry.js";
import type { WorkflowDefinition } from "../src/workflow.js";
import { definition as bulkClassification } from "./bulkClassification.js";
import { definition as contentPipeline } from "./contentPipeline.js";
import { definition as iterativeRefinement } from "./iterativeRefinement.js";
import { definition as multiIntentSupport } from "./multiIntentSupport.js";
import { definition as researchAssistant } from "./researchAssistant.js";
import { definition as sectionedAnalysis } from "./sectionedAnalysis.js";
import { definition as supportRouting } from "./supportRouting.js";
import { definition as votingClassification } from "./votingClassification.js";
import { definition as feedbackAnalysis } from "./feedbackAnalysis.js";
import { definition as adaptiveQuestionAnswering } from "./adaptiveQuestionAnswering.js";
import { definition as documentExtraction } from "./documentExtraction.js";
import { definition as intelligentSupport } from "./intelligentSupport.js";
import { definition as researchReport } from "./researchReport.js";
import { definition as draftAndImprove } from "./draftAndImprove.js";
import { definition as knowledgeGraph } from "./knowledgeGraph.js";
import { definition as summarization } from "./summarization.js";
import { definition as faqGeneration } from "./faqGeneration.js";
import { definition as codeGeneration } from "./codeGeneration.js";

/** Every ready workflow, by name, in the order `llm-workflows list` prints them. */
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

/** A ready workflow's name. */
export type WorkflowName = keyof typeof workflows;

/** Names of the ready workflows, in registry order (a frozen array). */
export const workflowNames: readonly WorkflowName[] = Object.freeze(Object.keys(workflows) as WorkflowName[]);

/** A registry of the ready workflows only (not affected by what an application adds to `defaultRegistry`). */
export const readyWorkflows = createRegistry(workflows);

/**
 * The ready workflow `name`.
 * @throws {UnknownWorkflowError} naming the workflows there are.
 */
export function getWorkflow(name: string): WorkflowDefinition<any> {
  return readyWorkflows.get(name);
}

defaultRegistry.register(...Object.values(workflows));

export {
  bulkClassification,
  contentPipeline,
  iterativeRefinement,
  multiIntentSupport,
  researchAssistant,
  sectionedAnalysis,
  supportRouting,
  votingClassification,
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
};
export { InMemorySupportDesk, DerivedIdSupportDesk, DEMO_SUPPORT_DESK, SUPPORT_DESK_KEY, supportDeskFrom, type SupportDesk, type SupportDeskConfigurable } from "./lib/supportDesk.js";
export {
  runPythonTests,
  PythonUnavailableError,
  DEFAULT_PYTHON_TIMEOUT_MS,
  type PythonRunOptions,
  type PythonTestResult,
  type PythonTestFailure,
  type PythonFailureKind,
} from "./lib/python.js";
