import { describe, expect, it } from "vitest";
import { buildEvaluatorOptimizer } from "../../src/patterns/workflow/evaluatorOptimizer.js";
import { definition, DETECTORS, graph, missingItems, validateExtraction, DocumentState, summarizeFindings } from "../../graphs/documentExtraction.js";

const doc = definition.example.document;
const complete = { companies: ["Northwind Traders Inc.", "Contoso Ltd."], dates: ["March 3, 2024", "2024-06-30"], amounts: ["$4.5 million", "12%"] };

describe("documentExtraction: the completeness check", () => {
  it("detects dates, amounts and company names by pattern", () => {
    expect(doc.match(DETECTORS.dates)).toEqual(["March 3, 2024", "2024-06-30"]);
    expect(doc.match(DETECTORS.amounts)).toEqual(["$4.5 million", "12%"]);
    expect(doc.match(DETECTORS.companies)).toEqual(["Northwind Traders Inc.", "Contoso Ltd."]);
  });

  it("finds nothing missing in a complete extraction, and names what a partial one lacks", () => {
    expect(missingItems(doc, complete)).toEqual({ companies: [], dates: [], amounts: [] });
    expect(missingItems(doc, { ...complete, dates: ["2024-06-30"], amounts: [] })).toEqual({ companies: [], dates: ["March 3, 2024"], amounts: ["$4.5 million", "12%"] });
  });

  it("does not count a whole sentence as an extracted item", () => {
    const sentence = "On March 3, 2024 Northwind Traders Inc. signed a supply agreement with Contoso Ltd. worth $4.5 million.";
    expect(missingItems(doc, { companies: [sentence], dates: [sentence], amounts: [sentence] }).dates).toContain("March 3, 2024");
  });

  it("scores a complete extraction 10 and a partial one lower, with guidance naming the misses", async () => {
    const base = { document: doc } as typeof DocumentState.State;
    expect(await validateExtraction({ ...base, draft: JSON.stringify(complete) })).toEqual({ score: 10, feedback: "Complete." });
    const partial = await validateExtraction({ ...base, draft: JSON.stringify({ ...complete, amounts: [] }) });
    expect(partial.score).toBeLessThan(10);
    expect(partial.feedback).toMatch(/amounts \$4\.5 million; 12%/);
  });
});

describe("documentExtraction graph", () => {
  it("re-extracts with guidance at most maxAttempts times and reports what is still missing", async () => {
    const out = await graph.invoke({ document: doc, maxAttempts: 2 });
    expect(out.attempts).toHaveLength(2);
    expect(out.attempts[1].iteration).toBe(2);
    expect(out.attempts[0].feedback).toMatch(/^You missed/);
    expect(out.complete).toBe(false);
    expect(out.missing.length).toBeGreaterThan(0);
    expect(out.summary.length).toBeGreaterThan(0);
  });

  it("stops at the first extraction when it is complete (scripted extractor)", async () => {
    let calls = 0;
    const built: any = buildEvaluatorOptimizer({
      state: DocumentState,
      generate: async (s: any) => {
        calls++;
        return { draft: JSON.stringify(complete), maxIterations: s.maxAttempts, threshold: 10 };
      },
      evaluate: validateExtraction as any,
      then: "summarize",
    });
    built.addNode("summarize", summarizeFindings);
    built.addEdge("summarize", "__end__");
    const out = await built.compile().invoke({ document: doc, maxAttempts: 3 });
    expect(calls).toBe(1);
    expect(out.complete).toBe(true);
    expect(out.missing).toEqual([]);
    expect(out.extraction).toEqual(complete);
  });

  it("rejects an empty document naming the field", async () => {
    await expect(graph.invoke({ document: "" })).rejects.toThrow(/document/);
  });
});
