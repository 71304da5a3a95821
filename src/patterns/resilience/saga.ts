/**
 * Saga (the *Workflow Patterns Cheatsheet*, "Error Handling Patterns / Saga Pattern"): steps run in
 * order, each with a compensation that undoes it; when a step fails (after its
 * retries, timeouts included), the steps that completed are compensated in
 * reverse order.
 *
 * ```
 * START -> A -> B -> C -> END                        (all completed)
 *               (C fails) -> compensate_B -> compensate_A -> END | saga_failed
 * ```
 *
 * Durable by construction:
 *
 * - each compensation is its own node, so each is checkpointed: a process that
 *   dies during the rollback resumes the rollback (`graph.invoke(null, config)`
 *   on the thread) at the compensation it was running, not from the start;
 * - each compensation runs through `onceForTask` (the task ledger beside the
 *   checkpointer), so a compensation that had finished when the process died
 *   is not done again on resume: its stored result is used.
 *
 * A compensation that fails (after its retries) is never swallowed: it is
 * recorded, the rollback goes on with the remaining compensations (or stops,
 * with `onCompensationError: "stop"`), and the run ends in the `saga_failed`
 * node, which throws {@link SagaCompensationError} naming the step's error and
 * every compensation error. A rollback whose compensations all succeeded ends
 * the run normally with `sagaStatus: "rolled_back"` and the failure in state
 * (the source's `{"success": False, "error": ...}`), or throws
 * {@link SagaRolledBackError} with `throwOnRollback: true`.
 *
 * State ({@link sagaFields}): `sagaStatus`, `sagaCompleted`,
 * `sagaCompensated`, `sagaFailure`, `sagaCompensationFailures`.
 *
 * Steps run one after another: a later step may need an earlier one's result,
 * and the rollback order is the completion order. Independent sub-steps belong
 * inside one step (a `forkJoin` or sectioning subgraph as its `run`) with one
 * compensation undoing whatever of them completed.
 *
 * @example
 * ```ts
 * const State = new StateSchema({ order: z.string(), reservation: z.string().default(""), chargeId: z.string().default(""), ...sagaFields });
 * const graph = buildSaga<typeof State.State>({
 *   state: State,
 *   steps: [
 *     { name: "reserve", run: reserveStock, compensate: (s) => releaseStock(s.reservation) },
 *     { name: "charge", run: chargeCard, compensate: (s) => refund(s.chargeId) },
 *     { name: "ship", run: createShipment },
 *   ],
 * }).compile({ checkpointer });
 * ```
 * @module
 */
import { Command, END, START, type LangGraphRunnableConfig, type RetryPolicy } from "@langchain/langgraph";
import { z } from "zod";
import { GraphDefinitionError, LlmWorkflowsError } from "../../runtime/errors.js";
import { onceForTask } from "../../runtime/ledger.js";
import { checkNodeNames } from "../core/nodeNames.js";
import { createGraph, type BuiltGraph, type GraphSchemas, type NodeFn } from "../core/graph.js";
import type { NodePolicyOptions } from "./retry.js";
import { addGuardedNode, caughtErrorSchema, formatCaught, type CaughtError } from "./tryCatch.js";

/** Where a saga is. */
export const SagaStatus = z.enum(["running", "completed", "compensating", "rolled_back", "rollback_failed"]);
/** Where a saga is (see {@link sagaFields}). */
export type SagaStatus = z.infer<typeof SagaStatus>;

/** State fields a saga needs: spread them into your `StateSchema`. */
export const sagaFields = {
  sagaStatus: SagaStatus.nullable().default(null).describe(
    "running, completed (every step), compensating, rolled_back (every completed step compensated) or rollback_failed (a compensation failed); null before the first step",
  ),
  sagaCompleted: z.array(z.string()).default(() => []).describe("Steps that completed, in order"),
  sagaCompensated: z.array(z.string()).default(() => []).describe("Steps whose compensation completed, in the order run (reverse of completion)"),
  sagaFailure: caughtErrorSchema.nullable().default(null).describe("The step error that started the rollback; null when no step failed"),
  sagaCompensationFailures: z.array(caughtErrorSchema).default(() => []).describe("Compensations that failed (never swallowed)"),
};

