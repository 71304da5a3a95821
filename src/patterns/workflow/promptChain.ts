/**
 * Prompt chaining (*Lesson 05: Workflow Patterns*, pattern 1): steps run one after another, each
 * reading what the earlier ones wrote, with a programmatic gate after each step
 * that can end the chain early with a reason (the sources' `should_continue`).
 *
 * ```
 * START -> step1 -(gate)-> step2 -(gate)-> ... -> stepN -> END
 *                    \-> END (stopReason)
 * ```
 *
 * @example
 * ```ts
 * const State = new StateSchema({ topic: z.string(), outline: z.string().default(""), ...chainFields });
 * const graph = buildPromptChain({
 *   state: State,
 *   steps: [{ name: "outline", run: makeOutline }, { name: "draft", run: writeDraft }],
 *   gate: (s, step) => (step === "outline" && !s.outline ? "empty outline" : undefined),
 * }).compile();
 * ```
 * @module
 */
import { END, START } from "@langchain/langgraph";
import { z } from "zod";
import { GraphDefinitionError } from "../../runtime/errors.js";
import { createGraph, nodeOptions, type BuiltGraph, type GraphSchemas, type NodeFn, type PolicyOptions, type FallbackOptions } from "../core/graph.js";
import { checkNodeNames } from "../core/nodeNames.js";

/** State fields a chain needs: spread them into your `StateSchema`. */
export const chainFields = {
  stopReason: z.string().nullable().default(null).describe("Why the gate ended the chain early; null when every step ran"),
  stoppedAfter: z.string().nullable().default(null).describe("The step after which the gate ended the chain; null when every step ran"),
};

/** State a chain reads: your fields plus {@link chainFields}. */
export interface ChainState {
  stopReason: string | null;
  stoppedAfter: string | null;
}

/** One step of a chain: a node name and its function. */
export interface ChainStep<S> {
  name: string;
  run: NodeFn<S>;
}

/**
 * Checks the state after `step` (with the step's update applied) and returns a
 * reason to stop, or nothing to go on.
 */
export type ChainGate<S> = (state: S, step: string) => string | undefined | null;

/** Options of {@link buildPromptChain}. */
export interface PromptChainOptions<S> extends GraphSchemas, PolicyOptions, FallbackOptions<S> {
  steps: ChainStep<S>[];
  gate?: ChainGate<S>;
  /**
   * Whether to run the first step at all (the source's `Workflow.run` checks
   * `should_continue` before every step, the first included). False routes
   * straight to END; no step runs and nothing is written.
   */
  entryGate?: (state: S) => boolean;
}

/**
 * Builds a prompt chain (see the module doc).
 * @throws {GraphDefinitionError} when there are no steps or two share a name.
 */
export function buildPromptChain<S extends ChainState>(options: PromptChainOptions<S>): BuiltGraph {
  const { steps, gate } = options;
  checkNodeNames("buildPromptChain", steps.map((s) => s.name));
  const graph: any = createGraph(options, { ...options, nodeFallback: options.fallback });
  steps.forEach((step, i) => {
    const isLast = i === steps.length - 1;
    graph.addNode(step.name, async (state: S, config: any) => {
      const update = (await step.run(state, config)) ?? {};
      const reason = gate && !isLast ? gate({ ...state, ...update }, step.name) : undefined;
      return reason
        ? { ...update, stopReason: reason, stoppedAfter: step.name }
        : { ...update, stopReason: null, stoppedAfter: null };
    }, nodeOptions(options));
  });
  if (options.entryGate) {
    const entryGate = options.entryGate;
    graph.addConditionalEdges(START, (s: S) => (entryGate(s) ? steps[0].name : END), [steps[0].name, END]);
  } else graph.addEdge(START, steps[0].name);
  steps.forEach((step, i) => {
    const next = steps[i + 1];
    if (!next) graph.addEdge(step.name, END);
    else if (!gate) graph.addEdge(step.name, next.name);
    else graph.addConditionalEdges(step.name, (s: S) => (s.stopReason ? END : next.name), [next.name, END]);
  });
  return graph;
}
