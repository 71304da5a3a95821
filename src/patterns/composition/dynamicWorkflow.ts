/**
 * Dynamic workflow (the *Workflow Patterns Cheatsheet*, "Advanced Patterns / Dynamic Workflow"): the
 * steps are registered when the graph is built, and a planner you supply (a
 * rule, or a model call) picks at run time which of them run, in which order.
 *
 * ```
 * Input -> planner -> stage 1 (one or more steps, one superstep) -> stage 2 -> ... -> END
 * ```
 *
 * Every registered step is a node of the graph; the `planner` node calls the
 * planner, checks the plan against the registry (an unknown name is an
 * {@link UnknownPlanStepError} naming it and the registered steps) and groups
 * it into stages with {@link planStages}: a step that declares what it `reads`
 * and `writes` runs in the same superstep as the steps before it that it does
 * not depend on (independent steps never run one after another), a step that
 * declares nothing waits for every step before it. Keys with a reducer
 * (`ReducedValue` fields of your `StateSchema`) may be written by several
 * steps of one stage. Conditional edges then send
 * the state through the stages in order. A step writing a key it did not
 * declare fails with {@link UndeclaredWriteError}, so declarations can be
 * trusted for parallelism.
 *
 * State ({@link dynamicWorkflowFields}): `plan` (the planner's list),
 * `planStages` (the stages run), `planPosition` (stages done).
 *
 * @example
 * ```ts
 * const graph = buildDynamicWorkflow<State>({
 *   state: State,
 *   steps: {
 *     fetchProfile: { run: fetchProfile, reads: ["userId"], writes: ["profile"], description: "the user's profile" },
 *     fetchOrders: { run: fetchOrders, reads: ["userId"], writes: ["orders"], description: "the user's orders" },
 *     summarize: { run: summarize, reads: ["profile", "orders"], writes: ["summary"] },
 *   },
 *   // e.g. a model call that gets the step descriptions and returns names
 *   planner: (s, steps) => (s.detailed ? ["fetchProfile", "fetchOrders", "summarize"] : ["fetchProfile", "summarize"]),
 * }).compile();
 * // ["fetchProfile", "fetchOrders", "summarize"] runs as [[fetchProfile, fetchOrders], [summarize]]
 * ```
 * @module
 */
import { Command, END, ReducedValue, START, StateSchema, type LangGraphRunnableConfig, type RetryPolicy } from "@langchain/langgraph";
import { z } from "zod";
import { GraphDefinitionError, LlmWorkflowsError } from "../../runtime/errors.js";
import { checkNodeNames } from "../core/nodeNames.js";
import { createGraph, type BuiltGraph, type GraphSchemas, type Fallback, type NodeFn } from "../core/graph.js";
import { addHandledNode, addPolicyNode, type NodePolicyOptions } from "../resilience/retry.js";

/** Name of the node that calls the planner. */
export const PLAN_NODE = "planner";
/** Default longest plan (steps). A plan runs in at most this many stages plus the plan node: below LangGraph's default recursionLimit (25). */
export const DEFAULT_MAX_PLAN_LENGTH = 20;

/** State fields a dynamic workflow needs: spread them into your `StateSchema`. */
export const dynamicWorkflowFields = {
  plan: z.array(z.string()).default(() => []).describe("The steps the planner chose, in order"),
  planStages: z.array(z.array(z.string())).default(() => []).describe("The plan grouped into stages; the steps of a stage run in one superstep"),
  planPosition: new ReducedValue(z.number().int().default(0), {
    inputSchema: z.number().int(),
    // Every step of a stage writes the same value: keep the last.
    reducer: (_current: number, next: number) => next,
  }),
};

/** State a dynamic workflow reads: your fields plus {@link dynamicWorkflowFields}. */
export interface DynamicWorkflowState {
  plan: string[];
  planStages: string[][];
  planPosition: number;
}

/** A step the planner may choose. */
export interface RegisteredStep<S> {
  run: NodeFn<S>;
  /** What it does, for the planner (e.g. in a model prompt). */
  description?: string;
  /** State keys it reads. Declare both `reads` and `writes` to let it run alongside independent steps. */
  reads?: readonly string[];
  /** State keys it writes; writing any other key fails the step ({@link UndeclaredWriteError}). */
  writes?: readonly string[];
  /** This step's retry policy, instead of the workflow's; `false`: one attempt. */
  retryPolicy?: RetryPolicy | false;
  /** This step's per-attempt timeout in ms, instead of the workflow's. */
  timeoutMs?: number;
}

