/**
 * The scripts under scripts/ as a user runs them (`node --import tsx
 * scripts/X.ts`): `--help` works, and a user's mistake (a data directory that
 * does not exist, a missing file, a bad option) is one line on stderr with
 * exit code 1 or 2, never a stack trace. Only error paths and `--help` are
 * run here: nothing reaches a model or the network.
 */
import { describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll } from "vitest";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const MISSING = join(tmpdir(), "llm-workflows-no-such-data-dir");
const EMPTY = mkdtempSync(join(tmpdir(), "llm-workflows-empty-data-"));
afterAll(() => rmSync(EMPTY, { recursive: true, force: true }));

/** Every script that reads the public data, with the data set folder it needs. */
const DATA_SCRIPTS = [
  { script: "evalFeedback", folder: "sentiment" },
  { script: "evalKnowledgeGraph", folder: "re3d" },
  { script: "summarizeNovel", folder: "gutenberg" },
  { script: "evalCodeGeneration", folder: "mbpp" },
  { script: "faqSpeedup", folder: "requests_docs" },
];
/** Scripts that read no data (readme-diagrams.ts and dev.ts are not evaluation scripts and are left out). */
const NO_DATA_SCRIPTS = ["reliability"];

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(script: string, args: string[], env: Record<string, string> = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", join("scripts", `${script}.ts`), ...args], {
      cwd: ROOT,
      env: { ...process.env, LLM_WORKFLOWS_DATA: "", LLM_WORKFLOWS_DEBUG: "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** One line on stderr, starting with the script's name, no stack trace, nothing on stdout. */
function expectOneLineError(result: Result, script: string, code: 1 | 2, pattern: RegExp): void {
  expect(result.code).toBe(code);
  expect(result.stdout).toBe("");
  const lines = result.stderr.trimEnd().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^${script}: `));
  expect(lines[0]).toMatch(pattern);
  expect(result.stderr).not.toMatch(/^\s+at /m);
}

describe.concurrent("scripts", () => {
  it.each(DATA_SCRIPTS)("$script --help prints its usage, with --data-dir, and exits 0", async ({ script }) => {
    const result = await run(script, ["--help"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^Usage: npx tsx scripts/${script}\\.ts`));
    expect(result.stdout).toContain("--data-dir DIR");
    expect(result.stdout).toContain("LLM_WORKFLOWS_DATA");
    expect(result.stderr).toBe("");
  });

  it.each(DATA_SCRIPTS)("$script with a --data-dir that does not exist: one line naming it, exit 1", async ({ script }) => {
    expectOneLineError(await run(script, ["--data-dir", MISSING]), script, 1, new RegExp(`${MISSING}: the data directory does not exist`));
  });

  it.each(DATA_SCRIPTS)("$script with LLM_WORKFLOWS_DATA naming a directory that does not exist: one line, exit 1", async ({ script }) => {
    expectOneLineError(await run(script, [], { LLM_WORKFLOWS_DATA: MISSING }), script, 1, /the data directory does not exist/);
  });

  it.each(DATA_SCRIPTS)("$script with a data directory without its data set: one line naming the folder, exit 1", async ({ script, folder }) => {
    expectOneLineError(await run(script, ["--data-dir", EMPTY]), script, 1, new RegExp(`${join(EMPTY, folder)}: no ${folder} folder`));
  });

  it.each([...DATA_SCRIPTS.map((s) => s.script), ...NO_DATA_SCRIPTS])("%s with an unknown option: one line, exit 2", async (script) => {
    expectOneLineError(await run(script, ["--no-such-option"]), script, 2, /Unknown option '--no-such-option'/);
  });

  it("reliability reads no data: --help has no --data-dir, and --data-dir is an unknown option", async () => {
    const help = await run("reliability", ["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: npx tsx scripts\/reliability\.ts/);
    expect(help.stdout).not.toContain("--data-dir");
    expectOneLineError(await run("reliability", ["--data-dir", MISSING]), "reliability", 2, /Unknown option '--data-dir'/);
  });

  // One test per case: each spawns a tsx child, which can take seconds on a busy machine.
  it.each([
    ["evalFeedback", ["--limit", "ten"], /--limit needs a whole number of at least 1, got "ten"/],
    ["evalCodeGeneration", ["--file", "huge"], /--file needs sanitized or full, got "huge"/],
    ["evalKnowledgeGraph", ["--min-confidence", "2"], /--min-confidence needs a number from 0 to 1, got "2"/],
    ["faqSpeedup", ["--questions", "0"], /--questions needs numbers from 1 to 20/],
    ["summarizeNovel", ["--over-budget", "cut"], /--over-budget needs truncate or keep, got "cut"/],
    ["summarizeNovel", ["--chunk-size", "10"], /--chunk-size: Too small: expected number to be >=200/],
    ["summarizeNovel", ["--chunk-size", "300", "--chunk-overlap", "400"], /--chunk-overlap: must be smaller than the chunk size \(300\), got 400/],
  ] as const)("a bad option value is one line naming the option, exit 2: %s %j", async (script, args, message) => {
    expectOneLineError(await run(script, [...args]), script, 2, message);
  });

  it("summarizeNovel documents FILE, and a FILE that does not exist is one line naming it (no data directory needed)", async () => {
    const help = await run("summarizeNovel", ["--help"]);
    expect(help.stdout).toMatch(/\[FILE\]/);
    expect(help.stdout).toMatch(/FILE\s+a plain-text file/);
    const file = join(EMPTY, "novel.txt");
    expectOneLineError(await run("summarizeNovel", [file], { LLM_WORKFLOWS_DATA: MISSING }), "summarizeNovel", 1, new RegExp(`${file}: no such file`));
    expectOneLineError(await run("summarizeNovel", ["a.txt", "b.txt"]), "summarizeNovel", 2, /expected at most one FILE, got 2/);
  });

  it("summarizeNovel summarises a FILE of the user's without any data directory", async () => {
    const file = join(EMPTY, "letters.txt");
    writeFileSync(
      file,
      "Mr. Walton wrote to his sister from St. Petersburgh. He hoped to reach the pole by the summer.\n\nThe ship was caught in the ice. A sledge crossed the plain far off, drawn by dogs.",
    );
    const result = await run("summarizeNovel", [file, "--token-budget", "20", "--max-rounds", "0"], { LLM_WORKFLOWS_DATA: MISSING });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`summarization (map-reduce) on ${file}`);
    expect(result.stdout).toMatch(/^chunks: +1$/m);
    expect(result.stdout).toMatch(/summary tokens: \d+ of 20/);
    expect(result.stdout).not.toMatch(/\bMr\.\s*$/);
  });
});
