import { describe, expect, it } from "vitest";
import { graph as research, planSubtasks, researchSubtask, synthesizeFindings } from "../../graphs/researchAssistant.js";
import { graph as refinement, evaluateDraft, generateDraft } from "../../graphs/iterativeRefinement.js";

const sources = "Sessions keep cookies across requests. Basic authentication takes a user and a password. A timeout stops a request from hanging.";

describe("researchAssistant", () => {
  it("plan_subtasks plans as many subtasks as the task asks, up to maxSubtasks", async () => {
    const base = { task: "Explain sessions, authentication and timeouts", sources, subtasks: [], findings: [], synthesis: "", workerResults: [] };
    expect((await planSubtasks({ ...base, maxSubtasks: 3 }, {})).subtasks).toHaveLength(3);
    expect((await planSubtasks({ ...base, maxSubtasks: 2 }, {})).subtasks).toHaveLength(2);
    expect((await planSubtasks({ ...base, task: "Explain sessions", maxSubtasks: 3 }, {})).subtasks).toHaveLength(1);
  });

  it("a worker draws on the sources relevant to its subtask", async () => {
    const finding = await researchSubtask("authentication", 0, { task: "t", sources }, {});
    expect(finding).toEqual({ subtask: "authentication", finding: "Basic authentication takes a user and a password." });
  });

  it("the synthesizer writes one answer from the findings in order", async () => {
    const findings = [
      { subtask: "a", finding: "Sessions keep cookies." },
      { subtask: "b", finding: "A timeout stops hangs." },
    ];
    const out = await synthesizeFindings({ task: "Explain sessions and timeouts" } as any, findings, {});
    expect(out.findings).toBe(findings);
    expect(out.synthesis).toContain("Sessions keep cookies.");
  });

  it("fans out one worker per planned subtask and keeps plan order", async () => {
    const out = await research.invoke({ task: "Explain sessions, authentication and timeouts", sources });
    expect(out.subtasks).toEqual(["Explain sessions", "authentication", "timeouts"]);
    expect(out.findings.map((f: { subtask: string }) => f.subtask)).toEqual(out.subtasks);
    expect(out.synthesis.length).toBeGreaterThan(0);
  });
});

describe("iterativeRefinement", () => {
  it("generate writes a first draft, then refines with the feedback", async () => {
    const base = { task: "Explain timeouts", reference: "A timeout stops a request from hanging. Cookies are unrelated.", threshold: 8, maxIterations: 3, iteration: 0, draft: "", score: null, feedback: "", attempts: [], final: "", finalScore: null, stopReason: null, revisedAfter: 0, review: null, humanReview: false, reviewTimeoutMs: undefined };
    const first = await generateDraft(base, {});
    expect(first.draft).toBe("A timeout stops a request from hanging.");
    const evaluation = await evaluateDraft({ ...base, draft: first.draft }, {});
    expect(evaluation.score).toBeGreaterThanOrEqual(1);
    expect(evaluation.score).toBeLessThanOrEqual(10);
    expect(evaluation.feedback).toMatch(/Explain/);
  });

  it("stops on the iteration cap with low scores and returns the best attempt", async () => {
    const out = await refinement.invoke({ task: "Explain quantum chromodynamics", reference: "Bread is baked.", maxIterations: 2 });
    expect(out.stopReason).toBe("max_iterations");
    expect(out.iteration).toBe(2);
    expect(out.attempts).toHaveLength(2);
    expect(out.finalScore).toBe(Math.max(...out.attempts.map((a: { score: number }) => a.score)));
  });

  it("stops as soon as the score reaches the threshold", async () => {
    const out = await refinement.invoke({ task: "Timeouts stop hanging requests", reference: "Timeouts stop hanging requests.", threshold: 8 });
    expect(out.stopReason).toBe("threshold");
    expect(out.iteration).toBe(1);
    expect(out.finalScore).toBeGreaterThanOrEqual(8);
  });

  it("rejects a cap above the limit", async () => {
    await expect(refinement.invoke({ task: "x", maxIterations: 50 })).rejects.toThrow();
  });
});
