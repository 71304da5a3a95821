import { NodeTimeoutError, ReducedValue, StateSchema, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  buildDynamicWorkflow,
  dynamicWorkflowFields,
  InvalidPlanError,
  planStages,
  UndeclaredWriteError,
  UnknownPlanStepError,
  validatePlan,
  type DynamicWorkflowOptions,
  type RegisteredStep,
  type StepInfo,
} from "../../src/patterns/composition/dynamicWorkflow.js";
import { examples } from "../../graphs/examples/resilienceAndState.js";
import { GraphDefinitionError } from "../../src/runtime/errors.js";

const State = new StateSchema({
  userId: z.string().default(""),
  profile: z.string().default(""),
  orders: z.array(z.string()).default(() => []),
  reviews: z.array(z.string()).default(() => []),
  summary: z.string().default(""),
  /** "name@superstep" for every step run. */
  trace: new ReducedValue(z.array(z.string()).default(() => []), { inputSchema: z.array(z.string()), reducer: (a: string[], b: string[]) => a.concat(b) }),
  ...dynamicWorkflowFields,
});
type State = typeof State.State;

const at = (name: string, config: LangGraphRunnableConfig) => [`${name}@${config.metadata?.langgraph_step}`];

const STEPS: Record<string, RegisteredStep<State>> = {
  fetchProfile: { run: (s, c) => ({ profile: `profile ${s.userId}`, trace: at("fetchProfile", c) }), reads: ["userId"], writes: ["profile", "trace"], description: "the user's profile" },
  fetchOrders: { run: (s, c) => ({ orders: [`order of ${s.userId}`], trace: at("fetchOrders", c) }), reads: ["userId"], writes: ["orders", "trace"], description: "the user's orders" },
  fetchReviews: { run: (s, c) => ({ reviews: [`review by ${s.userId}`], trace: at("fetchReviews", c) }), reads: ["userId"], writes: ["reviews", "trace"] },
  summarize: {
    run: (s, c) => ({ summary: `${s.profile}; ${s.orders.length} orders; ${s.reviews.length} reviews`, trace: at("summarize", c) }),
    reads: ["profile", "orders", "reviews"],
    writes: ["summary", "trace"],
  },
};

function build(planner: DynamicWorkflowOptions<State>["planner"], overrides: Partial<DynamicWorkflowOptions<State>> = {}) {
  return buildDynamicWorkflow<State>({ state: State, steps: STEPS, planner, retryPolicy: false, ...overrides }).compile();
}
const stepOf = (trace: string[], name: string) => trace.filter((t) => t.startsWith(`${name}@`)).map((t) => Number(t.split("@")[1]));

