/**
 * Rewrites the Mermaid diagrams in README.md from the graphs themselves: each
 * block between `<!-- mermaid:NAME -->` and `<!-- /mermaid:NAME -->` becomes
 * the output of `drawMermaid()` for workflow NAME. `npm run docs` runs it; a
 * test fails when the README and the graphs disagree.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { workflowNames, getWorkflow } from "../src/registry.js";

const README = new URL("../README.md", import.meta.url);

/** The README block for `name`'s diagram, markers included. */
export function diagramBlock(name: string): string {
  const mermaid = getWorkflow(name).graph.getGraph().drawMermaid().trim();
  return `<!-- mermaid:${name} -->\n\`\`\`mermaid\n${mermaid}\n\`\`\`\n<!-- /mermaid:${name} -->`;
}

/** `text` with every diagram block replaced by the current one. */
export function withDiagrams(text: string): string {
  let out = text;
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
