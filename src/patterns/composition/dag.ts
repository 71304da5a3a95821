/**
 * DAG workflows (*Advanced Workflows*'s `WorkflowEngine`, the *Workflow Patterns Cheatsheet*'s "DAG (Directed Acyclic
 * Graph)"): nodes declare the nodes they depend on, once, in a map; the builder
 * turns the map into LangGraph edges and checks it when the graph is built.
 *
 * - a node without dependencies (a root) starts from `START`;
 * - a node with one dependency runs after it (`addEdge(dep, node)`);
 * - a node with several waits for all of them with a join edge
 *   (`addEdge([a, b], node)`, LangGraph's barrier channel);
 * - a node nothing depends on (a leaf) goes to `END`.
 *
 * Because every node waits for all of its dependencies, a node runs in the
 * superstep given by its *generation*: the length of the longest dependency
 * path from a root to it (see {@link dagGenerations}, the *Workflow Patterns Cheatsheet*'s
 * `nx.topological_generations`). Nodes of one generation have no path between
 * them and run concurrently, in the same superstep. Nodes of one generation
 * must therefore write different state keys (or keys with a reducer), or
 * LangGraph rejects the superstep with `INVALID_CONCURRENT_GRAPH_UPDATE`.
 *
 * Where *Advanced Workflows*'s `WorkflowEngine.execute` walks the dependencies at run time
 * (and only notices a cycle by recursing forever, or a bad name with a
 * `KeyError`), here an unknown dependency or a cycle is a
 * {@link GraphDefinitionError} when the graph is built, naming the name or the
 * cycle.
 *
 * ```
 *            +-> extract_entities --> map_relations --+
 * START -----+                                        +--> build_graph --> END
 *            +-> summarize_document ------------------+
 * ```
 *
 * @example
 * ```ts
 * // *Advanced Workflows*'s knowledge-graph pipeline
 * const graph = buildDag<State>({
 *   state: State,
 *   nodes: {
 *     extract: { run: extractEntities },
 *     map: { run: mapRelationships, dependsOn: ["extract"] },
 *     build: { run: buildKnowledgeGraph, dependsOn: ["extract", "map"] },
 *   },
 *   timeoutMs: 30_000,
 * }).compile();
 * ```
 * @module
 */
import { END, START, type RetryPolicy } from "@langchain/langgraph";
import { GraphDefinitionError } from "../../runtime/errors.js";
import { checkNodeNames } from "../core/nodeNames.js";
import { createGraph, nodeOptions, type BuiltGraph, type GraphSchemas, type NodeFn, type PolicyOptions, type FallbackOptions } from "../core/graph.js";

/** One node of a DAG: its function, what it waits for, and optional policies of its own. */
export interface DagNode<S> {
  /** Reads the state (with every dependency's update applied) and returns a partial update. */
  run: NodeFn<S>;
  /** Names of the nodes that must finish before this one starts (default: none, a root). */
  dependsOn?: readonly string[];
  /** This node's retry policy, overriding the graph's; `false`: one attempt only. */
  retryPolicy?: RetryPolicy | false;
  /** This node's per-attempt timeout in ms, overriding the graph's `timeoutMs`. */
  timeoutMs?: number;
}

/** Options of {@link buildDag}. */
export interface DagOptions<S> extends GraphSchemas, PolicyOptions, FallbackOptions<S> {
  /** Node name -> node. Names must be unique and not `__start__`/`__end__`. */
  nodes: Record<string, DagNode<S>>;
}

/** Name -> the names it depends on, as given (order kept). */
export type DependencyMap = Record<string, readonly string[]>;

const BUILDER = "buildDag";

/**
 * Checks a dependency map: every dependency names a node, no node lists one
 * dependency twice or itself, and there is no cycle.
 *
 * @throws {GraphDefinitionError} naming the unknown dependency, the repeated
 *   one, or the cycle (`a -> b -> a`).
 */
export function checkDependencies(dependencies: DependencyMap): void {
  const names = new Set(Object.keys(dependencies));
  for (const [name, deps] of Object.entries(dependencies)) {
    const seen = new Set<string>();
    for (const dep of deps) {
      if (!names.has(dep)) {
        throw new GraphDefinitionError(BUILDER, `node "${name}" depends on unknown node "${dep}"; the nodes are: ${[...names].join(", ")}`);
      }
      if (seen.has(dep)) throw new GraphDefinitionError(BUILDER, `node "${name}" lists dependency "${dep}" twice`);
      seen.add(dep);
    }
  }
  const cycle = findCycle(dependencies);
  if (cycle) throw new GraphDefinitionError(BUILDER, `dependency cycle: ${cycle.join(" -> ")}`);
}

