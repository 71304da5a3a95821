/**
 * Pub-sub, event-driven (the *Workflow Patterns Cheatsheet*, "Advanced Patterns / Pub-Sub"): an event
 * bus node publishes events and every node subscribed to an event's type gets
 * it, all in one superstep; their results are gathered.
 *
 * ```
 * START -> bus --Send--> subscriberA --+
 *             \--Send--> subscriberB --+--> gather -> END
 *              \-Send--> subscriberC --+
 * ```
 *
 * Subscriptions are declared when the graph is built (`{ eventType:
 * [subscriber, ...] }`, `"*"` for every type): a subscription naming an unknown
 * subscriber, or a subscriber subscribed to nothing, is a
 * {@link GraphDefinitionError}. At run time the `bus` node calls `events`
 * (one event or several) and `Send`s each event to each of its subscribers:
 * every delivery runs in the same superstep (never one after another), each
 * subscriber is its own node with the builder's retry policy and timeout.
 * `gather` puts the deliveries in order (event, then subscriber declaration
 * order), checks that each expected delivery came back exactly once, lists the
 * events nobody subscribed to, and passes this {@link PubSubReport} to
 * `collect`.
 *
 * A subscriber that fails (after its retries) fails the run by default
 * (`onSubscriberError: "fail"`); with `"record"` the failure is a delivery with
 * `ok: false` and its error, and the other subscribers' results are kept.
 *
 * State ({@link pubSubFields}): `busEvents` (the events published) and
 * `busDeliveries` (one {@link Delivery} per subscriber and event).
 *
 * @example
 * ```ts
 * const State = new StateSchema({ userId: z.string(), notes: z.array(z.string()).default(() => []), ...pubSubFields });
 * const graph = buildPubSub<typeof State.State>({
 *   state: State,
 *   events: (s) => ({ type: "user_created", payload: { userId: s.userId } }),
 *   subscribers: { sendWelcomeEmail: (e) => sendEmail(e.payload), logUserCreation: (e) => audit(e) },
 *   subscriptions: { user_created: ["sendWelcomeEmail", "logUserCreation"] },
 *   collect: (report) => ({ notes: report.deliveries.map((d) => `${d.subscriber}: ${d.ok}`) }),
 * }).compile();
 * ```
 * @module
 */
