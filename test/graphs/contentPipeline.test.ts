import { describe, expect, it } from "vitest";
import { graph, contentGate, createOutline, definition, MIN_DRAFT_WORDS, MIN_OUTLINE_POINTS } from "../../graphs/contentPipeline.js";

const empty = { topic: "", sources: "", outline: "", draft: "", final: "", stopReason: null, stoppedAfter: null };

describe("contentPipeline", () => {
  it("runs outline -> draft -> polish when the sources give enough to write", async () => {
    const out = await graph.invoke(definition.example);
    expect(out.stopReason).toBeNull();
    expect(out.outline.split("\n").length).toBeGreaterThanOrEqual(MIN_OUTLINE_POINTS);
    expect(out.draft.length).toBeGreaterThan(0);
    expect(out.final.length).toBeGreaterThan(0);
  });

  it("the gate ends the chain after the outline when it is too thin, with the reason", async () => {
    const out = await graph.invoke({ topic: "AI agents" });
    expect(out.stoppedAfter).toBe("create_outline");
    expect(out.stopReason).toMatch(/outline has 1 point/);
    expect(out.draft).toBe("");
    expect(out.final).toBe("");
  });

  it("create_outline writes one point per line from the sources", async () => {
    const { outline } = await createOutline({ ...empty, topic: "Tea", sources: "Green tea is steamed. Black tea is oxidised. Oolong tea is partly oxidised." }, {});
    expect(outline.split("\n")).toHaveLength(3);
    expect(outline).toMatch(/^- /);
  });

  it("the gate checks the outline and the draft, and passes good ones", () => {
    expect(contentGate({ ...empty, outline: "- one" }, "create_outline")).toMatch(/at least 2/);
    expect(contentGate({ ...empty, outline: "- one\n- two" }, "create_outline")).toBeUndefined();
    expect(contentGate({ ...empty, draft: "too short" }, "write_draft")).toMatch(new RegExp(`at least ${MIN_DRAFT_WORDS}`));
    expect(contentGate({ ...empty, draft: "word ".repeat(MIN_DRAFT_WORDS) }, "write_draft")).toBeUndefined();
  });
});
