/**
 * Conditional patterns (the *Workflow Patterns Cheatsheet*, "Conditional Patterns"): if-then-else,
 * switch-case with a default branch, and guards that end the run with a
 * reason when a precondition does not hold.
 *
 * ```
 * ifThenElse:  START -(condition)-> then | else -> END
 * switchCase:  START -(select)-> case 1 | case 2 | ... | default -> END
 * guard:       START -> guard_A -(ok)-> A -> guard_B -(ok)-> B -> END
 *                         \-(reason)-> END     \-(reason)-> END
 * ```
 *
 * The branches are your node functions (or compiled subgraphs whose state
 * shares keys with this graph's). The decisions are plain functions of the
 * state evaluated on LangGraph conditional edges; a guard is a node of its
 * own so that it can write why it stopped the run (`stopReason`,
 * `stoppedBefore`, see {@link guardFields}).
 *
 * **Policies.** `retryPolicy` (default {@link DEFAULT_RETRY_POLICY}) and
 * `timeoutMs` (default none) apply to every branch and step. `fallback`
 * (default none): a branch or step that still fails writes the fallback's
 * update instead, and the run goes on where it would have gone (after a
 * branch: END; after a guarded step: the next guard, step or END).
 *
 * @module
 */
import { END, START, type LangGraphRunnableConfig } from "@langchain/langgraph";
import type { Runnable } from "@langchain/core/runnables";
import { z } from "zod";
import { GraphDefinitionError } from "../../runtime/errors.js";
import { createGraph, type BuiltGraph, type NodeFn } from "../core/graph.js";
import { checkNames, requireStateFields, TO_END, workNodeOptions, type OrchestrationOptions } from "../core/policies.js";

/** A branch: a node name and its function (or a compiled subgraph). */
export interface ConditionalBranch<S> {
  name: string;
  run: NodeFn<S> | Runnable;
}

// ------------------------------------------------------------------ if-then-else

/** Options of {@link buildIfThenElse}. */
export interface IfThenElseOptions<S> extends OrchestrationOptions<S> {
  /** Decides the branch: true runs `then`, false runs `else`. */
  condition: (state: S, config: LangGraphRunnableConfig) => boolean;
  /** Runs when `condition` is true. */
  then: ConditionalBranch<S>;
  /** Runs when `condition` is false. Default: none (false ends the run). */
  else?: ConditionalBranch<S>;
}

/**
 * Builds an if-then-else: `START -(condition)-> then | else -> END`.
 *
 * @example
 * ```ts
 * const graph = buildIfThenElse<typeof State.State>({
 *   state: State,
 *   condition: (s) => s.stock >= s.quantity,            // inventory check
 *   then: { name: "place_order", run: placeOrder },
 *   else: { name: "notify_out_of_stock", run: notify },
 * }).compile();
 * ```
 * @returns the uncompiled `StateGraph`.
 * @throws {GraphDefinitionError} when the two branches share a name, or a name is reserved or a state field.
 */
export function buildIfThenElse<S>(options: IfThenElseOptions<S>): BuiltGraph {
  const BUILDER = "buildIfThenElse";
  const branches = [options.then, ...(options.else ? [options.else] : [])];
  checkNames(BUILDER, branches.map((b) => b.name), options);
  const graph: any = createGraph(options, options);
  for (const branch of branches) {
    graph.addNode(branch.name, branch.run, workNodeOptions(options, TO_END));
    graph.addEdge(branch.name, END);
  }
  const otherwise = options.else?.name ?? END;
  graph.addConditionalEdges(
    START,
    (state: S, config: LangGraphRunnableConfig) => (options.condition(state, config) ? options.then.name : otherwise),
    [options.then.name, otherwise],
  );
  return graph;
}

// ------------------------------------------------------------------ switch-case

/** Options of {@link buildSwitchCase}. */
export interface SwitchCaseOptions<S> extends OrchestrationOptions<S> {
  /** The value to switch on (e.g. a status or a type). Null or undefined takes the default branch. */
  select: (state: S, config: LangGraphRunnableConfig) => string | number | null | undefined;
  /** Branch name (its node's name) -> function or compiled subgraph. */
  branches: Record<string, NodeFn<S> | Runnable>;
  /**
   * Value -> branch name, for values that are not branch names, or several
   * values sharing a branch. Default: none, each branch is chosen by its own
   * name. With `cases`, only the values listed (and the default) choose.
   */
  cases?: Record<string, string>;
  /** The branch for every other value: the name of one of `branches`. Required. */
  default: string;
}

/** The branch `value` chooses in a switch (see {@link SwitchCaseOptions}). */
export function switchTarget(value: string | number | null | undefined, branches: readonly string[], cases: Record<string, string> | undefined, fallbackBranch: string): string {
  if (value === null || value === undefined) return fallbackBranch;
  const key = String(value);
  if (cases) return Object.hasOwn(cases, key) ? cases[key] : fallbackBranch;
  return branches.includes(key) ? key : fallbackBranch;
}

/**
 * Builds a switch-case: `START -(select)-> the chosen branch -> END`; a value
 * that chooses no branch goes to the default.
 *
 * @example
 * ```ts
 * const graph = buildSwitchCase<typeof State.State>({
 *   state: State,
 *   select: (s) => s.ticket.priority,                      // "p1" | "p2" | "p3" | ...
 *   branches: { page_on_call: pageOnCall, open_ticket: openTicket, backlog: addToBacklog },
 *   cases: { p1: "page_on_call", p2: "open_ticket" },
 *   default: "backlog",
 * }).compile();
 * ```
 * @returns the uncompiled `StateGraph`.
 * @throws {GraphDefinitionError} without branches, without a default, when the
 *   default or a case names no branch, when `cases` leave a branch that nothing
 *   chooses, or on a reserved node name.
 */