/** What the planner is told of a registered step. */
export interface StepInfo {
  name: string;
  description?: string;
  reads?: readonly string[];
  writes?: readonly string[];
}

/** Picks the steps to run, by name, in order (e.g. by asking a model with the step descriptions). */
export type Planner<S> = (state: S, steps: StepInfo[], config: LangGraphRunnableConfig) => Promise<readonly string[]> | readonly string[];

/** Options of {@link buildDynamicWorkflow}. */
export interface DynamicWorkflowOptions<S> extends GraphSchemas, NodePolicyOptions {
  /** Step name -> step (node names; `planner` is taken). */
  steps: Record<string, RegisteredStep<S>>;
  /** Runs in the `planner` node, with the workflow's retry policy and timeout. */
  planner: Planner<S>;
  /** Longest plan accepted (whole number >= 1). Default {@link DEFAULT_MAX_PLAN_LENGTH}. */
  maxPlanLength?: number;
  /**
   * What a step that still fails after its retries writes instead; the plan
   * then goes on with the next stage. Default: none, the error fails the run.
   * (The planner has none: a failed plan fails the run.)
   */
  fallback?: Fallback<S>;
}

/** The planner named a step that is not registered. */
export class UnknownPlanStepError extends LlmWorkflowsError {
  readonly step: string;
  readonly available: string[];

  constructor(step: string, available: string[]) {
    super("UNKNOWN_PLAN_STEP", `the plan names unknown step ${JSON.stringify(step)}; registered steps: ${available.join(", ")}`);
    this.step = step;
    this.available = available;
  }
}

/** The planner's answer is not a usable plan (not a list of names, or too long). */
export class InvalidPlanError extends LlmWorkflowsError {
  constructor(problem: string) {
    super("INVALID_PLAN", `invalid plan: ${problem}`);
  }
}

/** A step wrote state keys it did not declare in `writes`. */
export class UndeclaredWriteError extends LlmWorkflowsError {
  readonly step: string;
  readonly keys: string[];

  constructor(step: string, keys: string[], declared: readonly string[]) {
    super("UNDECLARED_WRITE", `step "${step}" wrote ${keys.join(", ")}, which it does not declare in writes (${declared.join(", ") || "none"})`);
    this.step = step;
    this.keys = keys;
  }
}

/**
 * Checks `plan` against the registry.
 * @throws {InvalidPlanError} when it is not an array of strings or is longer than `maxLength`.
 * @throws {UnknownPlanStepError} naming the first unknown step.
 */
export function validatePlan(plan: unknown, steps: Record<string, unknown>, maxLength = DEFAULT_MAX_PLAN_LENGTH): string[] {
  if (!Array.isArray(plan) || plan.some((s) => typeof s !== "string")) throw new InvalidPlanError(`expected an array of step names, got ${JSON.stringify(plan)}`);
  if (plan.length > maxLength) throw new InvalidPlanError(`${plan.length} steps, more than maxPlanLength ${maxLength}`);
  const available = Object.keys(steps);
  for (const step of plan) if (!Object.hasOwn(steps, step)) throw new UnknownPlanStepError(step, available);
  return [...plan];
}

/**
 * Groups a valid plan into stages, keeping the plan's meaning: step k goes in
 * a later stage than every earlier step i it depends on — i writes a key k
 * reads, or a key k writes too (unless the key is in `reducedKeys`: a channel
 * with a reducer takes concurrent writes), i is the same step, or either of
 * them declares no `reads`/`writes` — and in no earlier stage than an earlier
 * step that reads a key k writes. Steps of one stage run in one superstep;
 * stages keep the plan's order within them.
 */
