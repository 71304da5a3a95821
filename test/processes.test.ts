/**
 * Threads across processes: one `llm-workflows` process runs a workflow to
 * its human review and exits; later processes list the thread, show its
 * history and resume it, through a SQLite file and (when reachable) a
 * PostgreSQL database. Runs the real bin/llm-workflows.js with the offline model.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Writable } from "node:stream";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { main } from "../src/cli/main.js";
import { createTestDatabase, requirePostgres } from "./helpers/postgres.js";

const PROJECT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const BIN = join(PROJECT, "bin", "llm-workflows.js");
const STACK_LINE = /^\s+at /m;

/** The environment of a child: no provider, no default checkpointer from the outside. */
function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of ["OPENAI_API_KEY", "OPENAI_BASE_URL", "LLM_WORKFLOWS_PROVIDER", "LLM_WORKFLOWS_MODEL", "LLM_WORKFLOWS_CHECKPOINTER", "DATABASE_URL"]) {
    delete env[key];
  }
  return env;
}

function cli(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: PROJECT, env: childEnv(), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolvePromise({ code, stdout, stderr }));
  });
}

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "llmw-procs-"));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe.each<{ kind: "sqlite" | "postgres" }>([{ kind: "sqlite" }, { kind: "postgres" }])("a thread shared by processes through $kind", ({ kind }) => {
  let spec: string | undefined;
  let drop: (() => Promise<void>) | undefined;
  const thread = `T-${kind}`;

  beforeAll(async () => {
    if (kind === "postgres") {
      if (!(await requirePostgres())) return;
      const db = await createTestDatabase("llmw_procs");
      drop = db.drop;
      spec = db.url;
    } else {
      spec = `sqlite:${join(tmp, "threads.sqlite")}`;
    }
  });
  afterAll(async () => {
    await drop?.();
  });
  beforeEach((ctx) => {
    if (!spec) ctx.skip("PostgreSQL is not reachable");
  });

  it("run exits 0 with the pause at human_review reported on stderr", async () => {
    const input = JSON.stringify({ task: "Explain when to set a timeout on requests", humanReview: true });
    const run = await cli("run", "iterativeRefinement", "--input", input, "--thread", thread, "--checkpointer", spec!);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain(`thread ${thread}`);
    expect(run.stderr).toMatch(/paused at human_review, interrupt [0-9a-f]+/);
    expect(run.stderr).toContain(`resume with: llm-workflows resume ${thread} --approve`);
    expect(run.stdout).toMatch(/status: pending/);
  });

  it("other processes list the thread with its workflow and show its history", async () => {
    const [threads, history] = await Promise.all([cli("threads", "--checkpointer", spec!, "--json"), cli("history", thread, "--checkpointer", spec!, "--json")]);
    expect(threads.code, threads.stderr).toBe(0);
    const listed = JSON.parse(threads.stdout) as Array<{ threadId: string; workflow?: string; checkpoints: number; step: number }>;
    expect(listed.find((t) => t.threadId === thread)).toMatchObject({ workflow: "iterativeRefinement", checkpoints: 6, step: 4 });

    expect(history.code, history.stderr).toBe(0);
    const entries = JSON.parse(history.stdout) as Array<{ step: number; nodes: string[]; next: string[] }>;
    expect(entries.map((e) => e.step)).toEqual([-1, 0, 1, 2, 3, 4]);
    expect(entries.at(-1)).toMatchObject({ nodes: ["request_review"], next: ["human_review"] });
  });

  it("resume --reject without a reason is a usage error; resume of an unknown thread one error line", async () => {
    const [rejectWithoutReason, unknown] = await Promise.all([
      // --reject last: its reason is missing (commander would take a following option as the reason).
      cli("resume", thread, "--checkpointer", spec!, "--reject"),
      cli("resume", "UNKNOWN", "--checkpointer", spec!),
    ]);
    expect(rejectWithoutReason.code).toBe(2);
    expect(rejectWithoutReason.stderr).toMatch(/--reject <reason>.*argument missing/);
    expect(rejectWithoutReason.stderr).not.toMatch(STACK_LINE);

    expect(unknown.code).toBe(1);
    expect(unknown.stderr).not.toMatch(STACK_LINE);
    const lines = unknown.stderr.split("\n").filter((l) => l.trim() && !l.includes("offline model"));
    expect(lines).toEqual(['llm-workflows: no thread "UNKNOWN" in the checkpointer']);
  });

  it("a later process approves it and prints the output with the review approved", async () => {
    const approved = await cli("resume", thread, "--approve", "--checkpointer", spec!, "--json");
    expect(approved.code, approved.stderr).toBe(0);
    const output = JSON.parse(approved.stdout);
    expect(output.review).toMatchObject({ status: "approved", decidedBy: "reviewer" });
    expect(output.final).toEqual(expect.any(String));
    expect(approved.stderr).not.toContain("paused at");

    const again = await cli("resume", thread, "--approve", "--checkpointer", spec!);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/no pending interrupt to answer/);
  });
});

/** A writable stream that keeps what is written to it. */
class Collector extends Writable {
  text = "";
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.text += chunk.toString();
    callback();
  }
}

describe("arguments of the thread commands (in process)", () => {
  beforeEach(() => {
    // Whatever an argument mix-up resolves to, it must never be the default threads file in the project.
    vi.stubEnv("LLM_WORKFLOWS_CHECKPOINTER", "memory");
  });
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  async function run(...argv: string[]) {
    const stdout = new Collector();
    const stderr = new Collector();
    const code = await main(argv, stdout, stderr);
    return { code, stdout: stdout.text, stderr: stderr.text };
  }

  it("a stray argument after a thread command is a usage error, not silently ignored", async () => {
    const threads = await run("threads", "--checkpointer", "memory", "stray");
    expect(threads.code).toBe(2);
    const resume = await run("resume", "T", "stray", "--checkpointer", "memory", "--approve");
    expect(resume.code).toBe(2);
    expect(resume.stderr).not.toContain('no thread "T"');
  });

  it("resume --reject followed by another option is a usage error, not a rejection whose reason is the option", async () => {
    // commander takes "--checkpointer" as the reason; the spec after it must then be refused as an extra
    // argument, or the resume silently goes to another checkpointer than the one named.
    const result = await run("resume", "T", "--reject", "--checkpointer", `sqlite:${join(tmp, "elsewhere.sqlite")}`);
    expect(result.code).toBe(2);
    expect(result.stderr).not.toContain('no thread "T"');
  });
});
