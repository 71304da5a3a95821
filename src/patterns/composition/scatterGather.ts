/**
 * Scatter-gather (the *Workflow Patterns Cheatsheet*, "Parallel Patterns: Scatter-Gather"): the same
 * request goes to several services at once, and either the first successful
 * answer wins (`first`) or all of them answer and a scorer picks the best
 * (`best`).
 *
 * ```
 * START -> scatter_gather -> END
 *          (calls service A, B, C at once; first: the first success wins and the
 *           others are aborted; best: all finish and the scorer picks)
 * ```
 *
 * The services run concurrently inside one node (so in one superstep): a
 * race is something a LangGraph superstep cannot express, because a task's
 * `config.signal` belongs to LangGraph and cannot be aborted by a sibling
 * task. So this node calls every service itself, each with an `AbortSignal`
 * of its own (an `AbortController` per service, linked to the node's
 * `config.signal`, so cancelling the run cancels every service):
 *
 * - `first`: `Promise.any` over the services; the first result that
 *   `accept` takes (default: any result) wins, and the services still running
 *   are cancelled by aborting their signals (reason: a `DOMException` named
 *   `AbortError`). A service should pass its signal on (to `fetch`, to a
 *   model call's `signal`); one that ignores it is left to finish on its own,
 *   and its result is dropped: the node does not wait for it.
 * - `best`: `Promise.allSettled`: every service runs to the end, failures are
 *   recorded, and `score` picks the best of the successful results (the first
 *   declared on a tie).
 *
 * Either way, when every service failed the node throws
 * {@link ScatterGatherFailedError}, which names each service's failure.
 *
 * **Policies.** `timeoutMs` is per service, measured inside the node: a
 * service that takes longer is aborted through its signal and counts as
 * failed with LangGraph's `NodeTimeoutError` (a node-level timeout would
 * throw away the services that did answer; the timer is `withTimeout`,
 * `runtime/retry.ts`). `retryPolicy` applies to the node,
 * i.e. the whole scatter-gather: with the default policy
 * (`DEFAULT_RETRY_POLICY`), a {@link ScatterGatherFailedError} is retried
 * when every service's failure was transient (timeouts, 429s, 5xx), and not
 * otherwise. `fallback` (default none) handles the node's final failure: its
 * update is written and the run ends.
 *
 * What the node writes: the `gather` callback's update, plus
 * {@link scatterGatherFields}: `scatterWinner`, `scatterScores` (`best`),
 * `branchFailures`, `scatterCancelled` (`first`).
 *
 * @example
 * ```ts
 * const State = new StateSchema({ query: z.string(), answer: z.string().default(""), ...scatterGatherFields });
 * const graph = buildScatterGather<typeof State.State, string>({
 *   state: State,
 *   mode: "first",
 *   services: {
 *     primary: (s, signal) => askProvider("a", s.query, { signal }),
 *     secondary: (s, signal) => askProvider("b", s.query, { signal }),
 *   },
 *   gather: (s, outcome) => ({ answer: outcome.result }),
 *   timeoutMs: 10_000,
 * }).compile();
 * ```
 * @module
 */
import { END, NodeTimeoutError, Overwrite, START, type LangGraphRunnableConfig, type RetryPolicy } from "@langchain/langgraph";
import { z } from "zod";
import { GraphDefinitionError, LlmWorkflowsError } from "../../runtime/errors.js";
import { resolveRetryPolicy, withTimeout } from "../../runtime/retry.js";
import { createGraph, type BuiltGraph } from "../core/graph.js";
import {
  branchFailure,
  branchFailureList,
  checkNames,
  fallbackHandler,
  requireStateFields,
  TO_END,
  type BranchFailure,
  type OrchestrationOptions,
} from "../core/policies.js";

const BUILDER = "buildScatterGather";

/** Default name of the scatter-gather node. */
export const SCATTER_GATHER_NODE = "scatter_gather";

/**
 * State fields the scatter-gather node writes, to spread into your
 * `StateSchema`.
 */
export const scatterGatherFields = {
  scatterWinner: z.string().nullable().default(null).describe("The service whose result was used; null before a run"),
  scatterScores: z.record(z.string(), z.number()).default(() => ({})).describe("best mode: the score of each successful service"),
  branchFailures: branchFailureList(),
  scatterCancelled: z.array(z.string()).default(() => []).describe("first mode: the services cancelled when the winner answered"),
};

/** State the scatter-gather node writes. */
export interface ScatterGatherState {
  scatterWinner: string | null;
  scatterScores: Record<string, number>;
  branchFailures: BranchFailure[];
  scatterCancelled: string[];
}

