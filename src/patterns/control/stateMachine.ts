/**
 * State machine (the *Workflow Patterns Cheatsheet*, "State Management / State Machine"): a transition
 * table `{ [state]: { [event]: nextState } }`, a handler per state that does
 * the state's work and returns an event, and the table deciding where the
 * event leads.
 *
 * ```
 * [idle] --start--> [running] --complete--> [done]
 *                       |
 *                       +--error--> [failed]
 * ```
 *
 * Each non-terminal state is a node (named after the state); its conditional
 * edge maps each event of the table to the next state's node (or to `END` for
 * a terminal state), so the graph's Mermaid diagram *is* the table, edges
 * labelled with their events. An event the table does not allow in the
 * current state is an {@link InvalidTransitionError} naming the state, the
 * event and the allowed events. Terminal states are the states without
 * outgoing transitions (or those listed in `terminal`); a terminal state may
 * have an `onTerminal` node that runs once when it is reached. A run stops
 * with {@link MaxTransitionsError} after `maxTransitions` transitions.
 *
 * With `errorEvent`, a handler that fails (after its retries, timeouts
 * included) fires that event instead of failing the run, where the table
 * allows it (the source's `running --error--> failed`); the error is kept in
 * `machineError`. Invalid transitions and the transitions bound are never
 * turned into events.
 *
 * State ({@link stateMachineFields}): `machineState`, `machineEvent`,
 * `machineHistory` (`{ from, event, to }` per transition), `machineTransitions`,
 * `machineError`.
 *
 * @example
 * ```ts
 * const State = new StateSchema({ job: z.string(), result: z.string().default(""), ...stateMachineFields });
 * const graph = buildStateMachine<typeof State.State>({
 *   state: State,
 *   initial: "idle",
 *   transitions: { idle: { start: "running" }, running: { complete: "done", error: "failed" } },
 *   handlers: {
 *     idle: () => "start",
 *     running: async (s) => ({ event: "complete", update: { result: await runJob(s.job) } }),
 *   },
 *   errorEvent: "error",
 * }).compile();
 * ```
 * @module
 */