export function planStages(
  plan: readonly string[],
  steps: Record<string, Pick<RegisteredStep<unknown>, "reads" | "writes">>,
  reducedKeys: ReadonlySet<string> = new Set(),
): string[][] {
  const stage: number[] = [];
  const overlaps = (a: readonly string[] | undefined, b: readonly string[] | undefined) => Boolean(a && b && a.some((k) => b.includes(k)));
  const bothWrite = (a: readonly string[] | undefined, b: readonly string[] | undefined) => Boolean(a && b && a.some((k) => b.includes(k) && !reducedKeys.has(k)));
  plan.forEach((name, k) => {
    const me = steps[name];
    const declared = Boolean(me.reads && me.writes);
    let s = 0;
    for (let i = 0; i < k; i++) {
      const other = steps[plan[i]];
      const otherDeclared = Boolean(other.reads && other.writes);
      const dependsOn = !declared || !otherDeclared || plan[i] === name || overlaps(other.writes, me.reads) || bothWrite(other.writes, me.writes);
      if (dependsOn) s = Math.max(s, stage[i] + 1);
      else if (overlaps(me.writes, other.reads)) s = Math.max(s, stage[i]);
    }
    stage.push(s);
  });
  const stages: string[][] = [];
  plan.forEach((name, k) => (stages[stage[k]] ??= []).push(name));
  return stages;
}

/** Keys of `state` whose channel has a reducer (a `ReducedValue` field): several steps may write them at once. */
export function reducedKeysOf(state: unknown): Set<string> {
  if (!StateSchema.isInstance(state)) return new Set();
  return new Set(Object.entries(state.fields).filter(([, field]) => ReducedValue.isInstance(field)).map(([key]) => key));
}

/**
 * Builds a dynamic workflow (see the module doc). Your state must include
 * {@link dynamicWorkflowFields}.
 *
 * @throws {GraphDefinitionError} with no steps, on a reserved name (`planner`),
 *   or with `maxPlanLength` not a whole number >= 1.
 * @throws {UnknownPlanStepError} / {InvalidPlanError} at run time for a bad plan.
 * @throws {UndeclaredWriteError} at run time when a step writes an undeclared key (unless `fallback` replaces it).
 */
export function buildDynamicWorkflow<S extends DynamicWorkflowState>(options: DynamicWorkflowOptions<S>): BuiltGraph {
  const names = Object.keys(options.steps);
  if (names.length === 0) throw new GraphDefinitionError("buildDynamicWorkflow", "needs at least one registered step");
  checkNodeNames("buildDynamicWorkflow", [PLAN_NODE, ...names]);
  const maxLength = options.maxPlanLength ?? DEFAULT_MAX_PLAN_LENGTH;
  if (!Number.isInteger(maxLength) || maxLength < 1) throw new GraphDefinitionError("buildDynamicWorkflow", `maxPlanLength must be a whole number >= 1, got ${maxLength}`);
  const infos: StepInfo[] = names.map((name) => {
    const { description, reads, writes } = options.steps[name];
    return { name, ...(description ? { description } : {}), ...(reads ? { reads } : {}), ...(writes ? { writes } : {}) };
  });
  const reduced = reducedKeysOf(options.state);
  const graph: any = createGraph(options, options);
  const route = (s: S) => s.planStages[s.planPosition] ?? END;
  const targets = [...names, END];

  addPolicyNode(graph, PLAN_NODE, async (state: S, config: LangGraphRunnableConfig) => {
    const plan = validatePlan(await options.planner(state, infos, config), options.steps, maxLength);
    return { plan, planStages: planStages(plan, options.steps, reduced), planPosition: 0 };
  }, options);
  graph.addEdge(START, PLAN_NODE);
  graph.addConditionalEdges(PLAN_NODE, route, targets);

  for (const name of names) {
    const step = options.steps[name];
    const policy = {
      ...options,
      ...(step.retryPolicy !== undefined ? { retryPolicy: step.retryPolicy } : {}),
      ...(step.timeoutMs !== undefined ? { timeoutMs: step.timeoutMs } : {}),
    };
    const run = async (state: S, config: LangGraphRunnableConfig) => {
      const update = ((await step.run(state, config)) ?? {}) as Record<string, unknown>;
      if (step.writes) {
        const extra = Object.keys(update).filter((k) => !step.writes!.includes(k));
        if (extra.length) throw new UndeclaredWriteError(name, extra, step.writes);
      }
      return { ...update, planPosition: state.planPosition + 1 };
    };
    const fallback = options.fallback;
    if (!fallback) addPolicyNode(graph, name, run, policy);
    else {
      addHandledNode(
        graph,
        name,
        run,
        policy,
        async (state: S, error, node) => {
          const update = (await fallback(error, state, node)) ?? {};
          const position = state.planPosition + 1;
          return new Command({ update: { ...update, planPosition: position }, goto: state.planStages[position] ?? END });
        },
        targets,
      );
    }
    graph.addConditionalEdges(name, route, targets);
  }
  return graph;
}