import { Command, END, Overwrite, ReducedValue, START, Send, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import { GraphDefinitionError, LlmWorkflowsError } from "../../runtime/errors.js";
import { checkNodeNames } from "../core/nodeNames.js";
import { createGraph, type BuiltGraph, type GraphSchemas } from "../core/graph.js";
import { FanOutIncompleteError } from "../core/fanOut.js";
import { addPolicyNode, type NodePolicyOptions } from "../resilience/retry.js";
import { addGuardedNode, caughtErrorSchema, type CaughtError } from "../resilience/tryCatch.js";

/** Name of the node that publishes the events. */
export const BUS_NODE = "bus";
/** Name of the node that gathers the deliveries. */
export const GATHER_NODE = "gather";
/** Subscription key matching every event type. */
export const ANY_EVENT = "*";

/** An event on the bus. */
export const busEventSchema = z.object({ type: z.string().min(1), payload: z.unknown().optional() });
/** An event on the bus: its type (what subscriptions match) and a payload (JSON). */
export interface BusEvent<P = unknown> {
  type: string;
  payload?: P;
}

/** One event delivered to one subscriber. */
export const deliverySchema = z.object({
  event: z.number().int().describe("Index of the event among those published"),
  type: z.string(),
  subscriber: z.string(),
  ok: z.boolean(),
  result: z.unknown().optional(),
  error: caughtErrorSchema.optional(),
});
/** One event delivered to one subscriber: its result, or (with `onSubscriberError: "record"`) its error. */
export interface Delivery<R = unknown> {
  event: number;
  type: string;
  subscriber: string;
  ok: boolean;
  result?: R;
  error?: CaughtError;
}

/** State fields a pub-sub graph needs: spread them into your `StateSchema`. */
export const pubSubFields = {
  busEvents: z.array(busEventSchema).default(() => []).describe("The events the bus published in this run"),
  busDeliveries: new ReducedValue(z.array(deliverySchema).default(() => []) as unknown as z.ZodType<Delivery[]>, {
    inputSchema: z.array(deliverySchema) as unknown as z.ZodType<Delivery[]>,
    reducer: (current: Delivery[], next: Delivery[]) => current.concat(next),
  }),
};

/** State a pub-sub graph reads: your fields plus {@link pubSubFields}. */
export interface PubSubState {
  busEvents: BusEvent[];
  busDeliveries: Delivery[];
}

/** A subscriber: gets one event and the context, returns a result (JSON). */
export type Subscriber<C, R> = (event: BusEvent<any>, context: C, config: LangGraphRunnableConfig) => Promise<R> | R;

/** What `gather` hands to `collect`. */
export interface PubSubReport<R = unknown> {
  events: BusEvent[];
  /** Every delivery, by event then subscriber declaration order. */
  deliveries: Delivery<R>[];
  /** Deliveries that failed (only with `onSubscriberError: "record"`). */
  failed: Delivery<R>[];
  /** Indexes of the events no subscriber got. */
  unhandled: number[];
}

/** Options of {@link buildPubSub}. */
export interface PubSubOptions<S, C, R> extends GraphSchemas, NodePolicyOptions {
  /** The event(s) to publish, from the state (run in the `bus` node). */
  events: (state: S, config: LangGraphRunnableConfig) => BusEvent | BusEvent[] | Promise<BusEvent | BusEvent[]>;
  /** Subscriber name (node name) -> function. */
  subscribers: Record<string, Subscriber<C, R>>;
  /** Event type (or `"*"`) -> names of its subscribers. */
  subscriptions: Record<string, string[]>;
  /** Values of the state every subscriber gets. Default: none. */
  context?: (state: S) => C;
  /** A failing subscriber fails the run (`"fail"`, default) or is recorded as a failed delivery (`"record"`). */
  onSubscriberError?: "fail" | "record";
  /** Turns the report into the final update. Default: none (the deliveries stay in `busDeliveries`). */
  collect?: (report: PubSubReport<R>, state: S) => Partial<S>;
}

/** The payload the bus sends to a subscriber node. */
interface DeliveryPayload<C> {
  event: BusEvent;
  index: number;
  context: C;
}

/** `events` returned something that is not a `{ type, payload }` event. */
export class InvalidBusEventError extends LlmWorkflowsError {
  constructor(index: number, value: unknown) {
    super("INVALID_BUS_EVENT", `event ${index} is not { type: non-empty string, payload? }: ${JSON.stringify(value)}`);
  }
}

/** Subscribers of `type`, each once, in declaration order. */
export function subscribersOf(subscriptions: Record<string, string[]>, order: string[], type: string): string[] {
  const wanted = new Set([...(Object.hasOwn(subscriptions, type) ? subscriptions[type] : []), ...(subscriptions[ANY_EVENT] ?? [])]);
  return order.filter((s) => wanted.has(s));
}

/**
 * Builds a pub-sub graph (see the module doc). Your state must include
 * {@link pubSubFields}.
 *
 * @throws {GraphDefinitionError} with no subscribers, when a subscription names
 *   an unknown subscriber (or one twice), a subscriber has no subscription, or
 *   on a reserved name (`bus`, `gather`).
 * @throws {InvalidBusEventError} at run time when `events` returns a malformed event.
 * @throws {FanOutIncompleteError} at run time if a delivery is missing or repeated.
 */
export function buildPubSub<S extends PubSubState, C = undefined, R = unknown>(options: PubSubOptions<S, C, R>): BuiltGraph {
  const names = Object.keys(options.subscribers);
  if (names.length === 0) throw new GraphDefinitionError("buildPubSub", "needs at least one subscriber");
  checkNodeNames("buildPubSub", [BUS_NODE, ...names, GATHER_NODE]);
  const subscribed = new Set<string>();
  for (const [type, subs] of Object.entries(options.subscriptions)) {
    const seen = new Set<string>();
    for (const sub of subs) {
      if (!Object.hasOwn(options.subscribers, sub)) {
        throw new GraphDefinitionError("buildPubSub", `event "${type}" is subscribed to by unknown subscriber "${sub}"; subscribers: ${names.join(", ")}`);
      }
      if (seen.has(sub)) throw new GraphDefinitionError("buildPubSub", `event "${type}" lists subscriber "${sub}" twice`);
      seen.add(sub);
      subscribed.add(sub);
    }
  }
  const idle = names.filter((n) => !subscribed.has(n));
  if (idle.length) throw new GraphDefinitionError("buildPubSub", `subscriber(s) ${idle.join(", ")} subscribe to no event`);
  const mode = options.onSubscriberError ?? "fail";
  if (mode !== "fail" && mode !== "record") throw new GraphDefinitionError("buildPubSub", `onSubscriberError must be "fail" or "record", got ${JSON.stringify(mode)}`);

  const graph: any = createGraph(options, options);
  addPolicyNode(graph, BUS_NODE, async (state: S, config: LangGraphRunnableConfig) => {
    const published = await options.events(state, config);
    const events = (Array.isArray(published) ? published : [published]).map((e, i) => {
      const parsed = busEventSchema.safeParse(e);
      if (!parsed.success) throw new InvalidBusEventError(i, e);
      return e;
    });
    return { busEvents: events, busDeliveries: new Overwrite([]) };
  }, options);
  graph.addEdge(START, BUS_NODE);
  graph.addConditionalEdges(
    BUS_NODE,
    (state: S) => {
      const context = (options.context ? options.context(state) : undefined) as C;
      const sends = state.busEvents.flatMap((event, index) =>
        subscribersOf(options.subscriptions, names, event.type).map((sub) => new Send(sub, { event, index, context } satisfies DeliveryPayload<C>)),
      );
      return sends.length ? sends : GATHER_NODE;
    },
    [...names, GATHER_NODE],
  );

  for (const name of names) {
    const subscriber = options.subscribers[name];
    const run = async (payload: DeliveryPayload<C>, config: LangGraphRunnableConfig) => ({
      busDeliveries: [{ event: payload.index, type: payload.event.type, subscriber: name, ok: true, result: await subscriber(payload.event, payload.context, config) }],
    });
    if (mode === "fail") addPolicyNode(graph, name, run, options);
    else {
      addGuardedNode(
        graph,
        name,
        run,
        options,
        (payload: DeliveryPayload<C>, error) =>
          new Command({
            update: { busDeliveries: [{ event: payload.index, type: payload.event.type, subscriber: name, ok: false, error }] },
            goto: GATHER_NODE,
          }),
        [GATHER_NODE],
      );
    }
    graph.addEdge(name, GATHER_NODE);
  }

  graph.addNode(GATHER_NODE, (state: S) => {
    const expected = state.busEvents.flatMap((event, index) => subscribersOf(options.subscriptions, names, event.type).map((sub) => `${index}/${sub}`));
    const position = new Map(expected.map((key, i) => [key, i]));
    const slots: (Delivery<R> | undefined)[] = new Array(expected.length);
    const duplicated: number[] = [];
    for (const d of state.busDeliveries as Delivery<R>[]) {
      const i = position.get(`${d.event}/${d.subscriber}`);
      if (i === undefined || slots[i]) duplicated.push(i ?? -1);
      else slots[i] = d;
    }
    const missing = expected.map((_, i) => i).filter((i) => !slots[i]);
    if (missing.length || duplicated.length) throw new FanOutIncompleteError("buildPubSub deliveries", expected.length, missing, duplicated);
    const deliveries = slots as Delivery<R>[];
    const report: PubSubReport<R> = {
      events: state.busEvents,
      deliveries,
      failed: deliveries.filter((d) => !d.ok),
      unhandled: state.busEvents.map((e, i) => (subscribersOf(options.subscriptions, names, e.type).length ? -1 : i)).filter((i) => i >= 0),
    };
    return options.collect ? options.collect(report, state) : {};
  });
  graph.addEdge(GATHER_NODE, END);
  return graph;
}