describe("buildDynamicWorkflow", () => {
  it("happy path: runs the planner's plan; independent steps share a superstep, dependent ones follow", async () => {
    let told: StepInfo[] = [];
    const out = await build(async (_s, steps) => {
      told = steps;
      return ["fetchProfile", "fetchOrders", "fetchReviews", "summarize"];
    }).invoke({ userId: "u1" });
    expect(out.summary).toBe("profile u1; 1 orders; 1 reviews");
    expect(out.plan).toEqual(["fetchProfile", "fetchOrders", "fetchReviews", "summarize"]);
    expect(out.planStages).toEqual([["fetchProfile", "fetchOrders", "fetchReviews"], ["summarize"]]);
    const [p, o, r, s] = ["fetchProfile", "fetchOrders", "fetchReviews", "summarize"].map((n) => stepOf(out.trace, n)[0]);
    expect(new Set([p, o, r]).size).toBe(1);
    expect(s).toBe(p + 1);
    expect(told.map((t) => t.name)).toEqual(Object.keys(STEPS));
    expect(told[0]).toEqual({ name: "fetchProfile", description: "the user's profile", reads: ["userId"], writes: ["profile", "trace"] });
  });

  it("the plan is picked at run time: another input, another plan", async () => {
    const graph = build((s) => (s.userId === "vip" ? ["fetchProfile", "fetchOrders", "summarize"] : ["fetchProfile", "summarize"]));
    const plain = await graph.invoke({ userId: "u2" });
    expect(plain.trace.map((t: string) => t.split("@")[0])).toEqual(["fetchProfile", "summarize"]);
    expect(plain.summary).toBe("profile u2; 0 orders; 0 reviews");
    const vip = await graph.invoke({ userId: "vip" });
    expect(vip.planStages).toEqual([["fetchProfile", "fetchOrders"], ["summarize"]]);
  });

  it("steps without declarations run one after another, in plan order", async () => {
    const steps: Record<string, RegisteredStep<State>> = {
      a: { run: (_s, c) => ({ trace: at("a", c) }) },
      b: { run: (_s, c) => ({ trace: at("b", c) }) },
    };
    const out = await buildDynamicWorkflow<State>({ state: State, steps, planner: () => ["b", "a", "b"] }).compile().invoke({});
    expect(out.planStages).toEqual([["b"], ["a"], ["b"]]);
    expect(out.trace.map((t: string) => t.split("@")[0])).toEqual(["b", "a", "b"]);
  });

  it("an empty plan runs nothing", async () => {
    const out = await build(() => []).invoke({ userId: "u" });
    expect(out.trace).toEqual([]);
    expect(out.planStages).toEqual([]);
  });

  it("an unknown step is an UnknownPlanStepError naming it and the registered steps; nothing runs", async () => {
    const error = await build(() => ["fetchProfile", "deleteAccount"]).invoke({ userId: "u" }).catch((e) => e);
    expect(error).toBeInstanceOf(UnknownPlanStepError);
    expect(error.step).toBe("deleteAccount");
    expect(error.available).toEqual(Object.keys(STEPS));
    expect(error.message).toContain('unknown step "deleteAccount"');
  });

  it("a plan that is not a list of names, or is too long, is an InvalidPlanError", async () => {
    await expect(build(() => "fetchProfile" as unknown as string[]).invoke({})).rejects.toBeInstanceOf(InvalidPlanError);
    await expect(build(() => [1] as unknown as string[]).invoke({})).rejects.toThrow(/array of step names/);
    await expect(build(() => ["fetchProfile", "fetchProfile", "fetchProfile"], { maxPlanLength: 2 }).invoke({})).rejects.toThrow(/more than maxPlanLength 2/);
  });

  it("a throwing step fails the run; later stages do not run", async () => {
    const steps: Record<string, RegisteredStep<State>> = { ...STEPS, fetchOrders: { ...STEPS.fetchOrders, run: () => { throw new Error("orders API down"); } } };
    let summarized = false;
    steps.summarize = { ...STEPS.summarize, run: () => ((summarized = true), {}) };
    const graph = buildDynamicWorkflow<State>({ state: State, steps, planner: () => ["fetchProfile", "fetchOrders", "summarize"], retryPolicy: false }).compile();
    await expect(graph.invoke({ userId: "u" })).rejects.toThrow("orders API down");
    expect(summarized).toBe(false);
  });

  it("fallback: a failing step's update is replaced and the plan goes on with the next stage", async () => {
    const steps: Record<string, RegisteredStep<State>> = { ...STEPS, fetchOrders: { ...STEPS.fetchOrders, run: () => { throw new Error("orders API down"); } } };
    const graph = buildDynamicWorkflow<State>({
      state: State,
      steps,
      planner: () => ["fetchProfile", "fetchOrders", "summarize"],
      retryPolicy: false,
      fallback: (error, _s, node) => ({ orders: [`(${node} unavailable: ${error.message})`] }),
    }).compile();
    const out = await graph.invoke({ userId: "u" });
    expect(out.orders).toEqual(["(fetchOrders unavailable: orders API down)"]);
    expect(out.summary).toBe("profile u; 1 orders; 0 reviews");
    expect(out.planPosition).toBe(2);
  });

  it("a timeout: a slow step fails with NodeTimeoutError", async () => {
    const slow: RegisteredStep<State> = {
      ...STEPS.fetchOrders,
      run: async (_s, config) => {
        await new Promise((resolve, reject) => {
          const t = setTimeout(resolve, 10_000);
          config.signal?.addEventListener("abort", () => (clearTimeout(t), reject(config.signal!.reason)));
        });
        return {};
      },
      timeoutMs: 20,
    };
    const graph = buildDynamicWorkflow<State>({ state: State, steps: { ...STEPS, fetchOrders: slow }, planner: () => ["fetchOrders"], retryPolicy: false }).compile();
    await expect(graph.invoke({ userId: "u" })).rejects.toBeInstanceOf(NodeTimeoutError);
  });

  it("a step writing a key it did not declare fails with UndeclaredWriteError", async () => {
    const sneaky: RegisteredStep<State> = { run: () => ({ profile: "x", summary: "sneaky" }), reads: [], writes: ["profile"] };
    const graph = buildDynamicWorkflow<State>({ state: State, steps: { sneaky }, planner: () => ["sneaky"] }).compile();
    const error = await graph.invoke({}).catch((e) => e);
    expect(error).toBeInstanceOf(UndeclaredWriteError);
    expect(error.keys).toEqual(["summary"]);
  });

  it("rejects an empty registry, the reserved name and a bad maxPlanLength", () => {
    expect(() => buildDynamicWorkflow<State>({ state: State, steps: {}, planner: () => [] })).toThrow(GraphDefinitionError);
    expect(() => buildDynamicWorkflow<State>({ state: State, steps: { planner: STEPS.fetchProfile }, planner: () => [] })).toThrow(/used twice/);
    expect(() => buildDynamicWorkflow<State>({ state: State, steps: STEPS, planner: () => [], maxPlanLength: 0 })).toThrow(/maxPlanLength/);
  });

  it("the example graph: a planner node routing to every registered step", async () => {
    const mermaid = examples.dynamicWorkflow.getGraph().drawMermaid();
    expect(mermaid).toContain("__start__ --> planner");
    expect(mermaid).toContain("planner -.-> fetchOrders");
    expect((await examples.dynamicWorkflow.invoke({ userId: "u", detailed: true })).planStages).toEqual([["fetchProfile", "fetchOrders"], ["summarize"]]);
  });
});

