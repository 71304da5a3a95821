import { StateSchema } from "@langchain/langgraph";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { GraphDefinitionError } from "../../src/runtime/errors.js";
import { DEFAULT_CONFIDENCE_THRESHOLD, buildRouter, selectRoute, type RouterOptions } from "../../src/patterns/workflow/router.js";

const State = new StateSchema({
  // What the test wants the classifier to decide; "" means no decision.
  wanted: z.string(),
  wantedConfidence: z.number().nullable().default(null),
  category: z.string().nullable().default(null),
  confidence: z.number().nullable().default(null),
  handledBy: z.string().default(""),
  fallbackReason: z.string().default(""),
});
type State = typeof State.State;

function makeRouter(extra: Partial<RouterOptions<State>> = {}) {
  const calls: string[] = [];
  const handler = (name: string) => () => {
    calls.push(name);
    return { handledBy: name };
  };
  const graph = buildRouter<State>({
    state: State,
    classifier: {
      name: "classify",
      run: (s) => {
        calls.push("classify");
        return { category: s.wanted || null, confidence: s.wantedConfidence };
      },
    },
    decision: (s) => (s.category ? { route: s.category, confidence: s.confidence } : undefined),
    routes: { billing: handler("billing"), technical: handler("technical"), general: handler("general") },
    fallback: {
      name: "human",
      run: (_s, _config, reason) => {
        calls.push("human");
        return { handledBy: "human", fallbackReason: reason };
      },
    },
    ...extra,
  }).compile();
  return { graph, calls };
}

describe("selectRoute", () => {
  const routes = ["a", "b"];
  it("returns a known, confident route with no reason", () => {
    expect(selectRoute({ route: "a", confidence: 0.9 }, routes, "fb", 0.7)).toEqual({ target: "a" });
  });
  it("treats a missing or null confidence as certain", () => {
    expect(selectRoute({ route: "b" }, routes, "fb", 0.99)).toEqual({ target: "b" });
    expect(selectRoute({ route: "b", confidence: null }, routes, "fb", 0.99)).toEqual({ target: "b" });
  });
  it("takes the route when the confidence equals the threshold", () => {
    expect(selectRoute({ route: "a", confidence: 0.7 }, routes, "fb", 0.7)).toEqual({ target: "a" });
  });
  it("falls back below the threshold, naming confidence and threshold", () => {
    const t = selectRoute({ route: "a", confidence: 0.69 }, routes, "fb", 0.7);
    expect(t.target).toBe("fb");
    expect(t.reason).toMatch(/0\.69.*below.*0\.7/);
  });
  it("falls back on NaN confidence", () => {
    expect(selectRoute({ route: "a", confidence: Number.NaN }, routes, "fb", 0.5).target).toBe("fb");
  });
  it("falls back on an unknown route, naming it", () => {
    const t = selectRoute({ route: "zzz", confidence: 1 }, routes, "fb", 0.7);
    expect(t).toEqual({ target: "fb", reason: expect.stringContaining('"zzz"') });
    expect(t.reason).toMatch(/unknown route/);
  });
  it("falls back when there is no decision or no route", () => {
    for (const d of [undefined, { route: null }, { route: undefined }, { route: "" }]) {
      const t = selectRoute(d, routes, "fb", 0.7);
      expect(t.target).toBe("fb");
      expect(t.reason).toMatch(/no route/);
    }
  });
});