/**
 * A cycle of `dependencies`, as the path of names from a node back to itself
 * in execution order (`["a", "b", "a"]`: a runs before b, b before a), or
 * undefined when there is none. Depth-first search with three colours; the
 * search order is the map's, so the answer is deterministic.
 */
export function findCycle(dependencies: DependencyMap): string[] | undefined {
  const WHITE = 0, GREY = 1, BLACK = 2;
  const colour = new Map<string, number>(Object.keys(dependencies).map((n) => [n, WHITE]));
  const stack: string[] = [];
  const visit = (name: string): string[] | undefined => {
    colour.set(name, GREY);
    stack.push(name);
    for (const dep of dependencies[name] ?? []) {
      if (!colour.has(dep)) continue; // unknown names are checkDependencies' business
      if (colour.get(dep) === GREY) {
        // stack holds name <- ... : each entry depends on the next; reverse for execution order.
        const loop = stack.slice(stack.indexOf(dep));
        return [...loop, dep].reverse();
      }
      if (colour.get(dep) === WHITE) {
        const found = visit(dep);
        if (found) return found;
      }
    }
    stack.pop();
    colour.set(name, BLACK);
    return undefined;
  };
  for (const name of Object.keys(dependencies)) {
    if (colour.get(name) === WHITE) {
      const found = visit(name);
      if (found) return found;
    }
  }
  return undefined;
}

/**
 * The generations of an acyclic dependency map: generation 0 holds the roots,
 * generation k the nodes whose longest dependency path from a root has k
 * edges. A graph built by {@link buildDag} runs generation k in superstep k
 * (counting the roots' superstep as 0), every node of a generation at once.
 * Names keep the map's order inside a generation.
 *
 * @throws {GraphDefinitionError} as {@link checkDependencies}.
 */
export function dagGenerations(dependencies: DependencyMap): string[][] {
  checkDependencies(dependencies);
  const depth = new Map<string, number>();
  const depthOf = (name: string): number => {
    const known = depth.get(name);
    if (known !== undefined) return known;
    const deps = dependencies[name];
    const d = deps.length ? 1 + Math.max(...deps.map(depthOf)) : 0;
    depth.set(name, d);
    return d;
  };
  const generations: string[][] = [];
  for (const name of Object.keys(dependencies)) (generations[depthOf(name)] ??= []).push(name);
  return generations;
}

/** The nodes no other node depends on (they go to `END`), in map order. */
export function dagLeaves(dependencies: DependencyMap): string[] {
  const used = new Set(Object.values(dependencies).flat());
  return Object.keys(dependencies).filter((n) => !used.has(n));
}

/** The dependency map of `nodes` (`dependsOn` or none). */
export function dependencyMap<S>(nodes: Record<string, DagNode<S>>): DependencyMap {
  return Object.fromEntries(Object.entries(nodes).map(([name, node]) => [name, [...(node.dependsOn ?? [])]]));
}

/** `addNode` options for `node`: the graph's timeout unless the node sets its own, and its own retry policy. */
function addNodeOptions<S>(node: DagNode<S>, policy: PolicyOptions): { timeout?: number; retryPolicy?: RetryPolicy } {
  const out: { timeout?: number; retryPolicy?: RetryPolicy } = nodeOptions(node.timeoutMs ? { timeoutMs: node.timeoutMs } : policy);
  if (node.retryPolicy === false) out.retryPolicy = { maxAttempts: 1 };
  else if (node.retryPolicy) out.retryPolicy = node.retryPolicy;
  return out;
}

/**
 * Builds a DAG workflow from a dependency map (see the module doc): edges from
 * `START` to the roots, one edge per single dependency, one join edge per node
 * with several, leaves to `END`. Policies (`retryPolicy`, `timeoutMs`) apply to
 * every node unless the node sets its own.
 *
 * @returns the uncompiled `StateGraph`.
 * @throws {GraphDefinitionError} with no nodes, on a reserved or empty node
 *   name, on a dependency naming no node (naming it), on a node listing a
 *   dependency twice, and on a cycle (naming it, e.g. `a -> b -> a`); all when
 *   the graph is built, before anything runs.
 */
export function buildDag<S>(options: DagOptions<S>): BuiltGraph {
  checkNodeNames(BUILDER, Object.keys(options.nodes));
  const dependencies = dependencyMap(options.nodes);
  checkDependencies(dependencies);
  const graph: any = createGraph(options, { ...options, nodeFallback: options.fallback });
  for (const [name, node] of Object.entries(options.nodes)) graph.addNode(name, node.run, addNodeOptions(node, options));
  for (const [name, deps] of Object.entries(dependencies)) {
    if (deps.length === 0) graph.addEdge(START, name);
    else if (deps.length === 1) graph.addEdge(deps[0], name);
    else graph.addEdge([...deps], name);
  }
  for (const leaf of dagLeaves(dependencies)) graph.addEdge(leaf, END);
  return graph;
}
