/**
 * A user's own graph, written in a temporary directory outside this project
 * and importing the package by name, through the installed CLI (batch mode;
 * a thread on SQLite paused at an interrupt and resumed by another process)
 * and through `resumeWorkflow` in the library.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { resumeWorkflow, runWorkflow } from "../src/index.js";
import { openCheckpointer } from "../src/runtime/checkpointer.js";
import { loadGraph } from "../src/cli/targets.js";

const exec = promisify(execFile);
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BIN = join(ROOT, "bin/llm-workflows.js");

const AGENT = `
import { StateSchema, interrupt } from "@langchain/langgraph";
import { z } from "zod";
import { buildPromptChain, buildRouter, chainFields } from "llm-workflows";

const State = new StateSchema({
  ticket: z.string(),
  route: z.string().nullable().default(null),
  reply: z.string().default(""),
  approved: z.boolean().nullable().default(null),
  ...chainFields,
});
type Ticket = typeof State.State;

export const graph = buildRouter<Ticket>({
  state: State,
  input: z.object({ ticket: z.string().min(1) }),
  classifier: { name: "classify", run: (s) => ({ route: /refund/i.test(s.ticket) ? "refunds" : "general" }) },
  decision: (s) => ({ route: s.route }),
  routes: { refunds: () => ({ reply: "Your refund is on its way." }), general: (s) => ({ reply: "Thanks for: " + s.ticket }) },
  fallback: { name: "fallback", run: (_s, _c, reason) => ({ reply: reason }) },
}).compile();

export const reviewed = buildPromptChain<Ticket>({
  state: State,
  input: z.object({ ticket: z.string().min(1) }),
  steps: [
    { name: "draft", run: (s) => ({ reply: "Re: " + s.ticket }) },
    { name: "review", run: (s) => ({ approved: interrupt({ draft: s.reply }) === "yes" }) },
  ],
}).compile();

export const notAGraph = 42;
`;

/** The environment of a user's shell: no provider keys, no settings of this project's tests. */
function userEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith("OPENAI_") || key.startsWith("LLM_WORKFLOWS_") || key.startsWith("VITEST") || key === "NODE_OPTIONS") delete env[key];
  return env;
}

