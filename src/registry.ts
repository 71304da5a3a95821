/**
 * Workflow registries: name -> definition. The facade looks a workflow name up
 * in the registry of the run (`RunOptions.registry`), else in
 * {@link defaultRegistry}, which starts empty: importing
 * `llm-workflows/workflows` registers the ready workflows there, and an
 * application may register its own.
 *
 * @example
 * ```ts
 * const registry = createRegistry([triage, summarize]);
 * await runWorkflow("triage", { query: "I was charged twice" }, { registry });
 * ```
 * @module
 */
import { GraphDefinitionError, UnknownWorkflowError } from "./runtime/errors.js";
import type { WorkflowDefinition } from "./workflow.js";

/** Name, pattern and description of a registered workflow (what `llm-workflows list` prints). */
export type WorkflowSummary = Pick<WorkflowDefinition, "name" | "pattern" | "description">;

/** A set of workflows by name. */
export interface WorkflowRegistry {
  /**
   * The definition registered as `name`.
   * @throws {UnknownWorkflowError} naming the workflows there are.
   */
  get(name: string): WorkflowDefinition<any>;
  /** Whether `name` is registered. */
  has(name: string): boolean;
  /** Names in registration order. */
  names(): string[];
  /** Name, pattern and description of every workflow, in registration order. */
  list(): WorkflowSummary[];
  /**
   * Adds `definitions` (a later one replaces an earlier one of the same name).
   * @returns the registry.
   */
  register(...definitions: WorkflowDefinition<any>[]): WorkflowRegistry;
}

/**
 * A registry holding `definitions` (an array, or an object whose values are
 * definitions).
 * @throws {GraphDefinitionError} when a definition has no name.
 */
export function createRegistry(definitions: Iterable<WorkflowDefinition<any>> | Record<string, WorkflowDefinition<any>> = []): WorkflowRegistry {
  const byName = new Map<string, WorkflowDefinition<any>>();
  const registry: WorkflowRegistry = {
    get(name) {
      const found = byName.get(name);
      if (!found) throw new UnknownWorkflowError(name, [...byName.keys()]);
      return found;
    },
    has: (name) => byName.has(name),
    names: () => [...byName.keys()],
    list: () => [...byName.values()].map(({ name, pattern, description }) => ({ name, pattern, description })),
    register(...added) {
      for (const definition of added) {
        if (!definition?.name) throw new GraphDefinitionError("createRegistry", "every definition needs a name (use defineWorkflow)");
        byName.set(definition.name, definition);
      }
      return registry;
    },
  };
  const initial = Symbol.iterator in Object(definitions) ? [...(definitions as Iterable<WorkflowDefinition<any>>)] : Object.values(definitions);
  return registry.register(...initial);
}

/**
 * The registry the facade uses when a run names a workflow and gives no
 * registry of its own. Empty until `llm-workflows/workflows` is imported (it
 * registers the 18 ready workflows) or the application registers its own.
 */
export const defaultRegistry: WorkflowRegistry = createRegistry();
