/**
 * What a workflow is to the facade, the CLI and the registry: a name, a
 * description, the pattern it shows, its input schema, its graph, and an
 * example input.
 *
 * @module
 */
import { StateSchema, type CompiledStateGraph } from "@langchain/langgraph";
import { z } from "zod";
import type { BuiltGraph } from "./patterns/core/graph.js";

/** A registered workflow. */
export interface WorkflowDefinition<In extends z.ZodObject = z.ZodObject> {
  /** Registry and CLI name, e.g. `supportRouting`; also the file name under `graphs/`. */
  name: string;
  /** One line for `llm-workflows list`. */
  description: string;
  /** The pattern it demonstrates, e.g. `routing`. */
  pattern: string;
  /** Zod schema of the input; the facade validates against it before running. */
  input: In;
  /** The uncompiled graph (the facade compiles it with a checkpointer when asked). */
  builder: BuiltGraph;
  /** The graph compiled without a checkpointer: what `langgraph.json` loads. */
  graph: CompiledStateGraph<any, any, any, any, any, any>;
  /** A small valid input, used by `llm-workflows run NAME` without `--input` and by the tests. */
  example: z.input<In>;
}

/**
 * Declares a workflow: compiles `builder` (named after the workflow, without a
 * checkpointer) and returns the definition.
 */
export function defineWorkflow<In extends z.ZodObject>(spec: Omit<WorkflowDefinition<In>, "graph">): WorkflowDefinition<In> {
  const graph = spec.builder.compile({ name: spec.name, description: spec.description } as any) as WorkflowDefinition["graph"];
  return { ...spec, graph };
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
