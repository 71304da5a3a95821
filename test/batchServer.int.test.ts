/**
 * Batch mode on a LangGraph server (`--server URL`): against the dev server
 * (`langgraphjs dev`, started and stopped by the test, offline model). Each
 * row is a run on the server; the records are in row order with the same
 * outputs as a local batch; a failed run is its row's error record; a resumed
 * batch joins the runs already submitted (by their recorded ids, or found on
 * the row's thread) and submits no row twice, also after a SIGKILL.
 */
import { Client } from "@langchain/langgraph-sdk";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BatchRecord } from "../src/cli/batch.js";
import type { BatchState } from "../src/cli/batchResume.js";
import { openServerRunner, rowThreadId, RUNS_SUFFIX } from "../src/cli/batchServer.js";
import { EXIT_PARTIAL } from "../src/cli/main.js";
import { startDevServer, type DevServer } from "./helpers/devServer.js";
import { cli } from "./helpers/streams.js";

const ROOT = path.resolve(import.meta.dirname, "..");
const ROWS = 24;
let server: DevServer;
let client: Client;
let tmp: string;
let input: string;
let local: BatchRecord[];
let count = 0;
const fresh = (name: string) => path.join(tmp, `${++count}-${name}`);
const lines = (file: string) => fs.readFileSync(file, "utf8").split("\n").filter(Boolean);
const records = (file: string) => lines(file).map((l) => JSON.parse(l) as BatchRecord);
const stateOf = (out: string) => JSON.parse(fs.readFileSync(`${out}.batch.json`, "utf8")) as BatchState;

/** Runs on each row's thread, by row. */
async function runsPerRow(batchId: string, rows: number): Promise<number[]> {
  const counts: number[] = [];
  for (let row = 1; row <= rows; row++) counts.push((await client.runs.list(rowThreadId(batchId, row))).length);
  return counts;
}

beforeAll(async () => {
  fs.mkdirSync(path.join(ROOT, "out"), { recursive: true });
  tmp = fs.mkdtempSync(path.join(ROOT, "out", "batch-server-"));
  input = path.join(tmp, "rows.csv");
  const texts = ["I was charged twice for the same payment", "The app crashes every time I log in", "How do I order a new card?", "My PIN is blocked"];
  fs.writeFileSync(input, `text\n${Array.from({ length: ROWS }, (_, i) => (i === 4 ? '""' : `"${texts[i % texts.length]} (ticket ${i + 1})"`)).join("\n")}\n`);
  const localOut = path.join(tmp, "local.jsonl");
  const { code } = await cli("run", "supportRouting", "--input-file", input, "--field", "query=text", "--out", localOut, "--no-progress");
  expect(code).toBe(EXIT_PARTIAL);
  local = records(localOut);
  server = await startDevServer(150_000);
  client = new Client({ apiUrl: server.url });
}, 200_000);

afterAll(async () => {
  await server?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
}, 30_000);

