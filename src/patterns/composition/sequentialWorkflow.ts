/**
 * The source's `Workflow` framework (*Lesson 05: Workflow Patterns*, "The Workflow Framework"): a typed
 * sequential runner of user step functions with a `shouldContinue` early exit,
 * here built on a LangGraph `StateGraph` (through {@link buildPromptChain}), so
 * that user steps get checkpointing, streaming, interrupts and Studio for free.
 *
 * As in the source, `shouldContinue` is checked before every step, the first
 * included; a step stops the run by returning `shouldContinue: false`.
 *
 * @example
 * ```ts
 * const State = new StateSchema({ input: z.string(), result: z.string().default(""), ...workflowStateFields });
 * type S = typeof State.State;
 * async function step1(s: S) { return { ...s, result: await llm(s.input) }; }
 * async function step2(s: S) { return { ...s, result: await llm(`Improve: ${s.result}`) }; }
 * const workflow = new Workflow<S>(State, step1, step2);
 * const out = await workflow.run({ input: "Write a haiku" });
 * ```
 * @module
 */
import type { BaseCheckpointSaver, LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import { GraphDefinitionError } from "../../runtime/errors.js";
import { buildPromptChain, chainFields, type ChainState } from "../workflow/promptChain.js";
import type { AnyStateSchema, BuiltGraph, GraphSchemas, PolicyOptions } from "../core/graph.js";

/** State fields every `Workflow` state has: spread them into your `StateSchema`. */
export const workflowStateFields = {
  shouldContinue: z.boolean().default(true).describe("Set to false by a step to end the workflow after it"),
  ...chainFields,
};

/** State a `Workflow` reads: your fields plus {@link workflowStateFields}. */
export interface WorkflowState extends ChainState {
  shouldContinue: boolean;
}

/**
 * One step: takes the state, returns the new state (whole, as in the source, or
 * only the fields it changed). Reducer channels get whatever a step returns,
 * so a step that returns the whole state should not be used with them.
 */
export type Step<S> = (state: S, config: LangGraphRunnableConfig) => Promise<Partial<S>> | Partial<S>;

const NAME = /^[A-Za-z_][\w-]*$/;

/** Node names for steps: the function's name when usable and unique, else `step_N`. */
export function stepNames(steps: readonly Step<unknown>[]): string[] {
  const seen = new Set<string>();
  return steps.map((step, i) => {
    const name = step.name && NAME.test(step.name) && !seen.has(step.name) && !step.name.startsWith("__") ? step.name : `step_${i + 1}`;
    seen.add(name);
    return name;
  });
}

/** Options of a {@link Workflow}: node policies and the input/output schemas Studio shows. */
export type WorkflowOptions = PolicyOptions & Pick<GraphSchemas, "input" | "output">;

/** A sequential workflow of steps with a `shouldContinue` early exit (see the module doc). */
export class Workflow<S extends WorkflowState> {
  /** The uncompiled graph: one node per step. */
  readonly builder: BuiltGraph;
  /** Node names of the steps, in order. */
  readonly stepNames: string[];

  /**
   * @param state - The state schema (with {@link workflowStateFields}).
   * @param steps - The steps, in order (at least one).
   * @throws {GraphDefinitionError} with no steps, or when a step's name clashes with a state field.
   */
  constructor(state: AnyStateSchema, ...steps: Step<S>[]);
  constructor(state: AnyStateSchema, options: WorkflowOptions, ...steps: Step<S>[]);
  constructor(state: AnyStateSchema, ...rest: Array<Step<S> | WorkflowOptions>) {
    const options = typeof rest[0] === "function" ? {} : (rest.shift() as WorkflowOptions);
    const steps = rest as Step<S>[];
    if (steps.length === 0) throw new GraphDefinitionError("Workflow", "needs at least one step");
    this.stepNames = stepNames(steps as Step<unknown>[]);
    const fields = Object.keys((state as { fields: Record<string, unknown> }).fields);
    const clash = this.stepNames.find((n) => fields.includes(n));
    if (clash) throw new GraphDefinitionError("Workflow", `step "${clash}" has the name of a state field; rename the function`);
    this.builder = buildPromptChain<S>({
      state,
      ...options,
      steps: steps.map((run, i) => ({ name: this.stepNames[i], run })),
      entryGate: (s) => s.shouldContinue !== false,
      gate: (s, step) => (s.shouldContinue === false ? `shouldContinue is false after ${step}` : undefined),
    });
  }

  /** Compiles the graph, with a checkpointer for durable threads. */
  compile(options: { checkpointer?: BaseCheckpointSaver; name?: string } = {}) {
    return this.builder.compile(options as any);
  }

  /**
   * Runs the steps from `initial` and returns the final state.
   * @param options - `checkpointer` and `threadId` for a durable run; `config` for the rest of the run config.
   */
  async run(
    initial: Partial<S>,
    options: { checkpointer?: BaseCheckpointSaver; threadId?: string; config?: LangGraphRunnableConfig } = {},
  ): Promise<S> {
    const graph = this.compile({ checkpointer: options.checkpointer });
    const configurable = { ...(options.config?.configurable ?? {}), ...(options.threadId ? { thread_id: options.threadId } : {}) };
    return (await graph.invoke(initial as any, { ...options.config, configurable })) as S;
  }
}
