import { MemorySaver, NodeTimeoutError, StateSchema, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { examples } from "../../graphs/examples/resilienceAndState.js";
import { buildPubSub, InvalidBusEventError, pubSubFields, type PubSubOptions, type PubSubReport } from "../../src/patterns/state/pubSub.js";
import { withRetry } from "../../src/patterns/resilience/retry.js";
import { GraphDefinitionError } from "../../src/runtime/errors.js";

const State = new StateSchema({
  userId: z.string().default(""),
  kinds: z.array(z.string()).default(() => ["user_created"]),
  notes: z.array(z.string()).default(() => []),
  ...pubSubFields,
});
type State = typeof State.State;

/** Each subscriber answers "<name>@<superstep>:<event type>:<context>". */
const sub = (name: string) => (event: { type: string }, context: string, config: LangGraphRunnableConfig) => `${name}@${config.metadata?.langgraph_step}:${event.type}:${context}`;

/** The notes without their superstep, after checking that all share one superstep. */
function oneSuperstep(notes: string[]): string[] {
  const steps = new Set(notes.filter((n) => n.includes("@")).map((n) => n.split("@")[1].split(":")[0]));
  expect(steps.size).toBe(1);
  return notes.map((n) => n.replace(/@\d+/, ""));
}

let lastReport: PubSubReport<string> | undefined;

function build(overrides: Partial<PubSubOptions<State, string, string>> = {}) {
  return buildPubSub<State, string, string>({
    state: State,
    events: (s) => s.kinds.map((type) => ({ type, payload: { userId: s.userId } })),
    subscribers: { welcomeEmail: sub("welcomeEmail"), auditLog: sub("auditLog"), metrics: sub("metrics"), billing: sub("billing") },
    subscriptions: { user_created: ["welcomeEmail", "auditLog"], user_upgraded: ["billing"], "*": ["metrics"] },
    context: (s) => s.userId,
    collect: (report) => ((lastReport = report), { notes: report.deliveries.map((d) => String(d.result ?? d.error?.message)) }),
    retryPolicy: withRetry({ maxAttempts: 2, initialIntervalMs: 1, jitter: false }),
    ...overrides,
  }).compile({ checkpointer: new MemorySaver() });
}
const thread = (id: string) => ({ configurable: { thread_id: id } });

describe("buildPubSub", () => {
  it("happy path: every subscriber of the event gets it in one superstep; results gathered in declaration order", async () => {
    const out = await build().invoke({ userId: "u1" }, thread("ok"));
    expect(oneSuperstep(out.notes)).toEqual(["welcomeEmail:user_created:u1", "auditLog:user_created:u1", "metrics:user_created:u1"]);
    expect(out.busEvents).toEqual([{ type: "user_created", payload: { userId: "u1" } }]);
    expect(out.busDeliveries.map((d: { subscriber: string; ok: boolean }) => [d.subscriber, d.ok])).toEqual([
      ["welcomeEmail", true],
      ["auditLog", true],
      ["metrics", true],
    ]);
    expect(lastReport!.unhandled).toEqual([]);
  });

  it("several events: every delivery of every event in the same superstep, ordered by event then subscriber", async () => {
    const out = await build().invoke({ userId: "u2", kinds: ["user_created", "user_upgraded"] }, thread("many"));
    expect(oneSuperstep(out.notes)).toEqual([
      "welcomeEmail:user_created:u2",
      "auditLog:user_created:u2",
      "metrics:user_created:u2",
      "metrics:user_upgraded:u2",
      "billing:user_upgraded:u2",
    ]);
  });

  it("an event nobody subscribed to (but *) is delivered to * only; with no subscriber at all it is reported unhandled", async () => {
    const graph = build({ subscriptions: { user_created: ["welcomeEmail", "auditLog", "metrics", "billing"] } });
    const out = await graph.invoke({ userId: "u3", kinds: ["user_deleted"] }, thread("unhandled"));
    expect(out.busDeliveries).toEqual([]);
    expect(lastReport!.unhandled).toEqual([0]);
  });

  it("a throwing subscriber fails the run by default", async () => {
    const graph = build({ subscribers: { welcomeEmail: () => { throw new Error("SMTP refused"); }, auditLog: sub("auditLog"), metrics: sub("metrics"), billing: sub("billing") } });
    await expect(graph.invoke({ userId: "u4" }, thread("fail"))).rejects.toThrow("SMTP refused");
  });

  it('onSubscriberError "record": the failure is a delivery with its error, the others\' results are kept', async () => {
    const graph = build({
      onSubscriberError: "record",
      subscribers: { welcomeEmail: () => { throw new Error("SMTP refused"); }, auditLog: sub("auditLog"), metrics: sub("metrics"), billing: sub("billing") },
    });
    const out = await graph.invoke({ userId: "u5" }, thread("record"));
    expect(oneSuperstep(out.notes)).toEqual(["SMTP refused", "auditLog:user_created:u5", "metrics:user_created:u5"]);
    expect(lastReport!.failed).toEqual([
      { event: 0, type: "user_created", subscriber: "welcomeEmail", ok: false, error: { node: "welcomeEmail", name: "Error", message: "SMTP refused" } },
    ]);
  });

  it("a timeout: a slow subscriber fails the run (NodeTimeoutError), or is recorded as failed", async () => {
    const slow = async (_e: unknown, _c: string, config: LangGraphRunnableConfig) => {
      await new Promise((resolve, reject) => {
        const t = setTimeout(resolve, 10_000);
        config.signal?.addEventListener("abort", () => (clearTimeout(t), reject(config.signal!.reason)));
      });
      return "late";
    };
    const subscribers = { welcomeEmail: slow, auditLog: sub("auditLog"), metrics: sub("metrics"), billing: sub("billing") };
    await expect(build({ subscribers, timeoutMs: 20 }).invoke({ userId: "u6" }, thread("t1"))).rejects.toBeInstanceOf(NodeTimeoutError);
    await build({ subscribers, timeoutMs: 20, onSubscriberError: "record" }).invoke({ userId: "u6" }, thread("t2"));
    expect(lastReport!.failed.map((d) => [d.subscriber, d.error?.name])).toEqual([["welcomeEmail", "NodeTimeoutError"]]);
    expect(lastReport!.deliveries.filter((d) => d.ok)).toHaveLength(2);
  });

  it("a malformed event is an InvalidBusEventError", async () => {
    await expect(build({ events: () => ({ payload: 1 }) as never }).invoke({}, thread("bad-event"))).rejects.toBeInstanceOf(InvalidBusEventError);
  });

  it("a second run on the same thread starts with no deliveries", async () => {
    const graph = build();
    const config = thread("rerun");
    await graph.invoke({ userId: "a" }, config);
    const out = await graph.invoke({ userId: "b" }, config);
    expect(out.busDeliveries).toHaveLength(3);
  });

  it("checks subscriptions when the graph is built", () => {
    const base = { state: State, events: () => [], subscribers: { a: () => 1, b: () => 2 } };
    expect(() => buildPubSub<State>({ ...base, subscriptions: { e: ["a", "b", "ghost"] } })).toThrow(/unknown subscriber "ghost"/);
    expect(() => buildPubSub<State>({ ...base, subscriptions: { e: ["a"] } })).toThrow(/b subscribe to no event/);
    expect(() => buildPubSub<State>({ ...base, subscriptions: { e: ["a", "a", "b"] } })).toThrow(/twice/);
    expect(() => buildPubSub<State>({ ...base, subscribers: { bus: () => 1 }, subscriptions: { e: ["bus"] } })).toThrow(/used twice/);
    expect(() => buildPubSub<State>({ ...base, subscribers: {}, subscriptions: {} })).toThrow(GraphDefinitionError);
  });

  it("the example graph: the bus sends to every subscriber, all gathered", async () => {
    const mermaid = examples.pubSub.getGraph().drawMermaid();
    for (const edge of ["bus -.-> sendWelcomeEmail", "bus -.-> logUserCreation", "updateMetrics --> gather"]) expect(mermaid).toContain(edge);
    const out = await examples.pubSub.invoke({ userId: "u" });
    expect(out.notes).toHaveLength(3);
  });
});
