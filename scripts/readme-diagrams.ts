/**
 * Rewrites the Mermaid diagrams in README.md from the graphs themselves: each
 * block between `<!-- mermaid:NAME -->` and `<!-- /mermaid:NAME -->` becomes
 * the output of `drawMermaid()` for workflow NAME. `npm run docs` runs it; a
 * test fails when the README and the graphs disagree.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { workflowNames, getWorkflow } from "../graphs/index.js";
import { examplesA } from "../graphs/examples/compositionAndControl.js";
import { examples as examplesB } from "../graphs/examples/resilienceAndState.js";

/** The builders' example graphs, by README marker name (`<!-- mermaid:example:NAME -->`). */
export const EXAMPLES: Record<string, { getGraph(): { drawMermaid(): string } }> = { ...examplesA };

const README = new URL("../README.md", import.meta.url);

/** The README block for `name`'s diagram, markers included. */
export function diagramBlock(name: string): string {
  const mermaid = getWorkflow(name).graph.getGraph().drawMermaid().trim();
  return `<!-- mermaid:${name} -->\n\`\`\`mermaid\n${mermaid}\n\`\`\`\n<!-- /mermaid:${name} -->`;
}

/** The README block for a builder example's diagram. */
export function exampleBlock(name: string): string {
  const mermaid = EXAMPLES[name].getGraph().drawMermaid().trim();
  return `<!-- mermaid:example:${name} -->\n\`\`\`mermaid\n${mermaid}\n\`\`\`\n<!-- /mermaid:example:${name} -->`;
}

/** `text` with every diagram block (workflows and builder examples) replaced by the current one. */
export function withDiagrams(text: string): string {
  let out = text;
  for (const [name, graph] of Object.entries(examplesB)) {
    const pattern = new RegExp(`<!-- mermaid-pattern:${name} -->[\\s\\S]*?<!-- /mermaid-pattern:${name} -->`);
    if (!pattern.test(out)) throw new Error(`README.md has no <!-- mermaid-pattern:${name} --> block`);
    const block = `<!-- mermaid-pattern:${name} -->\n\`\`\`mermaid\n${graph.getGraph().drawMermaid().trim()}\n\`\`\`\n<!-- /mermaid-pattern:${name} -->`;
    out = out.replace(pattern, () => block);
  }
  for (const name of Object.keys(EXAMPLES)) {
    const pattern = new RegExp(`<!-- mermaid:example:${name} -->[\\s\\S]*?<!-- /mermaid:example:${name} -->`);
    if (!pattern.test(out)) throw new Error(`README.md has no <!-- mermaid:example:${name} --> block`);
    out = out.replace(pattern, () => exampleBlock(name));
  }
  for (const name of workflowNames) {
    const pattern = new RegExp(`<!-- mermaid:${name} -->[\\s\\S]*?<!-- /mermaid:${name} -->`);
    if (!pattern.test(out)) throw new Error(`README.md has no <!-- mermaid:${name} --> block`);
    out = out.replace(pattern, () => diagramBlock(name));
  }
  return out;
}

if (import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const before = readFileSync(README, "utf8");
  const after = withDiagrams(before);
  writeFileSync(README, after);
  process.stdout.write(after === before ? "README.md diagrams are up to date\n" : "README.md diagrams rewritten\n");
}
