/**
 * Try/catch/finally (the *Workflow Patterns Cheatsheet*, "Error Handling Patterns / Try-Catch-Finally"):
 * the try steps run in order; when one fails (after its retries), the rest of
 * the try block is skipped and the catch node gets the error; the finally
 * node runs in every case, last.
 *
 * ```
 * START -> step1 -> step2 -> ... -> stepN -> finally -> END
 *            |        |               |        ^   \-> rethrow (error not handled)
 *            +--------+---- error ----+-> catch +
 * ```
 *
 * Failures are caught with LangGraph's node-level `errorHandler` (it runs once
 * a node's retry policy is exhausted, timeouts included, and is checkpointed
 * like any task), never by a try/catch inside the node, so retries and
 * timeouts keep working. What was caught is kept in state
 * ({@link tryCatchFields}: `caught`, `catchFailure`) as a
 * {@link CaughtError}: node, error name, message, code and HTTP status.
 *
 * Like JavaScript's: without a catch, the error is rethrown after finally
 * ({@link UncaughtStepError}); a catch that itself fails is rethrown after
 * finally with both errors ({@link CatchHandlerError}); an error in finally
 * fails the run as is.
 *
 * @example
 * ```ts
 * const State = new StateSchema({ order: z.string(), receipt: z.string().default(""), ...tryCatchFields });
 * const graph = buildTryCatch<typeof State.State>({
 *   state: State,
 *   steps: [{ name: "reserve", run: reserve }, { name: "charge", run: charge }],
 *   catch: { name: "report", run: (s, error) => ({ receipt: `failed at ${error.node}: ${error.message}` }) },
 *   finally: { name: "release", run: releaseLocks },
 * }).compile();
 * ```
 * @module
 */