export function buildSwitchCase<S>(options: SwitchCaseOptions<S>): BuiltGraph {
  const BUILDER = "buildSwitchCase";
  const names = Object.keys(options.branches ?? {});
  if (names.length === 0) throw new GraphDefinitionError(BUILDER, "needs at least one branch");
  if (options.default === undefined || options.default === null) {
    throw new GraphDefinitionError(BUILDER, `a switch needs a default branch (one of: ${names.join(", ")})`);
  }
  if (!names.includes(options.default)) {
    throw new GraphDefinitionError(BUILDER, `the default "${options.default}" is not a branch (branches: ${names.join(", ")})`);
  }
  if (options.cases) {
    for (const [value, target] of Object.entries(options.cases)) {
      if (!names.includes(target)) {
        throw new GraphDefinitionError(BUILDER, `case ${JSON.stringify(value)} goes to "${target}", which is not a branch (branches: ${names.join(", ")})`);
      }
    }
    const chosen = new Set([...Object.values(options.cases), options.default]);
    const unreachable = names.filter((n) => !chosen.has(n));
    if (unreachable.length) throw new GraphDefinitionError(BUILDER, `no case chooses branch ${unreachable.map((n) => `"${n}"`).join(", ")}`);
  }
  checkNames(BUILDER, names, options);
  const graph: any = createGraph(options, options);
  for (const [name, run] of Object.entries(options.branches)) {
    graph.addNode(name, run, workNodeOptions(options, TO_END));
    graph.addEdge(name, END);
  }
  graph.addConditionalEdges(
    START,
    (state: S, config: LangGraphRunnableConfig) => switchTarget(options.select(state, config), names, options.cases, options.default),
    names,
  );
  return graph;
}

// ------------------------------------------------------------------ guard

/** State fields a guarded workflow writes: spread them into your `StateSchema`. */
export const guardFields = {
  stopReason: z.string().nullable().default(null).describe("Why a guard ended the run; null when every step ran"),
  stoppedBefore: z.string().nullable().default(null).describe("The step whose guard ended the run; null when every step ran"),
};

/** State a guarded workflow writes. */
export interface GuardState {
  stopReason: string | null;
  stoppedBefore: string | null;
}

/**
 * A precondition of a step: returns why the step may not run (which ends the
 * run with that reason), or nothing (null, undefined, false) to run it.
 */
export type StepGuard<S> = (state: S, config: LangGraphRunnableConfig) => string | null | undefined | false;

/** One step of a guarded workflow. */
export interface GuardedStep<S> extends ConditionalBranch<S> {
  /** The step's precondition, checked just before it. Default: none, the step always runs. */
  guard?: StepGuard<S>;
}

/** Options of {@link buildGuard}. */
export interface GuardOptions<S> extends OrchestrationOptions<S> {
  /** The steps, in order. */
  steps: GuardedStep<S>[];
}

/** Name of the node checking `step`'s guard. */
export function guardNodeName(step: string): string {
  return `guard_${step}`;
}

/**
 * Builds a guarded workflow: the steps in order, each guarded step preceded by
 * a node `guard_<step>` that either lets it run (and clears `stopReason`) or
 * ends the run, writing `stopReason` (the guard's reason) and `stoppedBefore`
 * (the step). Nothing after a failed guard runs.
 *
 * @example
 * ```ts
 * const State = new StateSchema({ user: User, order: Order, receipt: z.string().default(""), ...guardFields });
 * const graph = buildGuard<typeof State.State>({
 *   state: State,
 *   steps: [
 *     { name: "charge", run: charge, guard: (s) => (s.user.canPay ? null : "the user may not pay") },
 *     { name: "ship", run: ship, guard: (s) => (s.order.address ? null : "no shipping address") },
 *   ],
 * }).compile();
 * ```
 * @returns the uncompiled `StateGraph`.
 * @throws {GraphDefinitionError} without steps, on a duplicate or reserved node
 *   name (`guard_<step>` included), or when a step has a guard and the state
 *   lacks {@link guardFields}.
 */
export function buildGuard<S>(options: GuardOptions<S>): BuiltGraph {
  const BUILDER = "buildGuard";
  const { steps } = options;
  const guarded = steps.filter((s) => s.guard);
  checkNames(BUILDER, [...steps.map((s) => s.name), ...guarded.map((s) => guardNodeName(s.name))], options);
  if (guarded.length) requireStateFields(BUILDER, options, Object.keys(guardFields), "spread guardFields into your StateSchema");
  const entry = (step: GuardedStep<S> | undefined) => (!step ? TO_END : step.guard ? guardNodeName(step.name) : step.name);
  const graph: any = createGraph(options, options);
  steps.forEach((step, i) => {
    const next = entry(steps[i + 1]);
    graph.addNode(step.name, step.run, workNodeOptions(options, next));
    graph.addEdge(step.name, next);
    if (step.guard) {
      const guard = step.guard;
      const node = guardNodeName(step.name);
      graph.addNode(node, (state: S, config: LangGraphRunnableConfig) => {
        const reason = guard(state, config);
        return reason ? { stopReason: reason, stoppedBefore: step.name } : { stopReason: null, stoppedBefore: null };
      });
      graph.addConditionalEdges(node, (state: GuardState) => (state.stopReason ? END : step.name), [step.name, END]);
    }
  });
  graph.addEdge(START, entry(steps[0]));
  return graph;
}
