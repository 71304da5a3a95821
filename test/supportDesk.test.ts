/**
 * The support desk comes from the run's config, and nothing is shared
 * between runs: without a desk a run uses a desk that keeps nothing and
 * derives ids from what they are for.
 */
import { describe, expect, it } from "vitest";
import { runWorkflow } from "../src/facade.js";
import "../graphs/index.js"; // registers the ready workflows by name
import { DEMO_SUPPORT_DESK, InMemorySupportDesk, supportDeskFrom } from "../graphs/lib/supportDesk.js";
import { ConfigurationError } from "../src/runtime/errors.js";

const INPUT = { feedback: "The charger stopped working after two days, a complete waste of money. I want a refund." };

describe("the support desk of a run", () => {
  it("is configurable.supportDesk when given, else the demo desk, and a malformed one is refused naming the key", () => {
    const desk = new InMemorySupportDesk();
    expect(supportDeskFrom({ configurable: { supportDesk: desk } })).toBe(desk);
    expect(supportDeskFrom({})).toBe(DEMO_SUPPORT_DESK);
    expect(() => supportDeskFrom({ configurable: { supportDesk: { openCase: () => null } as never } })).toThrow(ConfigurationError);
    expect(() => supportDeskFrom({ configurable: { supportDesk: { openCase: () => null } as never } })).toThrow(/configurable\.supportDesk.*createReturn/);
  });

  it("runs without a desk do not share one: the same input gives the same ids, whatever ran before", async () => {
    const first = await runWorkflow("feedbackAnalysis", INPUT);
    const again = await runWorkflow("feedbackAnalysis", INPUT);
    expect(first.escalationId).toMatch(/^ESC-[0-9A-F]{5}$/);
    expect(again.escalationId).toBe(first.escalationId);
  });

  it("a desk given in the config is the one the run acts on, and only that run", async () => {
    const mine = new InMemorySupportDesk();
    const out = await runWorkflow("feedbackAnalysis", INPUT, { configurable: { supportDesk: mine } });
    expect(out.escalationId).toBe("ESC-00001");
    expect(mine.escalations).toHaveLength(1);
    await runWorkflow("feedbackAnalysis", INPUT);
    expect(mine.escalations).toHaveLength(1);
  });
});