import { Command, END, START, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import { GraphDefinitionError, LlmWorkflowsError } from "../../runtime/errors.js";
import { checkNodeNames } from "../core/nodeNames.js";
import { createGraph, type BuiltGraph, type GraphSchemas, type NodeFn } from "../core/graph.js";
import { addPolicyNode, type NodePolicyOptions } from "../resilience/retry.js";
import { addGuardedNode, caughtErrorSchema, type CaughtError } from "../resilience/tryCatch.js";

/** Default bound on transitions per run; below LangGraph's default `recursionLimit` (25 supersteps). */
export const DEFAULT_MAX_TRANSITIONS = 20;

/** Name of the node that starts the machine (resets its fields, picks the initial state). */
export const MACHINE_ENTRY_NODE = "enter_machine";

/** One transition taken. */
export const transitionSchema = z.object({ from: z.string(), event: z.string(), to: z.string() });
/** One transition taken: from a state, on an event, to a state. */
export type Transition = z.infer<typeof transitionSchema>;

/** State fields a state machine needs: spread them into your `StateSchema`. */
export const stateMachineFields = {
  machineState: z.string().nullable().default(null).describe("The machine's current state; null before it starts"),
  machineEvent: z.string().nullable().default(null).describe("The last event"),
  machineHistory: z.array(transitionSchema).default(() => []).describe("Transitions taken in this run, in order"),
  machineTransitions: z.number().int().default(0).describe("Transitions taken in this run"),
  machineError: caughtErrorSchema.nullable().default(null).describe("The handler error turned into errorEvent, if any"),
};

/** State a state machine reads: your fields plus {@link stateMachineFields}. */
export interface StateMachineState {
  machineState: string | null;
  machineEvent: string | null;
  machineHistory: Transition[];
  machineTransitions: number;
  machineError: CaughtError | null;
}

/** The transition table: state -> event -> next state. */
export type TransitionTable = Record<string, Record<string, string>>;

/** What a handler returns: the event, or the event and a state update. */
export type HandlerResult<S> = string | { event: string; update?: Partial<S> };

/** A state's handler: does the state's work and names the event that happened. */
export type StateHandler<S> = (state: S, config: LangGraphRunnableConfig) => Promise<HandlerResult<S>> | HandlerResult<S>;

/** Options of {@link buildStateMachine}. */
export interface StateMachineOptions<S> extends GraphSchemas, NodePolicyOptions {
  /** state -> event -> next state. Every state named anywhere is a state of the machine. */
  transitions: TransitionTable;
  /** A handler for every non-terminal state. */
  handlers: Record<string, StateHandler<S>>;
  /** The state to start in, or a function choosing it from the input (checked at run time). */
  initial: string | ((state: S) => string);
  /** Terminal states. Default: the states without outgoing transitions. */
  terminal?: string[];
  /** Nodes run once when a terminal state is reached (e.g. notify on `failed`). */
  onTerminal?: Record<string, NodeFn<S>>;
  /** Event fired when a handler fails, where the table allows it. Default: none (the error fails the run). */
  errorEvent?: string;
  /**
   * Most transitions per run (whole number >= 1). Default
   * {@link DEFAULT_MAX_TRANSITIONS} (20). Each transition is a superstep: keep
   * it below the run's `recursionLimit` (LangGraph's default 25) minus 2.
   */
  maxTransitions?: number;
}

/** The handler of `state` returned an event the transition table does not allow there. */
export class InvalidTransitionError extends LlmWorkflowsError {
  readonly state: string;
  readonly event: string;
  /** The events allowed in `state`. */
  readonly allowed: string[];

  constructor(state: string, event: string, allowed: string[]) {
    super("INVALID_TRANSITION", `invalid transition: state "${state}" has no event "${event}"; allowed: ${allowed.length ? allowed.join(", ") : "none (terminal)"}`);
    this.state = state;
    this.event = event;
    this.allowed = allowed;
  }
}

/** The machine took `maxTransitions` transitions without reaching a terminal state. */
export class MaxTransitionsError extends LlmWorkflowsError {
  readonly state: string;
  readonly maxTransitions: number;

  constructor(state: string, maxTransitions: number) {
    super("MAX_TRANSITIONS", `the state machine made ${maxTransitions} transitions (maxTransitions) without reaching a terminal state; it is in "${state}"`);
    this.state = state;
    this.maxTransitions = maxTransitions;
  }
}

/** Every state of `table`: its keys and every target, in first-seen order. */
export function statesOf(table: TransitionTable): string[] {
  const states = new Set<string>();
  for (const [from, events] of Object.entries(table)) {
    states.add(from);
    for (const to of Object.values(events)) states.add(to);
  }
  return [...states];
}

/**
 * The state `event` leads to from `state`.
 * @throws {InvalidTransitionError} when the table has no such transition.
 */
export function nextState(table: TransitionTable, state: string, event: string): string {
  const events = Object.hasOwn(table, state) ? table[state] : {};
  if (typeof event !== "string" || !Object.hasOwn(events, event)) throw new InvalidTransitionError(state, String(event), Object.keys(events));
  return events[event];
}

const BUILDER = "buildStateMachine";

/**
 * Builds a state machine (see the module doc). Your state must include
 * {@link stateMachineFields}.
 *
 * @throws {GraphDefinitionError} when a non-terminal state has no handler, a
 *   handler or `onTerminal` names no state (or a non-terminal one), a terminal
 *   state has transitions, the initial state is unknown or terminal, a state
 *   cannot be reached from a fixed initial state, `maxTransitions` is not a
 *   whole number >= 1, or a state is named like a reserved node.
 * @throws {InvalidTransitionError} at run time for an event the table does not allow.
 * @throws {MaxTransitionsError} at run time after `maxTransitions` transitions.
 */
export function buildStateMachine<S extends StateMachineState>(options: StateMachineOptions<S>): BuiltGraph {
  const table = options.transitions;
  const states = statesOf(table);
  if (states.length === 0) throw new GraphDefinitionError(BUILDER, "the transition table is empty");
  const terminal = new Set(options.terminal ?? states.filter((s) => Object.keys(table[s] ?? {}).length === 0));
  for (const t of terminal) {
    if (!states.includes(t)) throw new GraphDefinitionError(BUILDER, `terminal state "${t}" is not in the transition table`);
    if (Object.keys(table[t] ?? {}).length) throw new GraphDefinitionError(BUILDER, `terminal state "${t}" has transitions (${Object.keys(table[t]).join(", ")})`);
  }
  const active = states.filter((s) => !terminal.has(s));
  for (const s of active) if (!options.handlers[s]) throw new GraphDefinitionError(BUILDER, `state "${s}" has no handler`);
  for (const s of Object.keys(options.handlers)) {
    if (!active.includes(s)) throw new GraphDefinitionError(BUILDER, `handler "${s}" names ${terminal.has(s) ? "a terminal state (use onTerminal)" : "no state of the table"}`);
  }
  const onTerminal = options.onTerminal ?? {};
  for (const s of Object.keys(onTerminal)) if (!terminal.has(s)) throw new GraphDefinitionError(BUILDER, `onTerminal "${s}" is not a terminal state`);
  const max = options.maxTransitions ?? DEFAULT_MAX_TRANSITIONS;
  if (!Number.isInteger(max) || max < 1) throw new GraphDefinitionError(BUILDER, `maxTransitions must be a whole number >= 1, got ${max}`);
  if (typeof options.initial === "string") {
    if (!active.includes(options.initial)) {
      throw new GraphDefinitionError(BUILDER, `initial state "${options.initial}" is ${terminal.has(options.initial) ? "terminal" : "not in the transition table"}`);
    }
    const reached = new Set([options.initial]);
    const queue = [options.initial];
    while (queue.length) for (const to of Object.values(table[queue.shift()!] ?? {})) if (!reached.has(to)) (reached.add(to), queue.push(to));
    const unreachable = states.filter((s) => !reached.has(s));
    if (unreachable.length) throw new GraphDefinitionError(BUILDER, `states not reachable from "${options.initial}": ${unreachable.join(", ")}`);
  }
  const nodes = [...active, ...Object.keys(onTerminal)];
  checkNodeNames(BUILDER, [MACHINE_ENTRY_NODE, ...nodes]);

  const graph: any = createGraph(options, options);
  /** Node a state is run by; END for a terminal state without an onTerminal node. */
  const nodeOf = (state: string) => (terminal.has(state) && !onTerminal[state] ? END : state);

  graph.addNode(MACHINE_ENTRY_NODE, (state: S) => {
    const initial = typeof options.initial === "string" ? options.initial : options.initial(state);
    if (!active.includes(initial)) throw new GraphDefinitionError(BUILDER, `initial state "${initial}" is ${terminal.has(initial) ? "terminal" : "not in the transition table"}`);
    return { machineState: initial, machineEvent: null, machineHistory: [], machineTransitions: 0, machineError: null };
  });
  graph.addEdge(START, MACHINE_ENTRY_NODE);
  const entryTargets = typeof options.initial === "string" ? [options.initial] : active;
  graph.addConditionalEdges(MACHINE_ENTRY_NODE, (s: S) => s.machineState, Object.fromEntries(entryTargets.map((s) => [s, s])));

  /** The machine fields after `event` in `from`. */
  const transition = (state: S, from: string, event: string) => {
    const to = nextState(table, from, event);
    return {
      machineState: to,
      machineEvent: event,
      machineHistory: [...state.machineHistory, { from, event, to }],
      machineTransitions: state.machineTransitions + 1,
    };
  };

  for (const name of active) {
    const handler = options.handlers[name];
    const events = table[name] ?? {};
    const run = async (state: S, config: LangGraphRunnableConfig) => {
      if (state.machineTransitions >= max) throw new MaxTransitionsError(name, max);
      const result = await handler(state, config);
      const event = typeof result === "string" ? result : result?.event;
      const update = typeof result === "string" ? {} : result?.update ?? {};
      return { ...update, ...transition(state, name, event) };
    };
    const errorTarget = options.errorEvent !== undefined && Object.hasOwn(events, options.errorEvent) ? events[options.errorEvent] : undefined;
    if (errorTarget === undefined) addPolicyNode(graph, name, run, options);
    else {
      addGuardedNode(
        graph,
        name,
        run,
        options,
        (state: S, error, _config, raw) => {
          // A broken table or a runaway machine is a programming error: never an event. Throw a
          // new error object: LangGraph 1.4 ignores the failed node's own error object when an
          // error handler rethrows it, and the run would end silently.
          if (raw instanceof InvalidTransitionError) throw new InvalidTransitionError(raw.state, raw.event, raw.allowed);
          if (raw instanceof MaxTransitionsError) throw new MaxTransitionsError(raw.state, raw.maxTransitions);
          if (error.name === "InvalidTransitionError" || error.name === "MaxTransitionsError") {
            // After a resume LangGraph hands the handler a plain Error carrying only the name and message.
            throw Object.assign(new Error(error.message), { name: error.name });
          }
          return new Command({ update: { ...transition(state, name, options.errorEvent!), machineError: error }, goto: nodeOf(errorTarget) });
        },
        [nodeOf(errorTarget)],
      );
    }
    graph.addConditionalEdges(name, (s: S) => s.machineEvent, Object.fromEntries(Object.entries(events).map(([event, to]) => [event, nodeOf(to)])));
  }
  for (const [name, run] of Object.entries(onTerminal)) {
    addPolicyNode(graph, name, run, options);
    graph.addEdge(name, END);
  }
  return graph;
}
