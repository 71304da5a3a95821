import { describe, expect, it } from "vitest";
import { ActionPlan, analyzeSentiment, extractTopics, feedbackGate, graph, planActions } from "../../graphs/feedbackAnalysis.js";
import { InMemorySupportDesk } from "../../graphs/lib/supportDesk.js";

const blank = { feedback: "", sentiment: null, topics: null, topicsModel: null, actionPlan: null, escalationId: null, stopReason: null, stoppedAfter: null };

describe("feedbackAnalysis nodes", () => {
  it("analyze_sentiment returns a sentiment with a confidence in [0, 1]", async () => {
    const { sentiment } = await analyzeSentiment({ ...blank, feedback: "Excellent sound, I love it, highly recommend" }, {});
    expect(sentiment.sentiment).toBe("positive");
    expect(sentiment.confidence).toBeGreaterThan(0);
    expect(sentiment.confidence).toBeLessThanOrEqual(1);
  });

  it("extract_topics uses the strong model role below confidence 0.7 and the default one above", async () => {
    const base = { ...blank, feedback: "The case is fine." };
    expect((await extractTopics({ ...base, sentiment: { sentiment: "neutral", confidence: 0.5, reasoning: "" } }, {})).topicsModel).toBe("strong");
    expect((await extractTopics({ ...base, sentiment: { sentiment: "neutral", confidence: 0.9, reasoning: "" } }, {})).topicsModel).toBe("default");
  });

  it("plan_actions returns items and a priority from the schema", async () => {
    const { actionPlan } = await planActions({ ...blank, feedback: "It stopped working after a day, a waste, I want a refund." }, {});
    expect(ActionPlan.safeParse(actionPlan).success).toBe(true);
    expect(actionPlan.priority).toBe("high");
  });

  it("the gate lets only negative, high-priority feedback through to escalation", () => {
    const plan = (priority: "high" | "low") => ({ items: ["x"], priority, reasoning: "" });
    const s = (sentiment: "negative" | "positive", priority: "high" | "low") => ({ ...blank, sentiment: { sentiment, confidence: 0.9, reasoning: "" }, actionPlan: plan(priority) });
    expect(feedbackGate(s("negative", "high"), "plan_actions")).toBeUndefined();
    expect(feedbackGate(s("negative", "low"), "plan_actions")).toMatch(/no escalation: sentiment negative, priority low/);
    expect(feedbackGate(s("positive", "high"), "plan_actions")).toMatch(/no escalation/);
    expect(feedbackGate(s("positive", "high"), "analyze_sentiment")).toBeUndefined();
  });
});

describe("feedbackAnalysis graph", () => {
  it("opens exactly one escalation ticket for negative, high-priority feedback", async () => {
    const desk = new InMemorySupportDesk();
    const out = await graph.invoke(
      { feedback: "The charger stopped working after two days, a complete waste of money. I want a refund." },
      { configurable: { supportDesk: desk } },
    );
    expect(out.sentiment.sentiment).toBe("negative");
    expect(out.actionPlan.priority).toBe("high");
    expect(out.escalationId).toBe("ESC-00001");
    expect(desk.escalations).toHaveLength(1);
    expect(out.stopReason).toBeNull();
  });

  it("stops before escalation for positive feedback, saying why", async () => {
    const desk = new InMemorySupportDesk();
    const out = await graph.invoke({ feedback: "Great value and excellent sound, I love it." }, { configurable: { supportDesk: desk } });
    expect(out.sentiment.sentiment).toBe("positive");
    expect(out.escalationId).toBeNull();
    expect(out.stoppedAfter).toBe("plan_actions");
    expect(desk.escalations).toHaveLength(0);
  });

  it("rejects empty feedback naming the field", async () => {
    await expect(graph.invoke({ feedback: "  " })).rejects.toThrow(/feedback/);
  });
});
