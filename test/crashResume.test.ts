/**
 * Crash and resume: a fan-out with side effects runs in a child process that is
 * killed with SIGKILL at several points; each time a new process resumes the
 * same thread. The final result must equal an uninterrupted run's, and no
 * completed model call or side effect may happen twice (each is counted in a
 * log file the workers append to). Against SQLite and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createTestDatabase, requirePostgres } from "./helpers/postgres.js";
import { ITEMS } from "./fixtures/crashWorkflow.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const FIXTURE = fileURLToPath(new URL("./fixtures/crashWorkflow.ts", import.meta.url));

interface Outcome {
  killed: boolean;
  recorded: number;
  result?: string[];
}

/** Runs the fixture; with `killAfter`, SIGKILLs it once it has printed that many `recorded` lines. */
function runFixture(spec: string, thread: string, mode: "run" | "resume", log: string, killAfter?: number): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", FIXTURE, spec, thread, mode, log], {
      cwd: ROOT,
      env: { ...process.env, OPENAI_API_KEY: "", OPENAI_BASE_URL: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let recorded = 0;
    let killed = false;
    let result: string[] | undefined;
    let buffer = "";
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    child.stdout.on("data", (data) => {
      buffer += data;
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line.startsWith("recorded ")) {
          recorded++;
          if (killAfter !== undefined && recorded >= killAfter && !killed) {
            killed = true;
            child.kill("SIGKILL");
          }
        } else if (line.startsWith("result ")) {
          result = JSON.parse(line.slice("result ".length));
        }
      }
    });
    child.on("error", reject);
    // "close", not "exit": "exit" can come before the last of the child's stdout/stderr has been read.
    child.on("close", (code, signal) => {
      if (signal === "SIGKILL" && killed) resolve({ killed, recorded });
      else if (code === 0) resolve({ killed: false, recorded, result });
      else reject(new Error(`fixture exited with ${code ?? signal}:\n${stderr}`));
    });
  });
}

function counts(log: string): { calls: Map<string, number>; effects: Map<string, number> } {
  const calls = new Map<string, number>();
  const effects = new Map<string, number>();
  if (!existsSync(log)) return { calls, effects };
  for (const line of readFileSync(log, "utf8").split("\n").filter(Boolean)) {
    const [kind, index] = line.split(" ");
    const map = kind === "call" ? calls : effects;
    map.set(index, (map.get(index) ?? 0) + 1);
  }
  return { calls, effects };
}

async function crashAndResume(spec: string, dir: string) {
  const baselineLog = join(dir, "baseline.log");
  const baseline = await runFixture(spec, "baseline", "run", baselineLog);
  expect(baseline.result).toHaveLength(ITEMS.length);

  const log = join(dir, "crashed.log");
  // Kill after 1 item, then (resuming) after 3 more, then after 4 more, then let it finish.
  const first = await runFixture(spec, "crashed", "run", log, 1);
  expect(first.killed).toBe(true);
  const second = await runFixture(spec, "crashed", "resume", log, 3);
  expect(second.killed).toBe(true);
  const third = await runFixture(spec, "crashed", "resume", log, 4);
  expect(third.killed).toBe(true);
  const last = await runFixture(spec, "crashed", "resume", log);
  expect(last.killed).toBe(false);

  expect(last.result).toEqual(baseline.result);
  const { calls, effects } = counts(log);
  expect(calls.size).toBe(ITEMS.length);
  expect(effects.size).toBe(ITEMS.length);
  for (const [index, n] of calls) expect(n, `model call ${index}`).toBe(1);
  for (const [index, n] of effects) expect(n, `side effect ${index}`).toBe(1);
}

describe("crash and resume", () => {
  const dir = mkdtempSync(join(tmpdir(), "llmw-crash-"));

  it("SQLite: SIGKILL at three points, resumed in new processes, same result, nothing done twice", async () => {
    await crashAndResume(`sqlite:${join(dir, "threads.sqlite")}`, join(dir));
  }, 120_000);

  describe("PostgreSQL", () => {
    let pgOk = false;
    let db: { url: string; drop: () => Promise<void> } | undefined;
    beforeAll(async () => {
      pgOk = await requirePostgres();
      if (pgOk) db = await createTestDatabase("llmw_crash");
    });
    afterAll(async () => {
      await db?.drop();
    });

    it("SIGKILL at three points, resumed in new processes, same result, nothing done twice", async (ctx) => {
      if (!pgOk) ctx.skip();
      const pgDir = mkdtempSync(join(tmpdir(), "llmw-crash-pg-"));
      await crashAndResume(db!.url, pgDir);
    }, 120_000);
  });
});
