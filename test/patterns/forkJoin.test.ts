import { MemorySaver, NodeTimeoutError, StateSchema, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { GraphDefinitionError } from "../../src/runtime/errors.js";
import { buildForkJoin, forkJoinFields, type ForkJoinBranch, type ForkJoinOptions } from "../../src/patterns/composition/forkJoin.js";
import { examplesA } from "../../graphs/examples/compositionAndControl.js";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** A step that never answers: only its timeout ends it. */
const hang = () => new Promise<never>(() => {});
/** Generous, so that the steps that do answer never hit it, even on a loaded machine. */
const TIMEOUT_MS = 200;

const State = new StateSchema({
  userId: z.string(),
  fail: z.array(z.string()).default(() => []),
  summary: z.string().default(""),
  ...forkJoinFields(z.string()),
});
type S = typeof State.State;

/** Branches that answer `name:userId`, or throw when listed in `state.fail`; records the superstep each ran in. */
function branches(steps: Record<string, number> = {}): Record<string, ForkJoinBranch<S, string>> {
  const branch = (name: string): ForkJoinBranch<S, string> => async (s: S, config: LangGraphRunnableConfig) => {
    steps[name] = Number(config.metadata?.langgraph_step);
    await sleep(2);
    if (s.fail.includes(name)) throw new Error(`${name} is down`);
    return `${name}:${s.userId}`;
  };
  return { profile: branch("profile"), orders: branch("orders"), reviews: branch("reviews") };
}

function build(options: Partial<ForkJoinOptions<S, string>> = {}, steps: Record<string, number> = {}) {
  return buildForkJoin<S, string>({
    state: State,
    branches: branches(steps),
    join: {
      name: "combine",
      run: (_s, results, failures) => ({
        summary: [...Object.keys(results).sort().map((k) => results[k]), ...failures.map((f) => `!${f.branch}: ${f.message}`)].join(" | "),
      }),
    },
    retryPolicy: false,
    ...options,
  });
}

describe("buildForkJoin", () => {
  it("runs every branch in one superstep and joins their results once", async () => {
    const steps: Record<string, number> = {};
    let joins = 0;
    const graph = build({ join: { name: "combine", run: (_s, results) => (joins++, { summary: Object.keys(results).sort().join(",") }) } }, steps).compile();
    const out = await graph.invoke({ userId: "7" });
    expect(out.branchResults).toEqual({ profile: "profile:7", orders: "orders:7", reviews: "reviews:7" });
    expect(out.summary).toBe("orders,profile,reviews");
    expect(out.branchFailures).toEqual([]);
    expect(new Set(Object.values(steps)).size).toBe(1);
    expect(joins).toBe(1);
  });

  it("fails the run with a failing branch's error (the join does not run)", async () => {
    let joined = false;
    const graph = build({ join: { name: "combine", run: () => ((joined = true), {}) } }).compile();
    await expect(graph.invoke({ userId: "7", fail: ["orders"] })).rejects.toThrow("orders is down");
    expect(joined).toBe(false);
  });

  it("with tolerateFailures, records the failures and joins the others", async () => {
    const out = await build({ tolerateFailures: true }).compile().invoke({ userId: "7", fail: ["orders", "reviews"] });
    expect(out.branchResults).toEqual({ profile: "profile:7" });
    expect(out.branchFailures).toHaveLength(2);
    expect(out.branchFailures).toEqual(
      expect.arrayContaining([
        { branch: "orders", error: "Error", message: "orders is down" },
        { branch: "reviews", error: "Error", message: "reviews is down" },
      ]),
    );
    expect(out.summary).toContain("profile:7");
    expect(out.summary).toContain("!orders: orders is down");
    expect(out.summary).toContain("!reviews: reviews is down");
  });

  it("times a branch out with timeoutMs: an error by default, a recorded failure with tolerateFailures", async () => {
    const slow = { ...branches(), reviews: () => hang() };
    await expect(build({ branches: slow, timeoutMs: TIMEOUT_MS }).compile().invoke({ userId: "1" })).rejects.toBeInstanceOf(NodeTimeoutError);
    const out = await build({ branches: slow, timeoutMs: TIMEOUT_MS, tolerateFailures: true }).compile().invoke({ userId: "1" });
    expect(out.branchFailures).toEqual([expect.objectContaining({ branch: "reviews", error: "NodeTimeoutError" })]);
    expect(Object.keys(out.branchResults).sort()).toEqual(["orders", "profile"]);
  });

  it("applies the fallback to a failed branch (a substitute result) and records the failure", async () => {
    const out = await build({
      fallback: (error, _state, node) => ({ branchResults: { [node]: `default ${node} (${error.message})` } }),
    }).compile().invoke({ userId: "7", fail: ["reviews"] });
    expect(out.branchResults.reviews).toBe("default reviews (reviews is down)");
    expect(out.branchFailures).toEqual([expect.objectContaining({ branch: "reviews" })]);
    expect(out.summary.startsWith("orders:7 | profile:7 | default reviews")).toBe(true);
  });

  it("retries a transient branch failure before giving up", async () => {
    let attempts = 0;
    const flaky = {
      ...branches(),
      orders: () => {
        attempts++;
        if (attempts === 1) throw Object.assign(new Error("rate limited"), { status: 429 });
        return "orders ok";
      },
    };
    const out = await build({ branches: flaky, retryPolicy: { maxAttempts: 2, initialInterval: 1, jitter: false, logWarning: false } }).compile().invoke({ userId: "1" });
    expect(out.branchResults.orders).toBe("orders ok");
    expect(attempts).toBe(2);
  });

  it("starts each run of a thread with no results or failures of the previous one", async () => {
    const graph = build({ tolerateFailures: true }).compile({ checkpointer: new MemorySaver() });
    const config = { configurable: { thread_id: "t" } };
    await graph.invoke({ userId: "1" }, config);
    const second = await graph.invoke({ userId: "2", fail: ["orders"] }, config);
    expect(second.branchResults).toEqual({ profile: "profile:2", reviews: "reviews:2" });
    expect(second.branchFailures).toHaveLength(1);
  });

  describe("rejects bad definitions when the graph is built", () => {
    it("fewer than two branches", () => {
      expect(() => build({ branches: { only: () => "x" } })).toThrow(/at least two branches/);
    });
    it("a join named like a branch, or a branch named fork", () => {
      expect(() => build({ join: { name: "orders", run: () => ({}) } })).toThrow(/"orders" is used twice/);
      expect(() => build({ branches: { ...branches(), fork: () => "x" } })).toThrow(GraphDefinitionError);
    });
    it("a state without the fork-join fields", () => {
      const Bare = new StateSchema({ userId: z.string() });
      expect(() => buildForkJoin<any>({ state: Bare, branches: branches() as any, join: { name: "j", run: () => ({}) } })).toThrow(/spread forkJoinFields/);
    });
  });

  it("the example graph runs", async () => {
    const out = await examplesA.forkJoin.invoke({ userId: "3" });
    expect(out.summary).toBe("orders, profile, reviews");
  });
});