/**
 * One service: the state and the service's own abort signal in, a result out.
 * Pass `signal` on to whatever the service awaits.
 */
export type ScatterService<S, R> = (state: S, signal: AbortSignal, config: LangGraphRunnableConfig) => Promise<R> | R;

/** What the scatter-gather found, given to `gather`. */
export interface ScatterGatherOutcome<R> {
  mode: "first" | "best";
  /** The service whose result won. */
  winner: string;
  /** The winner's result. */
  result: R;
  /** `best`: every successful service's result; `first`: the winner's only. */
  results: Record<string, R>;
  /** `best`: the score of each successful service; `first`: empty. */
  scores: Record<string, number>;
  /** The services that failed (in `first` mode, those that failed before the winner answered). */
  failures: BranchFailure[];
  /** `first`: the services still running when the winner answered, whose signals were aborted. */
  cancelled: string[];
}

/** Options of {@link buildScatterGather}. */
export interface ScatterGatherOptions<S, R> extends OrchestrationOptions<S> {
  /** `first`: the first accepted result wins, the others are cancelled. `best`: all run, `score` picks. */
  mode: "first" | "best";
  /** Service name -> function. At least two. */
  services: Record<string, ScatterService<S, R>>;
  /** Whether a result counts as a success (the source's `result.get("success")`); a refused one is a failure. Default: every result. */
  accept?: (result: R, service: string) => boolean;
  /** `best` mode (required there): a result's score; the highest wins. */
  score?: (result: R, service: string, state: S) => number;
  /** Turns the outcome into your state's update (e.g. `{ answer: outcome.result }`). */
  gather: (state: S, outcome: ScatterGatherOutcome<R>, config: LangGraphRunnableConfig) => Promise<Partial<S>> | Partial<S>;
  /** The node's name. Default {@link SCATTER_GATHER_NODE}. */
  name?: string;
}

/** Every service of a scatter-gather failed; `failures` holds each one's error, in declaration order. */
export class ScatterGatherFailedError extends LlmWorkflowsError {
  readonly node: string;
  readonly failures: { service: string; error: unknown }[];

  constructor(node: string, failures: { service: string; error: unknown }[]) {
    const each = failures.map(({ service, error }) => {
      const f = branchFailure(service, error);
      return `${service}: ${f.error}: ${f.message}`;
    });
    super("SCATTER_GATHER_FAILED", `${node}: every service failed (${each.join("; ")})`, {
      cause: new AggregateError(failures.map((f) => f.error), "every service failed"),
    });
    this.node = node;
    this.failures = failures;
  }
}

/** A result that `accept` refused. */
export class ResultNotAcceptedError extends LlmWorkflowsError {
  constructor(service: string) {
    super("RESULT_NOT_ACCEPTED", `service "${service}" answered, but its result was not accepted`);
  }
}

/**
 * The node's retry policy: `policy` (default `DEFAULT_RETRY_POLICY`,
 * resolved by `resolveRetryPolicy`) whose `retryOn` retries a
 * {@link ScatterGatherFailedError} when it would retry every service's error.
 * Undefined when retries are off.
 */
export function scatterGatherRetryPolicy(policy: RetryPolicy | false | undefined): RetryPolicy | undefined {
  const base = resolveRetryPolicy(policy);
  if (!base) return undefined;
  const retryOn = base.retryOn;
  return {
    ...base,
    retryOn: (error: any) =>
      error instanceof ScatterGatherFailedError ? error.failures.every((f) => retryOn(f.error)) : retryOn(error),
  };
}

/**
 * Builds a scatter-gather (the *Workflow Patterns Cheatsheet*, "Scatter-Gather"; see the module doc):
 * `START -> node -> END`, the node running every service.
 *
 * @example
 * ```ts
 * buildScatterGather<State, Quote>({
 *   state: State,                                      // ...scatterGatherFields
 *   mode: "best",
 *   services: { acme: (s, signal) => quote("acme", s.order, signal), globex: (s, signal) => quote("globex", s.order, signal) },
 *   score: (q) => -q.price,                            // cheapest wins
 *   gather: (_s, outcome) => ({ quote: outcome.result }),
 *   timeoutMs: 3_000,                                  // per service
 * });
 * ```
 *
 * @returns the uncompiled `StateGraph` (embed it compiled as a node of a bigger graph).
 * @throws {GraphDefinitionError} with fewer than two services, without `score`
 *   in `best` mode, on a reserved node name, and when the state lacks
 *   {@link scatterGatherFields}.
 * @throws {ScatterGatherFailedError} at run time when every service failed
 *   (unless `fallback` is set).
 */
