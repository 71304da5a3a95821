import { describe, expect, it } from "vitest";
import { graph as bulk, classifyItem, classificationPrompt } from "../../graphs/bulkClassification.js";
import { graph as sectioned, analyseSentiment, extractKeyPoints, formatSections } from "../../graphs/sectionedAnalysis.js";
import { graph as voting, castVote, VOTER_PROMPTS } from "../../graphs/votingClassification.js";

const labels = { labels: ["urgent", "spam", "normal"], labelDescriptions: { urgent: "outage, down, asap", spam: "prize, free, click", normal: "meeting, minutes" } };

describe("bulkClassification", () => {
  it("classify_item labels one item with a label from the list", async () => {
    const result = await classifyItem("Click to claim your free prize", 0, labels, {});
    expect(result).toMatchObject({ item: "Click to claim your free prize", label: "spam" });
    expect(classificationPrompt("x", labels)).toContain("- urgent: outage, down, asap");
  });

  it.each([0, 1, 1000])("returns %i results, each once, in input order", async (n) => {
    const items = Array.from({ length: n }, (_, i) => `message ${i}: the server is down asap`);
    for (const maxConcurrency of [1, 2, undefined]) {
      const out = await bulk.invoke({ items, ...labels, maxConcurrency });
      expect(out.results.map((r: { item: string }) => r.item)).toEqual(items);
      expect(out.results.every((r: { label: string }) => r.label === "urgent")).toBe(true);
    }
  });

  it("rejects labels that repeat", () => {
    return expect(bulk.invoke({ items: ["a"], labels: ["x", "x"] })).rejects.toThrow();
  });
});

describe("sectionedAnalysis", () => {
  const text = "The charger broke after a day. Please send a replacement. Support was polite.";

  it("each section node returns its own structured value", async () => {
    const base = { text, sections: {}, report: "" };
    expect(await analyseSentiment(base, {})).toMatchObject({ sentiment: expect.stringMatching(/positive|negative|neutral/) });
    const { points } = await extractKeyPoints(base, {});
    expect(points.length).toBeGreaterThan(0);
    for (const p of points) expect(text).toContain(p);
  });

  it("runs the three sections, then the aggregator over all of them", async () => {
    const out = await sectioned.invoke({ text });
    expect(Object.keys(out.sections).sort()).toEqual(["actions", "key_points", "sentiment"]);
    expect(out.report.length).toBeGreaterThan(0);
    expect(formatSections(out.sections)).toMatch(/^Sentiment: \w+ \(confidence/);
  });
});

describe("votingClassification", () => {
  const input = {
    text: "The battery died and the screen broke, a poor product",
    labels: ["positive", "negative"],
    labelDescriptions: { positive: "good, great, love", negative: "broke, died, poor, bad" },
  };

  it("each voter uses its own wording and returns a label", async () => {
    expect(await castVote(0, { ...input, labelDescriptions: input.labelDescriptions }, {})).toBe("negative");
    expect(new Set(VOTER_PROMPTS).size).toBe(VOTER_PROMPTS.length);
  });

  it("takes the number of votes asked for and keeps the counts", async () => {
    const out = await voting.invoke({ ...input, voters: 5 });
    expect(out.votes).toHaveLength(5);
    expect(out.counts).toEqual({ negative: 5 });
    expect(out).toMatchObject({ winner: "negative", agreement: 1, tie: false });
  });
});
