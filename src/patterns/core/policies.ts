/**
 * What the orchestration builders of `parameterChain.ts`, `forkJoin.ts`,
 * `scatterGather.ts`, `conditional.ts` and `loops.ts` share on top of
 * `graph.ts`: the `fallback` option (the one {@link Fallback} type, on LangGraph's node
 * `errorHandler`), build-time checks of node names, state fields and loop
 * bounds, and the record of a failed branch.
 *
 * **The fallback option.** Every one of those builders accepts
 * `fallback?: (error, state, node) => Partial<State>`. Default: none, so a
 * node that still fails once its retries are used up (an error, or
 * LangGraph's `NodeTimeoutError` after `timeoutMs`) fails the run, and
 * `invoke` rejects with that error. With a fallback, the node is added with
 * LangGraph's own `errorHandler` (`addNode(name, fn, { errorHandler })`),
 * which LangGraph calls only after the node's retry policy is exhausted; the
 * fallback's update is applied in place of the node's, and the run goes on
 * where the node would have gone (each builder documents where that is).
 * Because a LangGraph error handler does not follow the failed node's edges
 * by itself (a plain update from a handler ends that path), the handler
 * returns `new Command({ update, goto })` with the node's successors. A
 * fallback that throws fails the run. Fallbacks cover the nodes that run your
 * functions (steps, branches, loop bodies), not the builders' own control
 * nodes (guards, loop checks), which only call your predicates.
 *
 * @module
 */
import { Command, END, ReducedValue, type LangGraphRunnableConfig, type NodeError } from "@langchain/langgraph";
import { z } from "zod";
import { GraphDefinitionError } from "../../runtime/errors.js";
import { checkNodeNames } from "./nodeNames.js";
import { nodeOptions, type Fallback, type FallbackOptions, type GraphSchemas, type PolicyOptions } from "./graph.js";

export type { Fallback, FallbackOptions };

/** Options every orchestration builder accepts: schemas, `retryPolicy`, `timeoutMs`, `fallback`. */
export interface OrchestrationOptions<S> extends GraphSchemas, PolicyOptions, FallbackOptions<S> {}

/** Where a handled failure goes: a node, several nodes (one superstep), END, or one of those computed from the node's input state. */
export type FallbackTarget<S> = string | string[] | ((state: S) => string | string[]);

/** A LangGraph node `errorHandler` for a state of type `S`. */
export type ErrorHandler<S> = (state: S, error: NodeError, config?: LangGraphRunnableConfig) => Promise<Command>;

/**
 * A LangGraph `errorHandler` that applies `fallback` (and `extra`, the
 * builder's own bookkeeping, e.g. a loop counter or a failure record) and
 * goes to `goto`.
 */
export function fallbackHandler<S>(
  fallback: Fallback<S> | undefined,
  goto: FallbackTarget<S>,
  extra?: (state: S, error: Error, node: string) => Record<string, unknown>,
): ErrorHandler<S> {
  return async (state, nodeError) => {
    const error = nodeError.error instanceof Error ? nodeError.error : new Error(String(nodeError.error));
    const update = fallback ? ((await fallback(error, state, nodeError.node)) ?? {}) : {};
    const target = typeof goto === "function" ? goto(state) : goto;
    return new Command({ update: { ...update, ...(extra ? extra(state, error, nodeError.node) : {}) }, goto: target });
  };
}

/**
 * `addNode` options of a node running the user's function: the timeout of
 * `policy`, and, when `fallback` is set, LangGraph's `errorHandler` going to
 * `goto` afterwards (see the module doc).
 */
export function workNodeOptions<S>(
  options: PolicyOptions & FallbackOptions<S>,
  goto: FallbackTarget<S>,
): { timeout?: number; errorHandler?: ErrorHandler<S> } {
  return {
    ...nodeOptions(options),
    ...(options.fallback ? { errorHandler: fallbackHandler(options.fallback, goto) } : {}),
  };
}

/** `END` as a {@link FallbackTarget} (LangGraph's constant, typed as a string). */
export const TO_END: string = END;

