import { describe, expect, it } from "vitest";
import { BILLING_POLICIES, billingSubgraph, graph as support, lookupPolicy, technicalSubgraph } from "../../graphs/intelligentSupport.js";
import { graph as report, definition as reportDefinition } from "../../graphs/researchReport.js";
import { streamWorkflow } from "../../src/facade.js";

describe("intelligentSupport", () => {
  it("sends technical queries through the diagnose -> solution -> verification chain", async () => {
    const out = await support.invoke({ query: "The app crashes when I log in and my PIN is blocked" });
    expect(out.route).toBe("technical");
    expect(Object.keys(out.details).sort()).toEqual(["diagnosis", "solution", "verification"]);
  });

  it("runs the billing account check and policy lookup in one superstep, then combines them", async () => {
    const steps: Record<string, number> = {};
    const sub = await billingSubgraph.invoke(
      { query: "I was charged twice for a card payment, can I get a refund?" },
      {
        callbacks: [
          {
            handleChainStart: (_c: unknown, _i: unknown, _r: string, _p?: string, _t?: string[], metadata?: Record<string, unknown>) => {
              const node = metadata?.langgraph_node as string | undefined;
              if (node && !(node in steps)) steps[node] = metadata?.langgraph_step as number;
            },
          },
        ],
      },
    );
    expect(steps.check_account).toBe(steps.lookup_policy);
    expect(steps.combine).toBeGreaterThan(steps.check_account);
    expect(sub.route).toBe("billing");
    expect(sub.details.policies).toContain("Refunds");
  });

  it("looks policies up in its own knowledge base", async () => {
    const found = await lookupPolicy({ query: "why was I charged a fee for topping up by card?" } as any);
    expect(found[0].title).toBe("Fees");
    expect(BILLING_POLICIES.map((p) => p.title)).toContain(found[0].title);
  });

  it("answers general questions with one call and takes the fallback when unsure", async () => {
    expect((await support.invoke({ query: "Which currencies do you support?" })).route).toBe("general");
    const unsure = await support.invoke({ query: "hello" });
    expect(unsure.route).toBe("fallback");
    expect(unsure.fallbackReason).toMatch(/below the threshold/);
  });

  it("the technical chain is a subgraph of its own", async () => {
    const out = await technicalSubgraph.invoke({ query: "My card is not working" });
    expect(out.route).toBe("technical");
    expect(out.response.length).toBeGreaterThan(0);
  });
});

describe("researchReport", () => {
  it("researches with orchestrator-workers, then polishes with evaluator-optimizer", async () => {
    const out = await report.invoke(reportDefinition.example);
    expect(out.subtasks.length).toBeGreaterThan(0);
    expect(out.findings).toHaveLength(out.subtasks.length);
    expect(out.draft.length).toBeGreaterThan(0);
    expect(out.reviews.length).toBeGreaterThanOrEqual(1);
    expect(out.reviews.length).toBeLessThanOrEqual(reportDefinition.example.maxIterations ?? 3);
    expect(out.report.length).toBeGreaterThan(0);
    expect(out.score).toBe(Math.max(...out.reviews.map((r: { score: number }) => r.score)));
  });

  it("streams the nested workflows' nodes through the facade", async () => {
    const nodes: string[] = [];
    for await (const e of streamWorkflow(reportDefinition, reportDefinition.example)) if (e.type === "node") nodes.push(e.node);
    expect(nodes).toEqual(["research", "polish"]);
  });
});