describe("buildRouter", () => {
  it("has a default threshold of 0.7", () => {
    expect(DEFAULT_CONFIDENCE_THRESHOLD).toBe(0.7);
  });

  it.each(["billing", "technical", "general"])("takes the %s route, and only it", async (route) => {
    const { graph, calls } = makeRouter();
    const out = await graph.invoke({ wanted: route, wantedConfidence: 0.95 });
    expect(out.handledBy).toBe(route);
    expect(out.fallbackReason).toBe("");
    expect(calls).toEqual(["classify", route]);
  });

  it("takes the route when the confidence is exactly the default threshold", async () => {
    const { graph, calls } = makeRouter();
    const out = await graph.invoke({ wanted: "billing", wantedConfidence: DEFAULT_CONFIDENCE_THRESHOLD });
    expect(out.handledBy).toBe("billing");
    expect(calls).toEqual(["classify", "billing"]);
  });

  it("falls back below the default threshold, with the reason", async () => {
    const { graph, calls } = makeRouter();
    const out = await graph.invoke({ wanted: "billing", wantedConfidence: 0.69 });
    expect(out.handledBy).toBe("human");
    expect(out.fallbackReason).toBe("confidence 0.69 is below the threshold 0.7");
    expect(calls).toEqual(["classify", "human"]);
  });

  it("falls back on an unknown route, with the reason", async () => {
    const { graph, calls } = makeRouter();
    const out = await graph.invoke({ wanted: "legal", wantedConfidence: 1 });
    expect(out.handledBy).toBe("human");
    expect(out.fallbackReason).toMatch(/unknown route "legal"/);
    expect(calls).toEqual(["classify", "human"]);
  });

  it("falls back when the classifier makes no decision, with the reason", async () => {
    const { graph, calls } = makeRouter();
    const out = await graph.invoke({ wanted: "" });
    expect(out.handledBy).toBe("human");
    expect(out.fallbackReason).toMatch(/no route/);
    expect(calls).toEqual(["classify", "human"]);
  });

  it("uses the builder's confidenceThreshold", async () => {
    const { graph } = makeRouter({ confidenceThreshold: 0.5 });
    expect((await graph.invoke({ wanted: "technical", wantedConfidence: 0.6 })).handledBy).toBe("technical");
    expect((await graph.invoke({ wanted: "technical", wantedConfidence: 0.4 })).fallbackReason).toBe(
      "confidence 0.4 is below the threshold 0.5",
    );
  });

  it("lets a run override the threshold with configurable.confidenceThreshold", async () => {
    const { graph } = makeRouter();
    // 0.6 falls back with the default 0.7 ...
    expect((await graph.invoke({ wanted: "general", wantedConfidence: 0.6 })).handledBy).toBe("human");
    // ... and is routed with a run threshold of 0.5,
    expect(
      (await graph.invoke({ wanted: "general", wantedConfidence: 0.6 }, { configurable: { confidenceThreshold: 0.5 } })).handledBy,
    ).toBe("general");
    // while a stricter run threshold sends a 0.9 to the fallback, whose reason names that threshold.
    const strict = await graph.invoke({ wanted: "general", wantedConfidence: 0.9 }, { configurable: { confidenceThreshold: 0.95 } });
    expect(strict.handledBy).toBe("human");
    expect(strict.fallbackReason).toBe("confidence 0.9 is below the threshold 0.95");
  });

  it("rejects a run threshold outside [0, 1]", async () => {
    const { graph } = makeRouter();
    await expect(
      graph.invoke({ wanted: "general", wantedConfidence: 0.9 }, { configurable: { confidenceThreshold: 1.5 } }),
    ).rejects.toThrow(GraphDefinitionError);
  });

  describe("definition errors", () => {
    it.each([-0.1, 1.01, Number.NaN])("rejects the threshold %s", (confidenceThreshold) => {
      expect(() => makeRouter({ confidenceThreshold })).toThrow(GraphDefinitionError);
    });
    it.each([0, 1])("accepts the threshold %s", (confidenceThreshold) => {
      expect(() => makeRouter({ confidenceThreshold })).not.toThrow();
    });
    it("rejects a route named like the classifier or the fallback", () => {
      expect(() => makeRouter({ routes: { classify: () => ({}) } })).toThrow(GraphDefinitionError);
      expect(() => makeRouter({ routes: { human: () => ({}) } })).toThrow(GraphDefinitionError);
    });
    it("rejects a reserved route name", () => {
      expect(() => makeRouter({ routes: { __end__: () => ({}) } })).toThrow(GraphDefinitionError);
    });
  });
});
