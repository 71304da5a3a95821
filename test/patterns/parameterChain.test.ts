import { NodeTimeoutError, StateSchema, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { GraphDefinitionError } from "../../src/runtime/errors.js";
import {
  buildParameterChain,
  checkSchemaPath,
  findReferences,
  parameterChainGenerations,
  ParameterResolutionError,
  resolveParameters,
  type ParameterStep,
} from "../../src/patterns/composition/parameterChain.js";
import { examplesA } from "../../graphs/examples/compositionAndControl.js";

/** A step that never answers: only its timeout ends it. */
const hang = () => new Promise<never>(() => {});
/** Generous, so that the steps that do answer never hit it, even on a loaded machine. */
const TIMEOUT_MS = 200;

const Order = z.object({ id: z.string(), total: z.number() });
const State = new StateSchema({
  userId: z.string(),
  region: z.string().default("eu"),
  user: z.object({ id: z.string(), name: z.string(), manager: z.object({ id: z.string() }).nullable() }).nullable().default(null),
  orders: z.array(Order).default(() => []),
  total: z.number().default(0),
  taxRate: z.number().default(0),
  message: z.string().default(""),
  tags: z.record(z.string(), z.string()).default(() => ({})),
  anything: z.unknown().optional(),
});
type S = typeof State.State;

/** The source's three steps, plus a step that only needs an input (so it is independent). */
function steps(calls: string[] = []): ParameterStep[] {
  return [
    {
      name: "get_user",
      params: { user_id: "{userId}" },
      run: (p) => {
        calls.push(`get_user(${p.user_id})`);
        return { id: `u-${p.user_id}`, name: "Ada", manager: null };
      },
      output: "user",
    },
    {
      name: "get_tax_rate",
      params: { region: "{region}" },
      run: (p) => {
        calls.push(`get_tax_rate(${p.region})`);
        return 0.2;
      },
      output: "taxRate",
    },
    {
      name: "get_orders",
      params: { user_id: "{user.id}" },
      run: (p) => {
        calls.push(`get_orders(${p.user_id})`);
        return [{ id: "o1", total: 10 }, { id: "o2", total: 5 }];
      },
      output: "orders",
    },
    {
      name: "calculate_total",
      params: { orders: "{orders}", rate: "{taxRate}", note: "for {user.name} ({orders.0.id})" },
      run: (p) => {
        calls.push(`calculate_total(${p.note})`);
        return p.orders.reduce((n: number, o: { total: number }) => n + o.total, 0) * (1 + p.rate);
      },
      output: "total",
    },
  ];
}

describe("references", () => {
  it("finds every reference, nested ones included", () => {
    expect(findReferences({ a: "{x.y}", b: ["lit", { c: "hi {z} and {w.0}" }], d: 3, e: '{"json": 1}', f: "{ spaced }" })).toEqual([
      { parameter: "a", path: "x.y" },
      { parameter: "b.1.c", path: "z" },
      { parameter: "b.1.c", path: "w.0" },
    ]);
  });

  it("resolves whole references to values of any type and embedded ones to text", () => {
    const state = { user: { id: "u1", tags: ["a", "b"], n: 2 }, orders: [{ id: "o1" }] };
    expect(resolveParameters({ id: "{user.id}", tags: "{user.tags}", n: "{user.n}", text: "n={user.n}, o={orders.0.id}, t={user.tags}", lit: 7, nested: { x: ["{orders.0}"] }, json: '{"a": 1}' }, state)).toEqual({
      id: "u1",
      tags: ["a", "b"],
      n: 2,
      text: 'n=2, o=o1, t=["a","b"]',
      lit: 7,
      nested: { x: [{ id: "o1" }] },
      json: '{"a": 1}',
    });
  });

  it("throws ParameterResolutionError through a null value", () => {
    expect(() => resolveParameters({ id: "{user.manager.id}" }, { user: { manager: null } }, "step")).toThrow(ParameterResolutionError);
    expect(() => resolveParameters({ id: "{user.manager.id}" }, { user: { manager: null } }, "step")).toThrow(/user\.manager is null/);
  });

  it("checks paths against zod schemas", () => {
    const schema = State.fields.user;
    expect(checkSchemaPath(schema, ["id"])).toBeUndefined();
    expect(checkSchemaPath(schema, ["manager", "id"])).toBeUndefined();
    expect(checkSchemaPath(schema, ["nope"])).toMatch(/no key "nope"/);
    expect(checkSchemaPath(schema, ["id", "x"])).toMatch(/into a string/);
    expect(checkSchemaPath(State.fields.orders, ["0", "total"])).toBeUndefined();
    expect(checkSchemaPath(State.fields.orders, ["first"])).toMatch(/not an index/);
    expect(checkSchemaPath(State.fields.tags, ["anyKey"])).toBeUndefined();
    expect(checkSchemaPath(State.fields.anything, ["a", "b"])).toBeUndefined();
  });
});

describe("buildParameterChain", () => {
  it("runs the source's chain, resolving each step's parameters from earlier outputs", async () => {
    const calls: string[] = [];
    const graph = buildParameterChain<S>({ state: State, steps: steps(calls) }).compile();
    const out = await graph.invoke({ userId: "123" });
    expect(out.user).toEqual({ id: "u-123", name: "Ada", manager: null });
    expect(out.orders).toHaveLength(2);
    expect(out.total).toBeCloseTo(18);
    expect(calls).toContain("get_orders(u-123)");
    expect(calls).toContain("calculate_total(for Ada (o1))");
  });

  it("puts independent steps in one superstep (generations)", async () => {
    expect(parameterChainGenerations(steps(), State.fields)).toEqual([["get_user", "get_tax_rate"], ["get_orders"], ["calculate_total"]]);
    const stepOf: Record<string, number> = {};
    const tracked = steps().map((s) => ({
      ...s,
      run: (p: Record<string, any>, config: LangGraphRunnableConfig) => {
        stepOf[s.name] = Number(config.metadata?.langgraph_step);
        return s.run(p, config);
      },
    }));
    await buildParameterChain<S>({ state: State, steps: tracked }).compile().invoke({ userId: "1" });
    expect(stepOf.get_user).toBe(stepOf.get_tax_rate);
    expect(stepOf.get_orders).toBe(stepOf.get_user + 1);
    expect(stepOf.calculate_total).toBe(stepOf.get_orders + 1);
  });

  it("orders steps listed in `after` even without a reference", () => {
    const s = steps();
    s[1] = { ...s[1], after: ["get_user"] };
    expect(parameterChainGenerations(s, State.fields)).toEqual([["get_user"], ["get_tax_rate", "get_orders"], ["calculate_total"]]);
  });

  describe("rejects bad definitions when the graph is built", () => {
    const build = (s: ParameterStep[]) => () => buildParameterChain<S>({ state: State, steps: s });
    const step = (name: string, params: Record<string, unknown>, output: string): ParameterStep => ({ name, params, run: () => null, output });

    it("an unknown field", () => {
      expect(build([step("a", { x: "{usr.id}" }, "user")])).toThrow(GraphDefinitionError);
      expect(build([step("a", { x: "{usr.id}" }, "user")])).toThrow(/step "a", parameter x: reference \{usr\.id\}: "usr" is neither a state field nor an earlier step's output/);
    });

    it("an unknown key inside a known field", () => {
      expect(build([...steps().slice(0, 2), step("get_orders", { id: "{user.email}" }, "orders")])).toThrow(/\{user\.email\}: no key "email"/);
    });

    it("a reference to a later step's output, or to the step's own", () => {
      expect(build([step("a", { o: "{orders}" }, "user"), step("b", { u: "{user.id}" }, "orders")])).toThrow(/uses the output of step "b", which comes later/);
      expect(build([step("a", { o: "{total}" }, "total")])).toThrow(/which is this step/);
    });

    it("an embedded reference is checked too", () => {
      expect(build([step("a", { text: "Dear {user.nmae}" }, "message")])).toThrow(/no key "nmae"/);
    });

    it("an output that is not a state field, or written twice", () => {
      expect(build([step("a", {}, "nope")])).toThrow(/output "nope", which is not a field of the state/);
      expect(build([step("a", {}, "total"), step("b", {}, "total")])).toThrow(/both write output "total"/);
    });

    it("duplicate or reserved names, a name that is a state field, no steps, a bad `after`", () => {
      expect(build([step("a", {}, "total"), step("a", {}, "message")])).toThrow(/used twice/);
      expect(build([step("__end__", {}, "total")])).toThrow(GraphDefinitionError);
      expect(build([step("total", {}, "total")])).toThrow(/also a state field/);
      expect(build([])).toThrow(/at least one step/);
      expect(build([{ ...step("a", {}, "total"), after: ["b"] }, step("b", {}, "message")])).toThrow(/runs after "b", which comes later/);
      expect(build([{ ...step("a", {}, "total"), after: ["zzz"] }])).toThrow(/unknown step "zzz"/);
    });
  });

  it("fails the run with the step's error, and ParameterResolutionError through a null value", async () => {
    const s = steps();
    s[2] = { ...s[2], run: () => { throw new Error("orders service down"); } };
    await expect(buildParameterChain<S>({ state: State, steps: s }).compile().invoke({ userId: "1" })).rejects.toThrow("orders service down");

    const nullManager: ParameterStep[] = [
      steps()[0],
      { name: "get_manager", params: { id: "{user.manager.id}" }, run: (p) => p.id, output: "message" },
    ];
    await expect(buildParameterChain<S>({ state: State, steps: nullManager }).compile().invoke({ userId: "1" })).rejects.toThrow(ParameterResolutionError);
  });

  it("times a step out with timeoutMs", async () => {
    const s = steps();
    s[2] = { ...s[2], run: () => hang() };
    const graph = buildParameterChain<S>({ state: State, steps: s, timeoutMs: TIMEOUT_MS, retryPolicy: false }).compile();
    await expect(graph.invoke({ userId: "1" })).rejects.toBeInstanceOf(NodeTimeoutError);
  });

  it("retries a transient failure with the retry policy", async () => {
    let attempts = 0;
    const s = steps();
    s[0] = {
      ...s[0],
      run: () => {
        attempts++;
        if (attempts < 2) throw Object.assign(new Error("overloaded"), { status: 503 });
        return { id: "u", name: "N", manager: null };
      },
    };
    const graph = buildParameterChain<S>({ state: State, steps: s, retryPolicy: { maxAttempts: 3, initialInterval: 1, jitter: false, logWarning: false } }).compile();
    expect((await graph.invoke({ userId: "1" })).user.id).toBe("u");
    expect(attempts).toBe(2);
  });

  it("applies the fallback to a failed step (error or timeout) and goes on", async () => {
    const s = steps();
    s[2] = { ...s[2], run: () => hang() };
    const seen: string[] = [];
    const graph = buildParameterChain<S>({
      state: State,
      steps: s,
      timeoutMs: TIMEOUT_MS,
      retryPolicy: false,
      fallback: (error, state, node) => {
        seen.push(`${node}: ${error.name}`);
        return { orders: [{ id: "cached", total: 1 }] };
      },
    }).compile();
    const out = await graph.invoke({ userId: "1" });
    expect(seen).toEqual(["get_orders: NodeTimeoutError"]);
    expect(out.orders).toEqual([{ id: "cached", total: 1 }]);
    expect(out.total).toBeCloseTo(1.2);
  });

  it("calls the fallback only once the retries are used up", async () => {
    let attempts = 0;
    const s = steps();
    s[2] = { ...s[2], run: () => { attempts++; throw Object.assign(new Error("overloaded"), { status: 503 }); } };
    const out = await buildParameterChain<S>({
      state: State,
      steps: s,
      retryPolicy: { maxAttempts: 3, initialInterval: 1, jitter: false, logWarning: false },
      fallback: () => ({ orders: [] }),
    }).compile().invoke({ userId: "1" });
    expect(attempts).toBe(3);
    expect(out.orders).toEqual([]);
    expect(out.total).toBe(0);
  });

  it("the example graph runs", async () => {
    const out = await examplesA.parameterChain.invoke({ userId: "42" });
    expect(out.total).toBeGreaterThan(0);
  });
});