/** The state fields of `schemas.state` (its `StateSchema` fields; nothing known for other schemas). */
export function stateFieldsOf(schemas: GraphSchemas): Record<string, unknown> | undefined {
  const fields = (schemas.state as { fields?: unknown }).fields;
  return fields && typeof fields === "object" ? (fields as Record<string, unknown>) : undefined;
}

/**
 * Checks that the state schema has `fields`.
 * @param hint - What to do about it, e.g. `spread whileLoopFields into your StateSchema`.
 * @throws {GraphDefinitionError} naming the missing fields.
 */
export function requireStateFields(builder: string, schemas: GraphSchemas, fields: readonly string[], hint: string): void {
  const known = stateFieldsOf(schemas);
  if (!known) return;
  const missing = fields.filter((f) => !(f in known));
  if (missing.length) {
    throw new GraphDefinitionError(builder, `the state has no field ${missing.map((f) => `"${f}"`).join(", ")}: ${hint}`);
  }
}

/**
 * Checks node names: at least one, unique, not `__start__`/`__end__`, not
 * starting with `__` (LangGraph's own nodes, e.g. `__error_handler__x`), without
 * `:` or `|` (LangGraph's namespace separators), and not the name of a state
 * field (LangGraph refuses a node named like a channel).
 * @throws {GraphDefinitionError} naming the offending name.
 */
export function checkNames(builder: string, names: string[], schemas?: GraphSchemas): void {
  checkNodeNames(builder, names);
  const fields = schemas ? stateFieldsOf(schemas) : undefined;
  for (const name of names) {
    if (name.startsWith("__")) throw new GraphDefinitionError(builder, `node name "${name}" starts with "__", which LangGraph reserves`);
    if (/[:|]/.test(name)) throw new GraphDefinitionError(builder, `node name "${name}" contains ":" or "|", which LangGraph reserves`);
    if (fields && name in fields) throw new GraphDefinitionError(builder, `node name "${name}" is also a state field; rename one of them`);
  }
}

/**
 * Checks a loop bound: a whole number of at least 1.
 * @throws {GraphDefinitionError} otherwise.
 */
export function checkBound(builder: string, option: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new GraphDefinitionError(builder, `${option} must be a whole number of at least 1, got ${value}`);
  }
}

/** A branch that failed for good: which one, and its error's name and message. */
export const BranchFailure = z.object({
  branch: z.string().describe("The branch (node or service) that failed"),
  error: z.string().describe("The error's name, e.g. Error or NodeTimeoutError"),
  message: z.string().describe("The error's message"),
});
export type BranchFailure = z.infer<typeof BranchFailure>;

/** The {@link BranchFailure} record of `error` thrown by `branch`. */
export function branchFailure(branch: string, error: unknown): BranchFailure {
  if (error instanceof Error) return { branch, error: error.name, message: error.message };
  return { branch, error: "Error", message: String(error) };
}

/** A state channel of {@link BranchFailure}s written by parallel branches (append reducer). */
export function branchFailureList(): ReducedValue<BranchFailure[], BranchFailure[]> {
  return new ReducedValue<BranchFailure[], BranchFailure[]>(z.array(BranchFailure).default(() => []) as unknown as z.ZodType<BranchFailure[]>, {
    inputSchema: z.array(BranchFailure) as unknown as z.ZodType<BranchFailure[]>,
    reducer: (current: BranchFailure[], next: BranchFailure[]) => current.concat(next),
  });
}

/**
 * A state channel that appends what each update writes (e.g. the results a
 * for-each step or a pagination's `process` returns, one update at a time).
 * @param item - The zod schema of one element.
 */
export function appendList<T extends z.ZodType>(item: T): ReducedValue<z.infer<T>[], z.infer<T>[]> {
  return new ReducedValue<z.infer<T>[], z.infer<T>[]>(z.array(item).default(() => []) as unknown as z.ZodType<z.infer<T>[]>, {
    inputSchema: z.array(item) as unknown as z.ZodType<z.infer<T>[]>,
    reducer: (current: z.infer<T>[], next: z.infer<T>[]) => current.concat(next),
  });
}
