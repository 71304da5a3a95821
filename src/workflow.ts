/**
 * What a workflow is to the facade, the CLI and a registry: a name, a
 * description, the pattern it shows, its input schema, its graph, and an
 * example input. Ready workflows and users' own graphs alike become one of
 * these ({@link defineWorkflow}, {@link workflowFromGraph}).
 *
 * @module
 */
import { StateSchema, type CompiledStateGraph } from "@langchain/langgraph";
import { z } from "zod";
import { GraphDefinitionError } from "./runtime/errors.js";

/** A compiled LangGraph `StateGraph` (what `StateGraph.compile()` returns). */
export type CompiledGraph = CompiledStateGraph<any, any, any, any, any, any>;

/**
 * An uncompiled `StateGraph` of any state, described by what the facade uses
 * (structurally, so that graphs of every supported LangGraph version and
 * every state type fit; a `StateGraph<S>` with strict node types is not
 * assignable to `StateGraph<any>`).
 */
export interface UncompiledGraph {
  compile(options?: any): any;
  readonly nodes: Record<string, unknown>;
  readonly channels: Record<string, unknown>;
}

/** Pattern name of a workflow that does not say which pattern it shows. */
export const CUSTOM_PATTERN = "custom";

/** A workflow the facade can run. */
export interface WorkflowDefinition<In extends z.ZodObject = z.ZodObject> {
  /** Registry and CLI name, e.g. `supportRouting`; recorded in a thread's checkpoints. */
  name: string;
  /** One line for `llm-workflows list` (empty when not given). */
  description: string;
  /** The pattern it demonstrates, e.g. `routing` ({@link CUSTOM_PATTERN} when not given). */
  pattern: string;
  /**
   * Zod schema of the input; the facade validates against it before running.
   * When absent, the graph's own input schema applies (the `input` option of
   * its `StateGraph`, a zod object or a `StateSchema`), and a graph without one
   * takes any JSON object.
   */
  input?: In;
  /** The uncompiled graph: the facade compiles it again with a checkpointer when a run needs one. */
  builder: UncompiledGraph;
  /** The graph compiled without a checkpointer: what `langgraph.json` loads. */
  graph: CompiledGraph;
  /** A small valid input, used by `llm-workflows run NAME` without `--input` and by the tests. */
  example?: z.input<In>;
  /**
   * Where the graph was loaded from, as `ABSOLUTE_PATH:export` (set by the CLI
   * for a user's file). Recorded in a thread's checkpoints so that a later
   * `resume` or `fork` in another process loads the same graph again.
   */
  source?: string;
}

/** What {@link defineWorkflow} takes: a builder (uncompiled) or a compiled graph, and optional metadata. */
export type WorkflowSpec<In extends z.ZodObject> = Omit<WorkflowDefinition<In>, "graph" | "builder" | "description" | "pattern"> & {
  description?: string;
  pattern?: string;
} & ({ builder: UncompiledGraph; graph?: never } | { graph: CompiledGraph; builder?: never });

/**
 * Declares a workflow. Given a `builder`, compiles it (named after the
 * workflow, without a checkpointer); given a compiled `graph`, keeps it and
 * recompiles its builder only when a run needs a checkpointer.
 *
 * @example
 * ```ts
 * const triage = defineWorkflow({ name: "triage", builder: buildRouter({ ... }), input: z.object({ query: z.string() }) });
 * await runWorkflow(triage, { query: "I was charged twice" });
 * ```
 * @throws {GraphDefinitionError} when the name is empty or `graph` is not a compiled StateGraph.
 */
export function defineWorkflow<In extends z.ZodObject>(
  spec: WorkflowSpec<In> & { input: In; example: z.input<In> },
): WorkflowDefinition<In> & { input: In; example: z.input<In> };
export function defineWorkflow<In extends z.ZodObject>(spec: WorkflowSpec<In>): WorkflowDefinition<In>;
export function defineWorkflow<In extends z.ZodObject>(spec: WorkflowSpec<In>): WorkflowDefinition<In> {
  if (!spec.name) throw new GraphDefinitionError("defineWorkflow", "name: expected a non-empty string");
  const description = spec.description ?? "";
  if (spec.graph) {
    if (!isCompiledGraph(spec.graph)) throw new GraphDefinitionError("defineWorkflow", "graph: expected a compiled StateGraph (call .compile())");
    return { ...spec, description, pattern: spec.pattern ?? CUSTOM_PATTERN, builder: spec.graph.builder as unknown as UncompiledGraph, graph: spec.graph };
  }
  const graph = spec.builder.compile({ name: spec.name, description } as any) as CompiledGraph;
  return { ...spec, description, pattern: spec.pattern ?? CUSTOM_PATTERN, builder: spec.builder, graph };
}

/** Whether `value` is a compiled LangGraph `StateGraph` (a Pregel graph that keeps its builder). */
export function isCompiledGraph(value: unknown): value is CompiledGraph {
  if (value === null || typeof value !== "object") return false;
  const v = value as Record<string, unknown>;
  return typeof v.invoke === "function" && typeof v.stream === "function" && typeof v.getGraphAsync === "function" && isStateGraph(v.builder);
}

/** Whether `value` is an uncompiled LangGraph `StateGraph`. */
export function isStateGraph(value: unknown): value is UncompiledGraph {
  if (value === null || typeof value !== "object") return false;
  const v = value as Record<string, unknown>;
  return typeof v.compile === "function" && typeof v.addNode === "function" && v.channels !== undefined;
}

/**
 * A definition for a graph that was not declared with {@link defineWorkflow}:
 * a compiled or uncompiled `StateGraph`, named `name` (default: the compiled
 * graph's own name, else `graph`).
 * @throws {GraphDefinitionError} when `graph` is neither.
 */
export function workflowFromGraph(graph: unknown, name?: string, source?: string): WorkflowDefinition<any> {
  if (isCompiledGraph(graph)) {
    const own = typeof (graph as { name?: unknown }).name === "string" && (graph as { name: string }).name !== "LangGraph" ? (graph as { name: string }).name : undefined;
    return defineWorkflow({ name: name ?? own ?? "graph", graph, ...(source ? { source } : {}) });
  }
  if (isStateGraph(graph)) return defineWorkflow({ name: name ?? "graph", builder: graph, ...(source ? { source } : {}) });
  throw new GraphDefinitionError(name ?? "graph", "expected a StateGraph or a compiled StateGraph");
}

/**
 * A workflow's input schema from its fields: a zod object (LangGraph checks a
 * zod input object whole when the graph is invoked, required fields included,
 * where a `StateSchema` input only checks the keys present) that also answers
 * `getJsonSchema()` / `getInputJsonSchema()` like a `StateSchema`, which is how
 * the LangGraph server and Studio read a graph's input form.
 */
export function inputSchema<F extends z.ZodRawShape>(fields: F): z.ZodObject<F> {
  const schema = z.object(fields);
  const asState = new StateSchema(fields as any);
  return Object.assign(schema, {
    getJsonSchema: () => asState.getJsonSchema(),
    getInputJsonSchema: () => ({ ...(asState.getInputJsonSchema() as object), required: requiredKeys(fields) }),
  });
}

function requiredKeys(fields: z.ZodRawShape): string[] {
  return Object.entries(fields)
    .filter(([, field]) => !(field as z.ZodType).safeParse(undefined).success)
    .map(([key]) => key);
}
