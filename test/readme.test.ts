/**
 * The README and the pages of docs/ stay true: the README is a short tour with
 * the install and quick-start commands; the diagrams are the graphs' own; every
 * ready workflow has a section and a command; a file shown whole is the file;
 * links lead somewhere; the model defaults are the code's; and the words that
 * were never explained ("seed", "cheatsheet") stay out.
 */
import { describe, expect, it } from "vitest";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { withPatternDiagrams, withWorkflowDiagrams, DIAGRAM_PAGES } from "../scripts/readme-diagrams.js";
import { workflowNames } from "../graphs/index.js";
import { resolveModelSettings } from "../src/models/configuration.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const read = (path: string) => readFileSync(join(ROOT, path), "utf8");

const readme = read("README.md");
const workflowsPage = read(DIAGRAM_PAGES.workflows);
const patternsPage = read(DIAGRAM_PAGES.patterns);
const docPages = readdirSync(join(ROOT, "docs"))
  .filter((f) => f.endsWith(".md"))
  .map((f) => `docs/${f}`);
/** The pages this test owns the wording of (other pages are written elsewhere). */
const OWN_PAGES = ["README.md", "docs/index.md", "docs/workflows.md", "docs/patterns.md", "docs/models.md", "docs/server-and-deployment.md", "docs/performance.md"];

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
export function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/<[^>]+>/g, "")
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

/** The anchors of a markdown text's headings (outside code blocks), with GitHub's -1, -2 suffixes for repeats. */
export function anchors(text: string): Set<string> {
  const out = new Set<string>();
  const seen = new Map<string, number>();
  let inCode = false;
  for (const line of text.split("\n")) {
    if (/^```/.test(line)) inCode = !inCode;
    const m = !inCode && /^#{1,6}\s+(.*)$/.exec(line);
    if (!m) continue;
    const base = slug(m[1]);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n ? `${base}-${n}` : base);
  }
  return out;
}

/** Relative links `[text](target)` of a markdown text, outside code blocks. */
function links(text: string): string[] {
  const prose = text.replace(/```[\s\S]*?```/g, "");
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]).filter((t) => !/^[a-z]+:/i.test(t));
}

describe("README.md", () => {
  it("is a short tour: at most about 300 lines", () => {
    expect(readme.split("\n").length).toBeLessThanOrEqual(320);
  });

  it("gives the install commands and the two quick-start commands", () => {
    expect(readme).toContain("npm install llm-workflows @langchain/core @langchain/langgraph");
    expect(readme).toMatch(/^npm ci\b/m);
    expect(readme).toMatch(/^npm start\b/m);
    expect(readme).toMatch(/^npm test\b/m);
  });

  it("names every optional peer dependency of package.json", () => {
    const pkg = JSON.parse(read("package.json")) as { peerDependenciesMeta: Record<string, { optional?: boolean }> };
    const optional = Object.entries(pkg.peerDependenciesMeta).filter(([, meta]) => meta.optional).map(([name]) => name);
    expect(optional.length).toBeGreaterThan(0);
    for (const name of optional) expect(readme, name).toContain(`\`${name}\``);
  });

  it("says how many ready workflows there are", () => {
    expect(readme).toContain(`${workflowNames.length} ready workflows`);
    expect(readme).not.toMatch(/seven ready workflows/i);
  });
});

describe("docs/workflows.md and docs/patterns.md", () => {
  it("show each workflow's current Mermaid diagram (run `npm run docs` to refresh)", () => {
    expect(withWorkflowDiagrams(workflowsPage)).toBe(workflowsPage);
  });

  it("show each builder example's current Mermaid diagram (run `npm run docs` to refresh)", () => {
    expect(withPatternDiagrams(patternsPage)).toBe(patternsPage);
  });

  it.each([...workflowNames])("documents %s with a section and a CLI example", (name) => {
    expect(workflowsPage).toMatch(new RegExp(`^### ${name}\\b`, "m"));
    expect(workflowsPage).toMatch(new RegExp(`llm-workflows run ${name}\\b`));
  });

  it("documents the builders of every folder of src/patterns", () => {
    const folders = readdirSync(join(ROOT, "src/patterns"), { withFileTypes: true })
      .filter((d) => d.isDirectory() && d.name !== "examples")
      .map((d) => d.name);
    expect(folders.length).toBeGreaterThan(0);
    for (const folder of folders) expect(patternsPage, folder).toContain(`src/patterns/${folder}`);
  });
});

describe("every page", () => {
  const pages = ["README.md", ...docPages];

  it.each(pages)("%s: a file shown whole between <!-- file:PATH --> markers is that file", (page) => {
    const text = read(page);
    for (const m of text.matchAll(/<!-- file:(\S+) -->\n```\w*\n([\s\S]*?)```\n<!-- \/file:\1 -->/g)) {
      expect(`${m[2]}`, m[1]).toBe(read(m[1]));
    }
  });

  it.each(pages)("%s: relative links lead to files and headings that exist", (page) => {
    const broken: string[] = [];
    for (const link of links(read(page))) {
      const [path, anchor] = link.split("#");
      const target = path ? join(dirname(join(ROOT, page)), path) : join(ROOT, page);
      if (!existsSync(target)) broken.push(`${link}: no file ${relative(ROOT, target)}`);
      else if (anchor && target.endsWith(".md") && !anchors(readFileSync(target, "utf8")).has(anchor)) broken.push(`${link}: no heading #${anchor}`);
    }
    expect(broken).toEqual([]);
  });

  it.each(OWN_PAGES)("%s: cites sources by title, never as a 'seed' or 'the cheatsheet'", (page) => {
    const text = read(page).replace(/\s+/g, " ");
    expect(text).not.toMatch(/\b(?:the seeds?|seeds|seed's|seed \d{3})\b/i);
    expect(text.replace(/Workflow Patterns Cheatsheet/g, "")).not.toMatch(/cheatsheet/i);
  });
});

describe("docs/models.md", () => {
  const page = read("docs/models.md");
  const defaults = resolveModelSettings("default", { configurable: { provider: "openai", apiKey: "sk-test" } }, {});
  const strong = resolveModelSettings("strong", { configurable: { provider: "openai", apiKey: "sk-test" } }, {});

  /** The default column of the settings table's row for `configurable` key `key`. */
  function defaultOf(key: string): string {
    const row = page.split("\n").find((line) => line.startsWith("|") && line.split("|")[2]?.includes(`\`${key}\``));
    expect(row, `a settings row for ${key}`).toBeDefined();
    return row!.split("|")[4].trim();
  }

  it.each([
    ["model", defaults.model],
    ["strongModel", strong.model],
    ["temperature", defaults.temperature],
    ["timeoutMs", defaults.timeoutMs],
    ["maxRetries", defaults.maxRetries],
    ["adaptiveTimeout", defaults.adaptiveTimeout],
  ] as const)("gives the code's default for %s", (key, value) => {
    expect(defaultOf(key)).toMatch(new RegExp(`^\`${String(value)}\``));
  });
});