export function buildScatterGather<S, R = unknown>(options: ScatterGatherOptions<S, R>): BuiltGraph {
  const names = Object.keys(options.services);
  if (names.length < 2) throw new GraphDefinitionError(BUILDER, `needs at least two services, got ${names.length}`);
  if (options.mode !== "first" && options.mode !== "best") {
    throw new GraphDefinitionError(BUILDER, `mode must be "first" or "best", got ${JSON.stringify(options.mode)}`);
  }
  if (options.mode === "best" && !options.score) throw new GraphDefinitionError(BUILDER, `mode "best" needs a score function`);
  const name = options.name ?? SCATTER_GATHER_NODE;
  checkNames(BUILDER, [name], options);
  requireStateFields(BUILDER, options, Object.keys(scatterGatherFields), "spread scatterGatherFields into your StateSchema");

  const run = async (state: S, config: LangGraphRunnableConfig) => {
    const controllers = new Map(names.map((n) => [n, new AbortController()]));
    const cancelAll = () => {
      for (const c of controllers.values()) c.abort(config.signal?.reason);
    };
    if (config.signal?.aborted) cancelAll();
    config.signal?.addEventListener("abort", cancelAll, { once: true });
    const pending = new Set(names);
    const call = async (service: string): Promise<R> => {
      const started = Date.now();
      try {
        // The service's own signal: aborted by its timeout, by the winner (first mode) or with the run.
        const result = await withTimeout((signal) => options.services[service](state, signal, config), options.timeoutMs, {
          signal: controllers.get(service)!.signal,
          timeoutError: () => new NodeTimeoutError({ node: `${name}.${service}`, elapsed: Date.now() - started, kind: "run", runTimeout: options.timeoutMs! }),
        });
        if (options.accept && !options.accept(result, service)) throw new ResultNotAcceptedError(service);
        return result;
      } finally {
        pending.delete(service);
      }
    };

    try {
      const failed: { service: string; error: unknown }[] = [];
      const settle = (service: string) =>
        call(service).then(
          (result) => ({ service, result }),
          (error: unknown) => {
            failed.push({ service, error });
            throw error;
          },
        );
      const inOrder = () => names.flatMap((n) => failed.filter((f) => f.service === n));
      let outcome: ScatterGatherOutcome<R>;
      if (options.mode === "first") {
        let won: { service: string; result: R };
        try {
          won = await Promise.any(names.map(settle));
        } catch {
          throw new ScatterGatherFailedError(name, inOrder());
        }
        const failures = inOrder().map((f) => branchFailure(f.service, f.error));
        const cancelled = names.filter((n) => n !== won.service && pending.has(n));
        for (const n of cancelled) controllers.get(n)!.abort(new DOMException(`"${won.service}" answered first`, "AbortError"));
        outcome = {
          mode: "first",
          winner: won.service,
          result: won.result,
          results: { [won.service]: won.result },
          scores: {},
          failures,
          cancelled,
        };
      } else {
        const settled = await Promise.allSettled(names.map(settle));
        const ok = settled.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
        if (ok.length === 0) throw new ScatterGatherFailedError(name, inOrder());
        const scores: Record<string, number> = {};
        let best = ok[0];
        for (const entry of ok) {
          scores[entry.service] = options.score!(entry.result, entry.service, state);
          if (scores[entry.service] > scores[best.service]) best = entry;
        }
        outcome = {
          mode: "best",
          winner: best.service,
          result: best.result,
          results: Object.fromEntries(ok.map((e) => [e.service, e.result])),
          scores,
          failures: inOrder().map((f) => branchFailure(f.service, f.error)),
          cancelled: [],
        };
      }
      const update = await options.gather(state, outcome, config);
      return {
        ...update,
        scatterWinner: outcome.winner,
        scatterScores: outcome.scores,
        branchFailures: new Overwrite(outcome.failures),
        scatterCancelled: outcome.cancelled,
      };
    } finally {
      config.signal?.removeEventListener("abort", cancelAll);
    }
  };

  const graph: any = createGraph(options, options);
  const retryPolicy = scatterGatherRetryPolicy(options.retryPolicy);
  graph.addNode(name, run, {
    ...(retryPolicy ? { retryPolicy } : {}),
    ...(options.fallback
      ? {
          errorHandler: fallbackHandler<S>(options.fallback, TO_END, (_state, error) => ({
            scatterWinner: null,
            scatterScores: {},
            scatterCancelled: [],
            branchFailures: new Overwrite(
              error instanceof ScatterGatherFailedError
                ? error.failures.map((f) => branchFailure(f.service, f.error))
                : [branchFailure(name, error)],
            ),
          })),
        }
      : {}),
  });
  graph.addEdge(START, name);
  graph.addEdge(name, END);
  return graph;
}