describe("planStages / validatePlan", () => {
  const decl = (reads: string[], writes: string[]) => ({ reads, writes });

  it("puts a reader after the writer of what it reads (read after write)", () => {
    expect(planStages(["w", "r"], { w: decl([], ["x"]), r: decl(["x"], ["y"]) })).toEqual([["w"], ["r"]]);
  });

  it("keeps two writers of one key apart (write after write)", () => {
    expect(planStages(["a", "b"], { a: decl([], ["x"]), b: decl([], ["x"]) })).toEqual([["a"], ["b"]]);
  });

  it("lets a later writer share the stage of an earlier reader, never run before it (write after read)", () => {
    // a reads x; b overwrites x. Together is fine (a reads the state before the superstep); b first is not.
    expect(planStages(["w0", "a", "b"], { w0: decl([], ["z"]), a: decl(["z", "x"], ["y"]), b: decl([], ["x"]) })).toEqual([["w0"], ["a", "b"]]);
  });

  it("runs a repeated step again in a later stage", () => {
    expect(planStages(["a", "a"], { a: decl([], []) })).toEqual([["a"], ["a"]]);
  });

  it("an undeclared step waits for every earlier step, and every later step waits for it", () => {
    expect(planStages(["a", "u", "b"], { a: decl([], ["x"]), u: {}, b: decl([], ["y"]) })).toEqual([["a"], ["u"], ["b"]]);
  });

  it("validatePlan copies a valid plan and names an unknown step", () => {
    expect(validatePlan(["a"], { a: {} })).toEqual(["a"]);
    expect(() => validatePlan(["a", "toString"], { a: {} })).toThrow(UnknownPlanStepError);
  });
});

describe("planStages with reducer keys", () => {
  it("lets two writers of a key with a reducer share a stage, not a reader of it", () => {
    const steps = { a: { reads: [], writes: ["log"] }, b: { reads: [], writes: ["log"] }, c: { reads: ["log"], writes: ["x"] } };
    expect(planStages(["a", "b", "c"], steps, new Set(["log"]))).toEqual([["a", "b"], ["c"]]);
    expect(planStages(["a", "b"], steps)).toEqual([["a"], ["b"]]);
  });
});