/** State a saga reads: your fields plus {@link sagaFields}. */
export interface SagaState {
  sagaStatus: SagaStatus | null;
  sagaCompleted: string[];
  sagaCompensated: string[];
  sagaFailure: CaughtError | null;
  sagaCompensationFailures: CaughtError[];
}

/** Undoes a completed step; may return a state update. Its result must be JSON (it is stored in the task ledger). */
export type Compensation<S> = (state: S, config: LangGraphRunnableConfig) => Promise<Partial<S> | void> | Partial<S> | void;

/** One step of a saga. */
export interface SagaStep<S> {
  /** Node name of the step; its compensation's node is `compensate_<name>`. */
  name: string;
  run: NodeFn<S>;
  /** Undoes the step once it completed. Omit for a step with nothing to undo (a read). */
  compensate?: Compensation<S>;
  /** This step's retry policy, instead of the saga's; `false`: one attempt. */
  retryPolicy?: RetryPolicy | false;
  /** This step's per-attempt timeout in ms, instead of the saga's. */
  timeoutMs?: number;
}

/** Options of {@link buildSaga}. */
export interface SagaOptions<S> extends GraphSchemas, NodePolicyOptions {
  /** Steps in order (at least one). Compensations use the saga's `retryPolicy` and `timeoutMs`. */
  steps: SagaStep<S>[];
  /** After a failed compensation: `"continue"` (default) with the remaining ones, or `"stop"` the rollback. */
  onCompensationError?: "continue" | "stop";
  /** Throw {@link SagaRolledBackError} after a clean rollback instead of ending normally. Default false. */
  throwOnRollback?: boolean;
}

/** Name of the node that ends a failed rollback (and, with `throwOnRollback`, a clean one) by throwing. */
export const SAGA_FAILED_NODE = "saga_failed";

/** Node name of `step`'s compensation. */
export function compensationNodeName(step: string): string {
  return `compensate_${step}`;
}

/** A saga step failed and its completed steps were all compensated (thrown only with `throwOnRollback`). */
export class SagaRolledBackError extends LlmWorkflowsError {
  readonly failure: CaughtError;
  readonly compensated: string[];

  constructor(failure: CaughtError, compensated: string[]) {
    super("SAGA_ROLLED_BACK", `saga step ${formatCaught(failure)}; rolled back: ${compensated.length ? compensated.join(", ") : "(nothing to compensate)"}`);
    this.failure = failure;
    this.compensated = compensated;
  }
}

/** A saga step failed and at least one compensation failed too: both kinds of error are named. */
export class SagaCompensationError extends LlmWorkflowsError {
  /** The step error that started the rollback. */
  readonly failure: CaughtError | null;
  /** Every compensation that failed, in the order run. */
  readonly compensationFailures: CaughtError[];
  /** Compensations that succeeded. */
  readonly compensated: string[];

  constructor(failure: CaughtError | null, compensationFailures: CaughtError[], compensated: string[]) {
    super(
      "SAGA_COMPENSATION_FAILED",
      `saga step ${failure ? formatCaught(failure) : "(unknown)"}; then ${compensationFailures.length} compensation(s) failed: ${compensationFailures.map(formatCaught).join("; ")}; compensated: ${compensated.join(", ") || "none"}`,
    );
    this.failure = failure;
    this.compensationFailures = compensationFailures;
    this.compensated = compensated;
  }
}

/**
 * Builds a saga (see the module doc). Your state must include {@link sagaFields}.
 *
 * @throws {GraphDefinitionError} with no steps, or on a duplicate or reserved
 *   node name (`saga_failed` and `compensate_<step>` are taken).
 * @throws {SagaCompensationError} at run time when a compensation failed.
 * @throws {SagaRolledBackError} at run time after a clean rollback, with `throwOnRollback`.
 */
