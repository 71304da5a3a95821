/**
 * Rewrites the Mermaid diagrams of the documentation from the graphs
 * themselves (`npm run docs`); `test/readme.test.ts` fails when a page and the
 * graphs disagree.
 *
 * - docs/workflows.md: each block between `<!-- mermaid:NAME -->` and
 *   `<!-- /mermaid:NAME -->` is `drawMermaid()` of the ready workflow NAME.
 * - docs/patterns.md: each block between `<!-- mermaid:example:NAME -->` and
 *   `<!-- /mermaid:example:NAME -->` is `drawMermaid()` of the builder example
 *   NAME (`graphs/examples/`).
 *
 * Every workflow and every example must have its block on its page.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { workflowNames, getWorkflow } from "../graphs/index.js";
import { examplesA } from "../graphs/examples/compositionAndControl.js";
import { examples as examplesB } from "../graphs/examples/resilienceAndState.js";

interface Drawable {
  getGraph(): { drawMermaid(): string };
}

/** The builders' example graphs, by marker name (`<!-- mermaid:example:NAME -->`). */
export const EXAMPLES: Record<string, Drawable> = { ...examplesA, ...examplesB };

/** The pages whose diagrams this script keeps, relative to the project root. */
export const DIAGRAM_PAGES = {
  workflows: "docs/workflows.md",
  patterns: "docs/patterns.md",
} as const;

function block(marker: string, graph: Drawable): string {
  const mermaid = graph.getGraph().drawMermaid().trim();
  return `<!-- mermaid:${marker} -->\n\`\`\`mermaid\n${mermaid}\n\`\`\`\n<!-- /mermaid:${marker} -->`;
}

function replaceAll(page: string, text: string, graphs: Record<string, Drawable>, prefix: string): string {
  let out = text;
  for (const [name, graph] of Object.entries(graphs)) {
    const marker = `${prefix}${name}`;
    const pattern = new RegExp(`<!-- mermaid:${marker} -->[\\s\\S]*?<!-- /mermaid:${marker} -->`);
    if (!pattern.test(out)) throw new Error(`${page} has no <!-- mermaid:${marker} --> block`);
    out = out.replace(pattern, () => block(marker, graph));
  }
  return out;
}

/** docs/workflows.md's `text` with every workflow's diagram block replaced by the current one. */
export function withWorkflowDiagrams(text: string): string {
  const graphs = Object.fromEntries(workflowNames.map((name) => [name, getWorkflow(name).graph as Drawable]));
  return replaceAll(DIAGRAM_PAGES.workflows, text, graphs, "");
}

/** docs/patterns.md's `text` with every builder example's diagram block replaced by the current one. */
export function withPatternDiagrams(text: string): string {
  return replaceAll(DIAGRAM_PAGES.patterns, text, EXAMPLES, "example:");
}

if (import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const root = new URL("..", import.meta.url);
  for (const [page, rewrite] of [
    [DIAGRAM_PAGES.workflows, withWorkflowDiagrams],
    [DIAGRAM_PAGES.patterns, withPatternDiagrams],
  ] as const) {
    const file = new URL(page, root);
    const before = readFileSync(file, "utf8");
    const after = rewrite(before);
    if (after !== before) writeFileSync(file, after);
    process.stdout.write(`${page}: ${after === before ? "diagrams are up to date" : "diagrams rewritten"}\n`);
  }
}
