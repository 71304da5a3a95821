/**
 * Every ```ts block of README.md and docs/*.md is a complete program that
 * compiles as a user's code would: each block is written to a file of its own
 * and type-checked in one `tsc` run (strict, `nodenext`, no `skipLibCheck`),
 * importing the package by its name (`llm-workflows`, resolved through the
 * package's own `exports` to the built `dist/`, which `npm test` builds first).
 */
import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
/** Inside the project, so that `llm-workflows` and the project's node_modules resolve. */
const CHECK_DIR = join(ROOT, ".docs-check");

interface Block {
  file: string;
  line: number;
  code: string;
}

/** The ```ts blocks of a markdown text, with the line each starts on. */
export function tsBlocks(file: string, text: string): Block[] {
  const blocks: Block[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i])) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^```\s*$/.test(lines[end])) end++;
    blocks.push({ file, line: start + 1, code: lines.slice(start, end).join("\n") });
    i = end;
  }
  return blocks;
}

const docs = [join(ROOT, "README.md"), ...(existsSync(join(ROOT, "docs")) ? readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => join(ROOT, "docs", f)) : [])];
const blocks = docs.flatMap((file) => tsBlocks(file.slice(ROOT.length), readFileSync(file, "utf8")));

describe("code blocks in README.md and docs/", () => {
  it("finds the blocks, fences included", () => {
    expect(tsBlocks("x.md", "a\n```ts\nconst a = 1;\n```\n```sh\nls\n```\n```ts\nlet b;\n```\n")).toEqual([
      { file: "x.md", line: 3, code: "const a = 1;" },
      { file: "x.md", line: 9, code: "let b;" },
    ]);
    expect(blocks.length).toBeGreaterThan(0);
  });

  it("names the language of every block, and fences code for the compiler as ts (not js or unlabelled)", () => {
    const unchecked: string[] = [];
    for (const file of docs) {
      const lines = readFileSync(file, "utf8").split("\n");
      let open = false;
      lines.forEach((line, i) => {
        if (!line.startsWith("```")) return;
        if (open) open = false;
        else {
          open = true;
          const lang = line.slice(3).trim();
          if (!lang || /^(js|javascript|jsx|tsx|mts|cts|mjs)$/i.test(lang)) unchecked.push(`${file.slice(ROOT.length)}:${i + 1} ${line}`);
        }
      });
    }
    expect(unchecked).toEqual([]);
  });

  it("every ts block compiles as a user's module (strict, nodenext, no skipLibCheck)", () => {
    // The blocks import the package by name, which resolves to the build.
    expect(existsSync(join(ROOT, "dist/src/index.d.ts")), "dist/ is missing: run `npm run build` first").toBe(true);
    rmSync(CHECK_DIR, { recursive: true, force: true });
    mkdirSync(CHECK_DIR, { recursive: true });
    const names = blocks.map((block, i) => {
      const name = `${basename(block.file, ".md")}-${block.line}-${i}.ts`;
      // A block with no import or export is a script; make it a module so that names do not clash.
      const isModule = /^\s*(import|export)\s/m.test(block.code);
      writeFileSync(join(CHECK_DIR, name), `${block.code}\n${isModule ? "" : "export {};\n"}`);
      return name;
    });
    writeFileSync(
      join(CHECK_DIR, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: { target: "ES2022", lib: ["ES2023"], module: "nodenext", moduleResolution: "nodenext", strict: true, noEmit: true, skipLibCheck: false, types: ["node"] },
        files: names,
      }),
    );
    let output = "";
    try {
      execFileSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", join(CHECK_DIR, "tsconfig.json")], { cwd: CHECK_DIR, encoding: "utf8" });
    } catch (error) {
      output = String((error as { stdout?: string }).stdout ?? error);
    }
    // Name the markdown file and line of each error, not the generated file.
    const located = output.replace(/^([\w.-]+)-(\d+)-\d+\.ts\((\d+),(\d+)\)/gm, (_m, doc, line, row) => `${doc}.md:${Number(line) + Number(row) - 1}`);
    expect(located).toBe("");
  }, 180_000);
});