export function buildSaga<S extends SagaState>(options: SagaOptions<S>): BuiltGraph {
  const { steps } = options;
  if (steps.length === 0) throw new GraphDefinitionError("buildSaga", "needs at least one step");
  const compensable = steps.filter((s) => s.compensate);
  checkNodeNames("buildSaga", [...steps.map((s) => s.name), ...compensable.map((s) => compensationNodeName(s.name)), SAGA_FAILED_NODE]);
  const onCompensationError = options.onCompensationError ?? "continue";
  if (onCompensationError !== "continue" && onCompensationError !== "stop") {
    throw new GraphDefinitionError("buildSaga", `onCompensationError must be "continue" or "stop", got ${JSON.stringify(onCompensationError)}`);
  }
  const graph: any = createGraph(options, options);
  const afterCleanRollback = options.throwOnRollback ? SAGA_FAILED_NODE : END;

  /** The compensation node to run after step `index` failed or was compensated: the nearest earlier step with one. */
  const compensationBefore = (index: number): string | undefined => {
    for (let j = index - 1; j >= 0; j--) if (steps[j].compensate) return compensationNodeName(steps[j].name);
    return undefined;
  };

  steps.forEach((step, i) => {
    const isLast = i === steps.length - 1;
    const rollbackStart = compensationBefore(i);
    const policy = {
      ...options,
      ...(step.retryPolicy !== undefined ? { retryPolicy: step.retryPolicy } : {}),
      ...(step.timeoutMs !== undefined ? { timeoutMs: step.timeoutMs } : {}),
    };
    addGuardedNode(
      graph,
      step.name,
      async (state: S, config: LangGraphRunnableConfig) => {
        const update = (await step.run(state, config)) ?? {};
        const saga: Partial<SagaState> =
          i === 0
            ? { sagaCompleted: [step.name], sagaCompensated: [], sagaFailure: null, sagaCompensationFailures: [] }
            : { sagaCompleted: [...state.sagaCompleted, step.name] };
        return { ...update, ...saga, sagaStatus: isLast ? "completed" : "running" };
      },
      policy,
      (state: S, error) =>
        new Command({
          update: {
            sagaFailure: error,
            sagaCompleted: i === 0 ? [] : state.sagaCompleted,
            sagaCompensated: [],
            sagaCompensationFailures: [],
            sagaStatus: rollbackStart ? "compensating" : "rolled_back",
          },
          goto: rollbackStart ?? afterCleanRollback,
        }),
      [rollbackStart ?? afterCleanRollback],
    );
    graph.addEdge(step.name, isLast ? END : steps[i + 1].name);
  });
  graph.addEdge(START, steps[0].name);

  steps.forEach((step, i) => {
    if (!step.compensate) return;
    const compensate = step.compensate;
    const node = compensationNodeName(step.name);
    const next = compensationBefore(i);
    const isLast = next === undefined;
    const finalStatus = (failures: CaughtError[]): SagaStatus => (failures.length ? "rollback_failed" : "rolled_back");
    addGuardedNode(
      graph,
      node,
      async (state: S, config: LangGraphRunnableConfig) => {
        // Exactly once per task: a re-run after a crash gets the stored result instead of compensating again.
        const update = await onceForTask(config, `saga:${node}`, async () => ((await compensate(state, config)) ?? {}) as Record<string, unknown>);
        return {
          ...update,
          sagaCompensated: [...state.sagaCompensated, step.name],
          sagaStatus: isLast ? finalStatus(state.sagaCompensationFailures) : "compensating",
        };
      },
      options,
      (state: S, error) => {
        const failures = [...state.sagaCompensationFailures, error];
        const stop = onCompensationError === "stop" || isLast;
        return new Command({
          update: { sagaCompensationFailures: failures, sagaStatus: stop ? "rollback_failed" : "compensating" },
          goto: stop ? SAGA_FAILED_NODE : next,
        });
      },
      onCompensationError === "stop" || isLast ? [SAGA_FAILED_NODE] : [next!],
    );
    if (next) graph.addEdge(node, next);
    else {
      graph.addConditionalEdges(
        node,
        (s: S) => (s.sagaCompensationFailures.length ? SAGA_FAILED_NODE : afterCleanRollback),
        [...new Set([SAGA_FAILED_NODE, afterCleanRollback])],
      );
    }
  });

  graph.addNode(
    SAGA_FAILED_NODE,
    (state: S) => {
      if (state.sagaCompensationFailures.length) {
        throw new SagaCompensationError(state.sagaFailure, state.sagaCompensationFailures, state.sagaCompensated);
      }
      throw new SagaRolledBackError(state.sagaFailure as CaughtError, state.sagaCompensated);
    },
    { retryPolicy: { maxAttempts: 1 } },
  );
  return graph;
}