describe("run --server", () => {
  it("runs each row on the server: records in row order, the same outputs as a local batch, the failed run recorded", async () => {
    const out = fresh("server.jsonl");
    const { code, stderr } = await cli("run", "supportRouting", "--input-file", input, "--field", "query=text", "--out", out, "--server", server.url, "--concurrency", "4", "--no-progress");
    expect(code, stderr.text).toBe(EXIT_PARTIAL);
    const got = records(out);
    expect(got.map((r) => r.row)).toEqual(local.map((r) => r.row));
    expect(got.map((r) => r.output)).toEqual(local.map((r) => r.output));
    expect(got[4]).toMatchObject({ row: 5, input: { query: "" }, error: "the run failed on the server: invalid input: query: Too small: expected string to have >=1 characters" });
    // each row ran once, on its own thread, and its record names the run
    const batchId = stateOf(out).batchId;
    expect(await runsPerRow(batchId, ROWS)).toEqual(Array(ROWS).fill(1));
    for (const record of got.filter((r) => !r.error)) expect(record.run).toEqual({ thread: rowThreadId(batchId, record.row), id: expect.any(String) });
    expect(stderr.lines.at(-1)).toMatch(new RegExp(`^23/24 rows succeeded, 1 failed in .*; model calls made on ${server.url.replace(/[.]/g, "\\.")} \\(not counted here\\); results in `));
  }, 120_000);

  it("a resumed batch joins the runs already submitted (recorded run id, or only the row recorded) instead of submitting them again", async () => {
    const out = fresh("server.jsonl");
    const first = await cli("run", "supportRouting", "--input-file", input, "--field", "query=text", "--out", out, "--server", server.url, "--no-progress");
    expect(first.code).toBe(EXIT_PARTIAL);
    const complete = fs.readFileSync(out, "utf8");
    // As if killed after writing 5 rows, with rows 6..24 submitted; row 9's run id was never recorded.
    fs.writeFileSync(out, `${lines(out).slice(0, 5).join("\n")}\n`);
    const runs = lines(`${out}${RUNS_SUFFIX}`).filter((l) => !(JSON.parse(l).row === 9 && JSON.parse(l).run));
    fs.writeFileSync(`${out}${RUNS_SUFFIX}`, `${runs.join("\n")}\n`);
    const resumed = await cli("run", "supportRouting", "--input-file", input, "--field", "query=text", "--out", out, "--server", server.url, "--no-progress");
    expect(resumed.code, resumed.stderr.text).toBe(EXIT_PARTIAL);
    expect(resumed.stderr.lines[0]).toBe(`resuming ${out}: 5 rows already written; 19 runs submitted before to be joined, not submitted again; going on from row 6`);
    // the same records, run ids included: every run was joined, none submitted again
    expect(fs.readFileSync(out, "utf8")).toBe(complete);
    expect(await runsPerRow(stateOf(out).batchId, ROWS)).toEqual(Array(ROWS).fill(1));
  }, 120_000);

  it("a row recorded as submitted whose thread the server never got is submitted then", async () => {
    const runsFile = fresh("runs.jsonl");
    const batchId = crypto.randomUUID();
    fs.writeFileSync(runsFile, `${JSON.stringify({ row: 1, thread: rowThreadId(batchId, 1) })}\n`);
    const runner = await openServerRunner({ url: server.url, assistant: "supportRouting", batchId, runsFile, rowsWritten: 0 });
    expect(runner.pending).toBe(1);
    const result = await runner.execute({ query: "I was charged twice" }, { row: 1, signal: new AbortController().signal });
    expect(result.output.route).toBe("billing");
    expect(await runsPerRow(batchId, 1)).toEqual([1]);
    expect(lines(runsFile).map((l) => JSON.parse(l))).toEqual([
      { row: 1, thread: rowThreadId(batchId, 1) },
      { row: 1, thread: rowThreadId(batchId, 1) },
      { row: 1, thread: rowThreadId(batchId, 1), run: result.extra?.run && (result.extra.run as { id: string }).id },
    ]);
  }, 60_000);

  it("SIGKILL mid-batch, then the same command: every row once, the same outputs, one run per row on the server", async () => {
    const out = fresh("killed.jsonl");
    const args = ["--import", "tsx", "src/cli/main.ts", "run", "supportRouting", "--input-file", input, "--field", "query=text", "--out", out, "--server", server.url, "--concurrency", "4", "--no-progress"];
    const run = (killAfter?: number) =>
      new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve, reject) => {
        const child = spawn(process.execPath, args, { cwd: ROOT, env: process.env, stdio: ["ignore", "ignore", "pipe"] });
        let stderr = "";
        child.stderr.on("data", (d) => (stderr += d));
        const poll = setInterval(() => {
          if (killAfter !== undefined && fs.existsSync(out) && fs.readFileSync(out, "utf8").split("\n").length - 1 >= killAfter) {
            clearInterval(poll);
            child.kill("SIGKILL");
          }
        }, 2);
        child.on("error", reject);
        child.on("close", (code, signal) => {
          clearInterval(poll);
          resolve({ code, signal, stderr });
        });
      });
    const killed = await run(6);
    expect(killed.signal, killed.stderr).toBe("SIGKILL");
    const written = lines(out).length;
    expect(written).toBeLessThan(ROWS);
    const resumed = await run();
    expect(resumed.code, resumed.stderr).toBe(EXIT_PARTIAL);
    expect(resumed.stderr).toContain(`resuming ${out}: ${written} rows already written`);
    const got = records(out);
    expect(got.map((r) => r.row)).toEqual(local.map((r) => r.row));
    expect(got.map((r) => r.output)).toEqual(local.map((r) => r.output));
    expect(await runsPerRow(stateOf(out).batchId, ROWS)).toEqual(Array(ROWS).fill(1));
    const joined = /(\d+) runs? submitted before to be joined/.exec(resumed.stderr)?.[1] ?? "0";
    console.log(`server kill-and-resume: killed after ${written} rows written; ${joined} runs joined on resume; ${ROWS} runs in all on the server (one per row)`);
  }, 180_000);

  it("an assistant the server does not have, or a server that does not answer, is one error before anything is written", async () => {
    const out = fresh("none.jsonl");
    const { code, stderr } = await cli("run", "supportRouting", "--input-file", input, "--field", "query=text", "--out", out, "--server", server.url, "--assistant", "noSuchGraph", "--no-progress");
    expect(code).toBe(1);
    expect(stderr.lines).toHaveLength(1);
    expect(stderr.lines[0]).toMatch(/^llm-workflows: LangGraph server .*: no assistant or graph "noSuchGraph" \(give --assistant ID\); its graphs: .*supportRouting/);
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.existsSync(`${out}.batch.json`)).toBe(false);
    // a closed port: the SDK's own retries, then one error
    const closed = await cli("run", "supportRouting", "--input-file", input, "--field", "query=text", "--out", out, "--server", "http://127.0.0.1:9", "--no-progress");
    expect(closed.code).toBe(1);
    expect(closed.stderr.lines).toEqual([expect.stringMatching(/^llm-workflows: LangGraph server http:\/\/127\.0\.0\.1:9: cannot be reached \(/)]);
    expect(fs.existsSync(out)).toBe(false);
  }, 60_000);
});
