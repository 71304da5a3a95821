/** The README stays true: its diagrams are the graphs' own, and every workflow is documented. */
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { withDiagrams } from "../scripts/readme-diagrams.js";
import { workflowNames } from "../graphs/index.js";

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");

describe("README.md", () => {
  it("shows each workflow's current Mermaid diagram (run `npm run docs` to refresh)", () => {
    expect(withDiagrams(readme)).toBe(readme);
  });

  it.each([...workflowNames])("documents %s with a section and a CLI example", (name) => {
    expect(readme).toContain(`### ${name}`);
    expect(readme).toMatch(new RegExp(`llm-workflows run ${name}`));
  });

  it("gives the two quick-start commands", () => {
    expect(readme).toMatch(/npm start/);
    expect(readme).toMatch(/npm test/);
  });
});