import { Command, END, START, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import { GraphDefinitionError, LlmWorkflowsError } from "../../runtime/errors.js";
import { checkNodeNames } from "../core/nodeNames.js";
import type { ChainStep } from "../workflow/promptChain.js";
import { createGraph, type BuiltGraph, type GraphSchemas, type NodeFn } from "../core/graph.js";
import { addHandledNode, addPolicyNode, type NodePolicyOptions } from "./retry.js";

/** An error as kept in state: JSON, so that it survives checkpoints and resumes. */
export const caughtErrorSchema = z.object({
  node: z.string().describe("The node that failed"),
  name: z.string().describe("The error's class name, e.g. NodeTimeoutError"),
  message: z.string(),
  code: z.string().optional().describe("The error's code, when it has one (e.g. ECONNRESET, INVALID_INPUT)"),
  status: z.number().optional().describe("The HTTP status, when the error carries one"),
});

/** An error as kept in state (see {@link caughtErrorSchema}). */
export type CaughtError = z.infer<typeof caughtErrorSchema>;

/** `error`, thrown by `node`, as a {@link CaughtError}. */
export function describeError(node: string, error: unknown): CaughtError {
  if (!(error instanceof Error)) return { node, name: "Error", message: String(error) };
  const e = error as Error & { code?: unknown; status?: unknown; response?: { status?: unknown } };
  const status = typeof e.status === "number" ? e.status : typeof e.response?.status === "number" ? e.response.status : undefined;
  return {
    node,
    name: e.name || "Error",
    message: e.message,
    ...(typeof e.code === "string" ? { code: e.code } : {}),
    ...(status !== undefined ? { status } : {}),
  };
}

/** One line naming `error`: `node: Name: message`. */
export function formatCaught(error: CaughtError): string {
  return `${error.node}: ${error.name}: ${error.message}`;
}

/**
 * What a guarded node's failure turns into: a `Command` routing on (with an
 * update), or a plain update.
 */
export type OnNodeError<I> = (input: I, error: CaughtError, config: LangGraphRunnableConfig | undefined, raw: unknown) => unknown;

/**
 * {@link addHandledNode} with the error given to `onError` as a
 * {@link CaughtError} (and the raw error after it).
 */
export function addGuardedNode(
  graph: BuiltGraph,
  name: string,
  fn: (input: any, config: LangGraphRunnableConfig) => unknown,
  policy: NodePolicyOptions,
  onError: OnNodeError<any>,
  targets: string[],
  extra: Record<string, unknown> = {},
): void {
  addHandledNode(graph, name, fn, policy, (input, error, node, config) => onError(input, describeError(node, error), config, error), targets, extra);
}

/** State fields a try/catch needs: spread them into your `StateSchema`. */
export const tryCatchFields = {
  caught: caughtErrorSchema.nullable().default(null).describe("The error a try step failed with; null when the try block succeeded"),
  catchFailure: caughtErrorSchema.nullable().default(null).describe("The error the catch node itself failed with; null when it did not fail"),
};

/** State a try/catch reads: your fields plus {@link tryCatchFields}. */
export interface TryCatchState {
  caught: CaughtError | null;
  catchFailure: CaughtError | null;
}

/** The catch node: gets the state and the error a try step failed with. */
export interface CatchNode<S> {
  name: string;
  run: (state: S, error: CaughtError, config: LangGraphRunnableConfig) => Promise<Partial<S>> | Partial<S>;
}

/** Options of {@link buildTryCatch}. */
export interface TryCatchOptions<S> extends GraphSchemas, NodePolicyOptions {
  /** The try block: steps run in this order (at least one). */
  steps: ChainStep<S>[];
  /** Handles the error of the first failing step. Default: none (the error is rethrown after finally). */
  catch?: CatchNode<S>;
  /** Runs last, whether the try block failed or not. Default: none. */
  finally?: { name: string; run: NodeFn<S> };
}

/** Name of the node that rethrows an error nobody handled, after finally. */
export const RETHROW_NODE = "rethrow";

/** A try step failed and there was no catch node; thrown after finally ran. */
export class UncaughtStepError extends LlmWorkflowsError {
  readonly caught: CaughtError;

  constructor(caught: CaughtError) {
    super("UNCAUGHT_STEP_ERROR", `step "${caught.node}" failed and the try block has no catch: ${caught.name}: ${caught.message}`);
    this.caught = caught;
  }
}

/** The catch node failed while handling a try step's error; thrown after finally ran, with both errors. */
export class CatchHandlerError extends LlmWorkflowsError {
  /** The try step's error. */
  readonly caught: CaughtError | null;
  /** The catch node's own error. */
  readonly catchFailure: CaughtError;

  constructor(caught: CaughtError | null, catchFailure: CaughtError) {
    super(
      "CATCH_HANDLER_FAILED",
      `the catch node "${catchFailure.node}" failed (${catchFailure.name}: ${catchFailure.message}) while handling the error of step ${caught ? `"${caught.node}" (${caught.name}: ${caught.message})` : "(unknown)"}`,
    );
    this.caught = caught;
    this.catchFailure = catchFailure;
  }
}

/**
 * Builds try/catch/finally (see the module doc). Your state must include
 * {@link tryCatchFields}.
 *
 * @throws {GraphDefinitionError} with no steps, with neither catch nor finally,
 *   or on a duplicate or reserved node name (`rethrow` is taken).
 * @throws {UncaughtStepError} at run time when a step failed and there is no catch.
 * @throws {CatchHandlerError} at run time when the catch node failed (both errors named).
 */
export function buildTryCatch<S extends TryCatchState>(options: TryCatchOptions<S>): BuiltGraph {
  const { steps, catch: catchNode, finally: finallyNode } = options;
  if (steps.length === 0) throw new GraphDefinitionError("buildTryCatch", "needs at least one step");
  if (!catchNode && !finallyNode) throw new GraphDefinitionError("buildTryCatch", "needs a catch node, a finally node or both");
  checkNodeNames("buildTryCatch", [...steps.map((s) => s.name), ...(catchNode ? [catchNode.name] : []), ...(finallyNode ? [finallyNode.name] : []), RETHROW_NODE]);
  const graph: any = createGraph(options, options);
  const afterTry = finallyNode?.name ?? END;
  const onStepError = catchNode?.name ?? finallyNode!.name;

  steps.forEach((step, i) => {
    addGuardedNode(
      graph,
      step.name,
      async (state: S, config: LangGraphRunnableConfig) => {
        const update = (await step.run(state, config)) ?? {};
        // The first step clears what an earlier run on the same thread caught.
        return i === 0 ? { ...update, caught: null, catchFailure: null } : update;
      },
      options,
      (_state, error) => new Command({ update: { caught: error, catchFailure: null }, goto: onStepError }),
      [onStepError],
    );
  });
  graph.addEdge(START, steps[0].name);
  steps.forEach((step, i) => graph.addEdge(step.name, steps[i + 1]?.name ?? afterTry));

  if (catchNode) {
    addGuardedNode(
      graph,
      catchNode.name,
      (state: S, config: LangGraphRunnableConfig) => catchNode.run(state, state.caught as CaughtError, config),
      options,
      (_state, error) => new Command({ update: { catchFailure: error }, goto: finallyNode?.name ?? RETHROW_NODE }),
      [finallyNode?.name ?? RETHROW_NODE],
    );
    graph.addEdge(catchNode.name, afterTry);
  }

  graph.addNode(
    RETHROW_NODE,
    (state: S) => {
      if (state.catchFailure) throw new CatchHandlerError(state.caught, state.catchFailure);
      throw new UncaughtStepError(state.caught as CaughtError);
    },
    { retryPolicy: { maxAttempts: 1 } },
  );
  if (finallyNode) {
    addPolicyNode(graph, finallyNode.name, finallyNode.run, options);
    const unhandled = (s: S) => Boolean(s.catchFailure || (!catchNode && s.caught));
    graph.addConditionalEdges(finallyNode.name, (s: S) => (unhandled(s) ? RETHROW_NODE : END), [RETHROW_NODE, END]);
  }
  return graph;
}
