/**
 * The layers of src/: runtime <- models <- patterns <- facade <- cli. A lower
 * layer imports nothing above it; the patterns never import the offline model;
 * only the CLI reaches the ready workflows (graphs/), and only when a command
 * needs them (a dynamic import).
 */
import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SRC = join(ROOT, "src");

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith(".ts") ? [path] : [];
  });
}

/** Relative imports of a file, static and dynamic, as project-relative paths. */
function importsOf(file: string): Array<{ target: string; dynamic: boolean }> {
  const text = readFileSync(file, "utf8");
  const found: Array<{ target: string; dynamic: boolean }> = [];
  for (const m of text.matchAll(/^\s*(?:import|export)[^;]*?from\s+"(\.{1,2}\/[^"]+)"/gms)) found.push({ target: m[1], dynamic: false });
  for (const m of text.matchAll(/import\("(\.{1,2}\/[^"]+)"\)/g)) found.push({ target: m[1], dynamic: true });
  return found.map(({ target, dynamic }) => ({ target: relative(ROOT, resolve(dirname(file), target)), dynamic }));
}

/** The layer of a project-relative path. */
function layer(path: string): string {
  if (path.startsWith("graphs/")) return "graphs";
  const [, top] = path.split("/");
  if (["runtime", "models", "patterns", "cli"].includes(top)) return top;
  if (/^(facade|threads|registry|workflow)\.[jt]s$/.test(top)) return "facade";
  return "entry"; // index.ts, testing.ts: the package's entry points
}

const RANK: Record<string, number> = { runtime: 0, models: 1, patterns: 2, facade: 3, cli: 4, entry: 5, graphs: 6 };

describe("layers", () => {
  const edges = files(SRC).flatMap((file) => importsOf(file).map((i) => ({ from: relative(ROOT, file), ...i })));

  it("finds the imports it checks", () => {
    expect(edges.length).toBeGreaterThan(100);
    expect(layer("src/patterns/core/graph.ts")).toBe("patterns");
    expect(layer("src/facade.ts")).toBe("facade");
  });

  it("a lower layer imports nothing above it", () => {
    const upward = edges.filter((e) => layer(e.target) !== "graphs" && RANK[layer(e.target)] > RANK[layer(e.from)]);
    expect(upward.map((e) => `${e.from} -> ${e.target}`)).toEqual([]);
  });

  it("the patterns never import the offline model", () => {
    const offline = edges.filter((e) => layer(e.from) === "patterns" && e.target.startsWith("src/models/offline/"));
    expect(offline.map((e) => `${e.from} -> ${e.target}`)).toEqual([]);
  });

  it("only the CLI reaches the ready workflows, and only through a dynamic import", () => {
    const toGraphs = edges.filter((e) => layer(e.target) === "graphs");
    expect(toGraphs.filter((e) => layer(e.from) !== "cli" || !e.dynamic).map((e) => `${e.from} -> ${e.target}`)).toEqual([]);
  });
});
