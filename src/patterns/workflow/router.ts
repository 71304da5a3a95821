/**
 * Routing (*Lesson 05: Workflow Patterns* and *LLM Workflow Patterns*): a classifier node writes a decision, a
 * conditional edge sends the state to the handler for that route, and an
 * explicit fallback handles a decision that names no known route or whose
 * confidence is below the threshold.
 *
 * ```
 * START -> classify -> routeA | routeB | ... | fallback -> END
 * ```
 *
 * @example
 * ```ts
 * const graph = buildRouter({
 *   state: State,
 *   classifier: { name: "classify", run: classify },          // writes { category, confidence }
 *   decision: (s) => ({ route: s.category, confidence: s.confidence }),
 *   routes: { billing: handleBilling, technical: handleTechnical },
 *   fallback: { name: "fallback", run: (s, config, reason) => ({ response: "...", fallbackReason: reason }) },
 * }).compile();
 * ```
 * @module
 */
import { END, START, type LangGraphRunnableConfig } from "@langchain/langgraph";
import type { Runnable } from "@langchain/core/runnables";
import { GraphDefinitionError } from "../../runtime/errors.js";
import { checkNodeNames } from "../core/nodeNames.js";
import { createGraph, nodeOptions, type BuiltGraph, type GraphSchemas, type NodeFn, type PolicyOptions, type Fallback } from "../core/graph.js";

/**
 * Confidence below which a decision goes to the fallback route. *Advanced Workflows* treats
 * confidence under 0.7 as uncertain and escalates it.
 */
export const DEFAULT_CONFIDENCE_THRESHOLD = 0.7;

/** What the classifier decided. `confidence` is in [0, 1]; absent means certain. */
export interface RouteDecision {
  route: string | null | undefined;
  confidence?: number | null;
}

/** Where a decision goes, and for the fallback, why. */
export interface RouteTarget {
  target: string;
  /** Set when the target is the fallback. */
  reason?: string;
}

/**
 * Picks the target for `decision`: its route when known and confident enough,
 * else the fallback with the reason.
 */
export function selectRoute(
  decision: RouteDecision | undefined,
  routes: readonly string[],
  fallback: string,
  threshold: number,
): RouteTarget {
  if (!decision || !decision.route) return { target: fallback, reason: "the classifier returned no route" };
  if (!routes.includes(decision.route)) {
    return { target: fallback, reason: `the classifier returned an unknown route ${JSON.stringify(decision.route)}` };
  }
  const confidence = decision.confidence;
  if (confidence !== undefined && confidence !== null && !(confidence >= threshold)) {
    return { target: fallback, reason: `confidence ${confidence} is below the threshold ${threshold}` };
  }
  return { target: decision.route };
}

/** Options of {@link buildRouter}. */
export interface RouterOptions<S> extends GraphSchemas, PolicyOptions {
  /**
   * What a node writes instead of failing once its retries are spent (the
   * builders' `fallback` option; here `fallback` is the fallback route).
   * Default: none.
   */
  nodeFallback?: Fallback<S>;
  /** The classifier node; it writes the fields `decision` reads. */
  classifier: { name: string; run: NodeFn<S> };
  /** Reads the classifier's decision from the state. */
  decision: (state: S) => RouteDecision | undefined;
  /**
   * Route name -> handler (the node is named after the route): a node function,
   * or a compiled subgraph whose state shares keys with this graph's.
   */
  routes: Record<string, NodeFn<S> | Runnable>;
  /** The fallback node; it gets the reason it was chosen. */
  fallback: { name: string; run: (state: S, config: LangGraphRunnableConfig, reason: string) => ReturnType<NodeFn<S>> };
  /**
   * Confidence threshold in [0, 1] (default {@link DEFAULT_CONFIDENCE_THRESHOLD});
   * a run may override it with `configurable.confidenceThreshold`.
   */
  confidenceThreshold?: number;
}

function thresholdOf(options: RouterOptions<any>, config?: LangGraphRunnableConfig): number {
  const fromRun = config?.configurable?.confidenceThreshold;
  const value = typeof fromRun === "number" ? fromRun : options.confidenceThreshold ?? DEFAULT_CONFIDENCE_THRESHOLD;
  if (!(value >= 0 && value <= 1)) throw new GraphDefinitionError("buildRouter", `confidenceThreshold must be in [0, 1], got ${value}`);
  return value;
}

/**
 * Builds a router (see the module doc).
 * @throws {GraphDefinitionError} on duplicate or reserved node names, or a threshold outside [0, 1].
 */
export function buildRouter<S>(options: RouterOptions<S>): BuiltGraph {
  const routeNames = Object.keys(options.routes);
  checkNodeNames("buildRouter", [options.classifier.name, ...routeNames, options.fallback.name]);
  thresholdOf(options);
  const graph: any = createGraph(options, options);
  graph.addNode(options.classifier.name, options.classifier.run, nodeOptions(options));
  for (const [name, handler] of Object.entries(options.routes)) graph.addNode(name, handler, nodeOptions(options));
  graph.addNode(options.fallback.name, async (state: S, config: LangGraphRunnableConfig) => {
    const { reason } = selectRoute(options.decision(state), routeNames, options.fallback.name, thresholdOf(options, config));
    return options.fallback.run(state, config, reason ?? "routed to the fallback");
  }, nodeOptions(options));
  graph.addEdge(START, options.classifier.name);
  graph.addConditionalEdges(
    options.classifier.name,
    (state: S, config: LangGraphRunnableConfig) =>
      selectRoute(options.decision(state), routeNames, options.fallback.name, thresholdOf(options, config)).target,
    [...routeNames, options.fallback.name],
  );
  for (const name of [...routeNames, options.fallback.name]) graph.addEdge(name, END);
  return graph;
}
