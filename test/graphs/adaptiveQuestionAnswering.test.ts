import { describe, expect, it } from "vitest";
import { answerFromSources, buildReasoningSubgraph, graph, reasoningSubgraph, routeFor, validateReasoning, definition } from "../../graphs/adaptiveQuestionAnswering.js";
import { retrieve } from "../../src/runtime/retrieval.js";

const docs = definition.example.documents!;

describe("adaptiveQuestionAnswering: routing", () => {
  it("routes by complexity and need for external data (*Advanced Workflows*'s branches)", () => {
    expect(routeFor({ complexity: "simple", requires_external_data: false, confidence: 0.9 })).toEqual({ route: "direct_answer" });
    expect(routeFor({ complexity: "simple", requires_external_data: true, confidence: 0.9 })).toEqual({ route: "research_answer" });
    expect(routeFor({ complexity: "complex", requires_external_data: true, confidence: 0.9 })).toEqual({ route: "research_answer" });
    expect(routeFor({ complexity: "moderate", requires_external_data: false, confidence: 0.9 })).toEqual({ route: "reason_step_by_step" });
    expect(routeFor(null)).toBeUndefined();
  });

  it("takes each route end to end", async () => {
    const research = await graph.invoke(definition.example);
    expect(research.route).toBe("research_answer");
    expect(research.sources).toEqual(["Timeouts"]);
    expect(research.answer).toMatch(/timeout/i);

    const direct = await graph.invoke({ question: "What is a session?" });
    expect(direct.route).toBe("direct_answer");

    const reasoned = await graph.invoke({ question: "Compare sessions and plain requests: which should I use for a crawler and why?" });
    expect(reasoned.route).toBe("reason_step_by_step");
    expect(reasoned.reasoning.reasoning_steps.length).toBeGreaterThan(0);
    expect(reasoned.validation).toEqual({ valid: true, problems: [] });
    expect(reasoned.retried).toBe(false);
  });
});

describe("the research route", () => {
  it("retrieves the passages that match the question, best first", async () => {
    const passages = await retrieve("what happens without a timeout", docs, 2);
    expect(passages[0].title).toBe("Timeouts");
    expect(passages.every((p) => p.score > 0)).toBe(true);
    expect(await retrieve("zebra", docs)).toEqual([]);
  });

  it("answers without sources, saying so, when no documents are given", async () => {
    const out = await answerFromSources({ question: "What does the docs say about timeouts?", documents: [] } as any, {});
    expect(out.sources).toEqual([]);
    expect(out.note).toMatch(/no documents were given/);
  });

  it("cites only titles of the documents retrieved", async () => {
    const out = await answerFromSources({ question: "What happens without a timeout?", documents: docs } as any, {});
    for (const s of out.sources ?? []) expect(docs.map((d) => d.title)).toContain(s);
  });
});

describe("the reasoning route", () => {
  it("validates a reasoning: steps present and an answer that follows from them", () => {
    expect(validateReasoning({ reasoning_steps: ["Sessions reuse connections."], final_answer: "Use a session: it reuses connections.", assumptions: [] }, "q").valid).toBe(true);
    const bad = validateReasoning({ reasoning_steps: ["Sessions reuse connections."], final_answer: "Bananas are yellow.", assumptions: [] }, "Which client?");
    expect(bad).toEqual({ valid: false, problems: ["the final answer does not follow from the steps"] });
    expect(validateReasoning({ reasoning_steps: [" "], final_answer: "", assumptions: [] }, "q").problems).toEqual(["no reasoning steps", "no final answer"]);
  });

  it("retries once, more strictly, when validation fails, and not otherwise", async () => {
    const classification = { complexity: "complex" as const, requires_external_data: false, confidence: 0.9 };
    const passed = await reasoningSubgraph.invoke({ question: "Plan the migration of sessions step by step", classification });
    expect(passed.retried).toBe(false);
    expect(passed.stoppedAfter).toBe("validate_reasoning");

    // A reasoner whose final answer does not follow from its steps fails validation: one strict retry follows.
    const unsound = buildReasoningSubgraph(async () => ({
      route: "reason_step_by_step" as const,
      reasoning: { reasoning_steps: ["Sessions reuse connections."], final_answer: "Bananas are yellow.", assumptions: [] },
      answer: "Bananas are yellow.",
      retried: false,
    }));
    const retried = await unsound.invoke({ question: "Which client should a crawler use, sessions or plain requests?", classification });
    expect(retried.retried).toBe(true);
    expect(retried.stoppedAfter).toBeNull();
    expect(retried.answer).not.toBe("Bananas are yellow.");
    expect(retried.validation.valid).toBe(true);
  });
});