async function cli(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [BIN, ...args], { cwd, env: userEnv() });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe("a user's graph in a temporary directory", () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "llm-workflows-user-"));
    // The user's node_modules: this project's packages, and llm-workflows itself (its built dist/).
    mkdirSync(join(dir, "node_modules"));
    for (const entry of readdirSync(join(ROOT, "node_modules"))) symlinkSync(join(ROOT, "node_modules", entry), join(dir, "node_modules", entry));
    symlinkSync(ROOT, join(dir, "node_modules", "llm-workflows"));
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "user-app", private: true, type: "module" }));
    writeFileSync(join(dir, "agent.ts"), AGENT);
    writeFileSync(join(dir, "rows.csv"), "text\nI want a refund\nWhere is my parcel?\n\"\"\nPlease refund me twice\n");
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("runs in batch mode through `run FILE.ts:graph --input-file rows.csv`", async () => {
    const { code, stderr } = await cli(["run", "./agent.ts:graph", "--input-file", "rows.csv", "--field", "ticket=text", "--out", "out.jsonl", "--no-progress"], dir);
    const lines = readFileSync(join(dir, "out.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { row: number; output?: { route: string }; error?: string });
    const routes = lines.filter((l) => l.output).map((l) => [l.row, l.output!.route]);
    expect(routes).toEqual([
      [1, "refunds"],
      [2, "general"],
      [4, "refunds"],
    ]);
    // The empty row fails alone, naming the field.
    const failed = lines.filter((l) => l.error);
    expect(failed).toHaveLength(1);
    expect(failed[0].error).toMatch(/ticket/);
    expect(code).toBe(3);
    expect(stderr).not.toMatch(/\n\s+at /);
  }, 120_000);

  it("pauses a SQLite thread at its interrupt; another process resumes it from the source the thread recorded", async () => {
    const threads = `sqlite:${join(dir, "threads.sqlite")}`;
    const first = await cli(["run", "./agent.ts:reviewed", "--input", '{"ticket":"late parcel"}', "--thread", "t1", "--checkpointer", threads], dir);
    expect(first.code).toBe(0);
    expect(first.stderr).toMatch(/paused at review/);
    // From another directory: the thread knows where its graph is.
    const resumed = await cli(["resume", "t1", "--answer", '"yes"', "--checkpointer", threads, "--json"], ROOT);
    expect(resumed.stderr).toBe(resumed.code === 0 ? resumed.stderr : "");
    expect(resumed.code).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ reply: "Re: late parcel", approved: true });
  }, 120_000);

  it("resumes a SQLite thread through resumeWorkflow with the user's graph", async () => {
    const { reviewed } = (await import(join(dir, "agent.ts"))) as { reviewed: Parameters<typeof runWorkflow>[0] };
    const open = await openCheckpointer(`sqlite:${join(dir, "library.sqlite")}`);
    try {
      const paused = await runWorkflow(reviewed, { ticket: "broken zip" }, { checkpointer: open.saver, threadId: "t2" });
      expect(paused.__interrupt__).toHaveLength(1);
      const result = await resumeWorkflow("t2", open.saver, { workflow: reviewed, resume: "no" });
      expect(result.output).toMatchObject({ reply: "Re: broken zip", approved: false });
      expect(result.interrupts).toEqual([]);
    } finally {
      await open.close();
    }
  }, 60_000);

  it("names the path and the export of a graph that cannot be loaded, in one line", async () => {
    const missingExport = await cli(["run", "./agent.ts:nope", "--input", "{}"], dir);
    expect(missingExport.code).toBe(1);
    expect(missingExport.stderr.trim()).toBe(`llm-workflows: cannot load ${join(dir, "agent.ts")}:nope: no export "nope"; it exports: graph, notAGraph, reviewed`);
    const notGraph = await cli(["run", "./agent.ts:notAGraph", "--input", "{}"], dir);
    expect(notGraph.stderr.trim()).toMatch(/agent\.ts:notAGraph: the export is not a LangGraph StateGraph \(got number\)/);
    const missingFile = await cli(["run", "./nowhere.ts:graph", "--input", "{}"], dir);
    expect(missingFile.stderr.trim()).toBe(`llm-workflows: cannot load ${join(dir, "nowhere.ts")}:graph: no such file`);
    const badInput = await cli(["run", "./agent.ts:graph", "--input", '{"tickt":"x"}'], dir);
    expect(badInput.code).toBe(1);
    expect(badInput.stderr.trim().split("\n")).toHaveLength(1);
    expect(badInput.stderr).toMatch(/ticket: .*expected string/);
  }, 60_000);

  it("loads a graph file in-process too, remembering where it came from", async () => {
    const definition = await loadGraph("./agent.ts:graph", { baseDir: dir });
    expect(definition.name).toBe("graph");
    expect(definition.source).toBe(`${join(dir, "agent.ts")}:graph`);
  });
});

describe("--config langgraph.json", () => {
  it("lists, draws and runs the graphs a langgraph.json names", async () => {
    const dir = mkdtempSync(join(tmpdir(), "llm-workflows-config-"));
    try {
      mkdirSync(join(dir, "node_modules"));
      for (const entry of readdirSync(join(ROOT, "node_modules"))) symlinkSync(join(ROOT, "node_modules", entry), join(dir, "node_modules", entry));
      symlinkSync(ROOT, join(dir, "node_modules", "llm-workflows"));
      writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "user-app", private: true, type: "module" }));
      mkdirSync(join(dir, "src"));
      writeFileSync(join(dir, "src", "agent.ts"), AGENT);
      writeFileSync(join(dir, "langgraph.json"), JSON.stringify({ graphs: { triage: "./src/agent.ts:graph", review: "./src/agent.ts:reviewed" } }));
      const list = await cli(["--config", "langgraph.json", "list"], dir);
      expect(list.stdout.split("\n").filter((l) => /^(triage|review)\s/.test(l))).toHaveLength(2);
      const drawn = await cli(["--config", "langgraph.json", "graph", "triage"], dir);
      expect(drawn.stdout).toMatch(/classify -\.-> refunds/);
      const ran = await cli(["--config", "langgraph.json", "run", "triage", "--input", '{"ticket":"a refund please"}', "--json"], dir);
      expect(JSON.parse(ran.stdout)).toMatchObject({ route: "refunds" });
      const unknown = await cli(["--config", "langgraph.json", "run", "supportRouting"], dir);
      expect(unknown.stderr.trim()).toBe('llm-workflows: unknown workflow "supportRouting"; expected one of: triage, review');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
