/**
 * llm-workflows: the LLM workflow patterns as LangGraph.js graphs.
 *
 * - the facade: {@link runWorkflow}, {@link streamWorkflow}, threads
 *   ({@link resumeWorkflow}, {@link forkThread}, ...), for any workflow: a
 *   name in a registry, a {@link WorkflowDefinition}, or your own compiled graph;
 * - the pattern builders (`build*`), to make workflows of your own;
 * - the model factory ({@link getChatModel}) and the offline model.
 *
 * The ready workflows are in `llm-workflows/workflows`; the offline and
 * simulated models for tests in `llm-workflows/testing`. Importing this entry
 * point compiles no graph.
 *
 * @module
 */
export {
  runWorkflow,
  streamWorkflow,
  resolveWorkflow,
  validateWorkflowInput,
  type RunOptions,
  type WorkflowEvent,
  type WorkflowTarget,
  type Durability,
  type PendingInterrupt,
} from "./facade.js";
export { createRegistry, defaultRegistry, type WorkflowRegistry, type WorkflowSummary } from "./registry.js";
export {
  defineWorkflow,
  workflowFromGraph,
  inputSchema,
  isCompiledGraph,
  CUSTOM_PATTERN,
  type WorkflowDefinition,
  type WorkflowSpec,
  type CompiledGraph,
  type UncompiledGraph,
} from "./workflow.js";
export * from "./runtime/errors.js";
export { openCheckpointer, DEFAULT_THREADS_FILE, type OpenCheckpointer } from "./runtime/checkpointer.js";
export { UsageTracker, type TokenUsage, type CallHandle } from "./runtime/usage.js";
export { DEFAULT_PRICES, PRICES_KEY, pricesFrom, priceOf, costOf, BudgetExceededError, type Price, type Budget } from "./runtime/cost.js";
export { LOGGER_KEY, loggerFrom, type Logger, type LogFields } from "./runtime/logger.js";
export { DEFAULT_RETRY_POLICY, isTransientError } from "./runtime/retry.js";
export { getChatModel, createChatModel } from "./models/factory.js";
export { resolveModelSettings, type ModelRole, type ModelSettings } from "./models/configuration.js";
export { OfflineChatModel } from "./models/offline/model.js";
export { invokeStructured } from "./models/structured.js";
export { ModelCallRecorder, ReplayMissError, type ReplayMode } from "./models/replay.js";
export { tagged, optionList } from "./models/prompting.js";
export { buildPromptChain, chainFields, type ChainStep, type ChainGate } from "./patterns/workflow/promptChain.js";
export { buildRouter, selectRoute, DEFAULT_CONFIDENCE_THRESHOLD, type RouteDecision } from "./patterns/workflow/router.js";
export { buildParallelMap, buildSectioning, buildVoting, keyedResults, tallyVotes, TooFewSuccessesError, type Tally } from "./patterns/workflow/parallel.js";
export { buildOrchestratorWorkers } from "./patterns/workflow/orchestratorWorkers.js";
export {
  buildEvaluatorOptimizer,
  evaluatorOptimizerFields,
  bestAttempt,
  DEFAULT_SCORE_THRESHOLD,
  DEFAULT_MAX_ITERATIONS,
} from "./patterns/workflow/evaluatorOptimizer.js";
export { indexedResults, orderedResults, FanOutIncompleteError, FanOutFailedError, DEFAULT_MAX_WORKER_TASKS, type WorkerFailure } from "./patterns/core/fanOut.js";
export { buildDag, checkDependencies, dagGenerations, dagLeaves, findCycle, type DagNode, type DagOptions } from "./patterns/composition/dag.js";
export {
  buildMapReduce,
  mapReduceFields,
  groupByTokens,
  truncateToTokens,
  FinishReason,
  DEFAULT_MAX_ROUNDS,
  MAX_ROUNDS_LIMIT,
  type MapReduceOptions,
  type MapReduceState,
} from "./patterns/composition/mapReduce.js";
export { Workflow, workflowStateFields, type Step, type WorkflowOptions } from "./patterns/composition/sequentialWorkflow.js";
export {
  addApprovalStep,
  approvalFields,
  ReviewDecision,
  Review,
  parseReviewDecision,
  reviewDecisionError,
  isApprovalRequest,
  pendingReview,
  onceForDecision,
  MAX_EDIT_CHARS,
  REQUEST_REVIEW_NODE,
  HUMAN_REVIEW_NODE,
  type ApprovalRequest,
  type ApprovalOptions,
} from "./patterns/state/approval.js";
export {
  listThreads,
  getThreadState,
  getThreadHistory,
  resumeThread,
  resumeWorkflow,
  forkThread,
  type ThreadSummary,
  type ThreadState,
  type CheckpointEntry,
  type ResumeOptions,
  type ForkThreadOptions,
  type ThreadWorkflowOptions,
} from "./threads.js";
export { onceForTask, MemoryLedger, SqliteLedger, PostgresLedger, type TaskLedger } from "./runtime/ledger.js";
export { retrieve, type KnowledgeDocument, type Passage } from "./runtime/retrieval.js";
export { createGraph, type NodeFn, type PolicyOptions, type BuiltGraph, type GraphSchemas } from "./patterns/core/graph.js";
export { checkNodeNames } from "./patterns/core/nodeNames.js";
export {
  appendList,
  branchFailure,
  branchFailureList,
  BranchFailure,
  type Fallback,
  type FallbackOptions,
  type OrchestrationOptions,
} from "./patterns/core/policies.js";
export {
  buildParameterChain,
  parameterChainGenerations,
  resolveParameters,
  findReferences,
  ParameterResolutionError,
  type ParameterStep,
  type ParameterChainOptions,
} from "./patterns/composition/parameterChain.js";
export { buildForkJoin, forkJoinFields, FORK_NODE, type ForkJoinOptions, type ForkJoinState } from "./patterns/composition/forkJoin.js";
export {
  buildScatterGather,
  scatterGatherFields,
  scatterGatherRetryPolicy,
  ScatterGatherFailedError,
  ResultNotAcceptedError,
  type ScatterGatherOptions,
  type ScatterGatherOutcome,
  type ScatterGatherState,
  type ScatterService,
} from "./patterns/composition/scatterGather.js";
export {
  buildIfThenElse,
  buildSwitchCase,
  buildGuard,
  guardFields,
  switchTarget,
  type IfThenElseOptions,
  type SwitchCaseOptions,
  type GuardOptions,
  type GuardedStep,
  type StepGuard,
  type GuardState,
} from "./patterns/control/conditional.js";
export {
  buildWhileLoop,
  buildForEach,
  buildPagination,
  whileLoopFields,
  forEachFields,
  paginationFields,
  whileLoopRecursionLimit,
  forEachRecursionLimit,
  paginationRecursionLimit,
  DEFAULT_LOOP_MAX_ITERATIONS,
  DEFAULT_MAX_PAGES,
  type WhileLoopOptions,
  type ForEachOptions,
  type PaginationOptions,
  type PaginationStopReason,
} from "./patterns/control/loops.js";
export {
  buildRetry,
  withRetry,
  retryNode,
  addPolicyNode,
  addHandledNode,
  errorHandlerNodeName,
  retryAfterMs,
  resolveRetryPolicy,
  realClock,
  RetryAfterTooLongError,
  DEFAULT_MAX_RETRY_AFTER_MS,
  NO_RETRY,
  type RetryOptions,
  type RetryNodeOptions,
  type RetryClock,
  type NodePolicyOptions,
} from "./patterns/resilience/retry.js";
export {
  buildTryCatch,
  tryCatchFields,
  caughtErrorSchema,
  describeError,
  addGuardedNode,
  UncaughtStepError,
  CatchHandlerError,
  type CaughtError,
  type TryCatchOptions,
} from "./patterns/resilience/tryCatch.js";
export {
  buildFallbackChain,
  fallbackFields,
  AllStrategiesFailedError,
  StrategyRejectedError,
  type FallbackStrategy,
  type FallbackChainOptions,
} from "./patterns/resilience/fallbackChain.js";
export {
  buildSaga,
  sagaFields,
  SagaCompensationError,
  SagaRolledBackError,
  type SagaStep,
  type SagaOptions,
  type SagaStatus,
} from "./patterns/resilience/saga.js";
export {
  buildStateMachine,
  stateMachineFields,
  nextState,
  InvalidTransitionError,
  MaxTransitionsError,
  DEFAULT_MAX_TRANSITIONS,
  type TransitionTable,
  type StateHandler,
  type StateMachineOptions,
} from "./patterns/control/stateMachine.js";
export {
  eventLog,
  stateAt,
  forkAt,
  resumeRun,
  NoCheckpointAtStepError,
  type EventEntry,
  type TaskWrites,
  type StateAt,
  type ForkOptions,
} from "./patterns/state/eventSourcing.js";
export {
  buildDynamicWorkflow,
  dynamicWorkflowFields,
  planStages,
  validatePlan,
  UnknownPlanStepError,
  InvalidPlanError,
  UndeclaredWriteError,
  DEFAULT_MAX_PLAN_LENGTH,
  type RegisteredStep,
  type Planner,
  type StepInfo,
} from "./patterns/composition/dynamicWorkflow.js";
export {
  buildPipeline,
  streamPipeline,
  mapItems,
  filterItems,
  PipelineStageError,
  type Transform,
  type PipelineChunk,
  type PipelineOptions,
} from "./patterns/composition/pipeline.js";
export {
  buildPubSub,
  pubSubFields,
  InvalidBusEventError,
  ANY_EVENT,
  type BusEvent,
  type Delivery,
  type PubSubReport,
  type PubSubOptions,
} from "./patterns/state/pubSub.js";
