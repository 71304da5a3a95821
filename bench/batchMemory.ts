/**
 * Batch mode at scale: peak RSS and rows/s of `llm-workflows run ... --input-file
 * rows.jsonl --out results.jsonl` (the CLI's own code path, `runFromFile`) at
 * 10k, 100k and 1M rows, each run in a child process of its own, with
 *
 * - a zero-latency model: a one-node graph whose node makes one call to a chat
 *   model that answers at once (no sleep, no state kept between calls), so that
 *   the figures are the batch machinery's and LangGraph's;
 * - the offline model: the same one-node graph (`--workflow tiny`, default) or
 *   `supportRouting` (`--workflow supportRouting`, two calls a row, about
 *   10 ms of CPU a row here: 1M rows take hours on two cores).
 *
 * The target (issue #12): peak RSS at 1M rows at most 1.2x the peak RSS at 10k.
 * Input rows are generated on the fly into a temporary file; the output file
 * is deleted after each run.
 *
 * Run: npx tsx bench/batchMemory.ts [--sizes 10000,100000,1000000] [--models zero,offline]
 *        [--workflow tiny|supportRouting] [--concurrency 8] [--json FILE]
 *
 * Server section (issue #12, section 4): `--server-compare ROWS [--server URL]`
 * runs the same ROWS rows of `supportRouting` (offline model) as a local batch
 * and as a batch on a LangGraph server (`--server`, default: a dev server this
 * script starts and stops), alternately twice each, and reports rows/s of
 * each; both at `--concurrency` rows in flight.
 *
 * @module
 */
import { spawn } from "node:child_process";
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { Writable } from "node:stream";
import { BaseChatModel } from "@langchain/core/language_models/chat_models";
import { AIMessage, type BaseMessage } from "@langchain/core/messages";
import type { ChatResult } from "@langchain/core/outputs";
import { END, START, StateGraph, StateSchema } from "@langchain/langgraph";
import { z } from "zod";

type ModelKind = "zero" | "offline";
type WorkflowKind = "tiny" | "supportRouting";

/** One measurement. */
export interface BatchMemoryResult {
  model: ModelKind;
  workflow: WorkflowKind;
  rows: number;
  concurrency: number;
  /** Peak resident set size of the child, bytes. */
  maxRssBytes: number;
  /** RSS after loading the modules, before the batch, bytes. */
  restRssBytes: number;
  /** Wall time of the batch (reading, running, writing), ms. */
  batchMs: number;
  rowsPerSecond: number;
  /** Rows the summary counted as succeeded. */
  succeeded: number;
  exitCode: number;
}

const QUERIES = [
  "I was charged twice for the same payment, can I get a refund?",
  "The app crashes every time I log in",
  "How do I order a new card?",
  "My PIN is blocked after three wrong tries",
  "Why was I charged a fee for a transfer abroad?",
];

/** A chat model that answers at once with a fixed text and fixed token counts, keeping nothing between calls. */
class ZeroLatencyChatModel extends BaseChatModel {
  static lc_name(): string {
    return "ZeroLatencyChatModel";
  }

  _llmType(): string {
    return "zero-latency";
  }

  async _generate(_messages: BaseMessage[]): Promise<ChatResult> {
    const message = new AIMessage({ content: "ok", usage_metadata: { input_tokens: 12, output_tokens: 1, total_tokens: 13 } });
    return { generations: [{ text: "ok", message }] };
  }
}

/** The one-node graph: one model call per row, its answer kept. */
async function tinyWorkflow() {
  const { defineWorkflow } = await import("../src/workflow.js");
  const { getChatModel } = await import("../src/models/factory.js");
  const State = new StateSchema({ query: z.string(), answer: z.string().default("") });
  const builder = new StateGraph(State)
    .addNode("respond", async (state, config) => {
      const reply = await getChatModel("default", config).invoke(`Answer in one sentence: ${state.query}`, config);
      return { answer: String(reply.content).slice(0, 60) };
    })
    .addEdge(START, "respond")
    .addEdge("respond", END);
  return defineWorkflow({ name: "tiny", builder: builder as any });
}

/** Writes `rows` JSON lines of `{ query }` to `file`, honouring back-pressure. */
async function writeRows(file: string, rows: number): Promise<void> {
  const out = createWriteStream(file);
  for (let i = 1; i <= rows; i++) {
    if (!out.write(`${JSON.stringify({ query: `${QUERIES[i % QUERIES.length]} (ticket ${i})` })}\n`)) await once(out, "drain");
  }
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
}

/** Child: runs the batch through the CLI's `runFromFile` and prints its figures as one JSON line. */
async function child(args: { model: ModelKind; workflow: WorkflowKind; rows: number; input: string; out: string; concurrency: number }): Promise<void> {
  const { runFromFile } = await import("../src/cli/batchCommand.js");
  const workflow = args.workflow === "tiny" ? await tinyWorkflow() : (await import("../graphs/index.js")).readyWorkflows.get("supportRouting");
  const runOptions = args.model === "zero" ? { configurable: { modelOverride: new ZeroLatencyChatModel({}) } } : { model: "offline" };
  const sink = new Writable({ write: (_chunk, _encoding, done) => done() });
  let summaryLine = "";
  const stderr = new Writable({
    write: (chunk, _encoding, done) => {
      summaryLine = String(chunk).trim() || summaryLine;
      done();
    },
  });
  const restRssBytes = process.memoryUsage().rss;
  const started = performance.now();
  const exitCode = await runFromFile(
    workflow,
    { inputFile: args.input, out: args.out, field: [], concurrency: args.concurrency, progress: false, runOptions },
    sink,
    stderr,
    async () => 1,
  );
  const batchMs = performance.now() - started;
  const succeeded = Number(/^([\d,]+)\//.exec(summaryLine)?.[1]?.replace(/,/g, "") ?? NaN);
  const result: BatchMemoryResult = {
    model: args.model,
    workflow: args.workflow,
    rows: args.rows,
    concurrency: args.concurrency,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    restRssBytes,
    batchMs,
    rowsPerSecond: (args.rows * 1000) / batchMs,
    succeeded,
    exitCode,
  };
  process.stdout.write(`BATCH_MEMORY ${JSON.stringify(result)}\n`);
}

function runChild(args: Record<string, string | number>): Promise<BatchMemoryResult> {
  const argv = Object.entries(args).flatMap(([k, v]) => [`--${k}`, String(v)]);
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), "--child", ...argv], {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, OPENAI_API_KEY: "", OPENAI_BASE_URL: "", LLM_WORKFLOWS_CALL_LOG: "" },
    });
    let stdout = "";
    proc.stdout.on("data", (d) => (stdout += d));
    proc.on("error", reject);
    proc.on("exit", (code) => {
      const line = stdout.split("\n").find((l) => l.startsWith("BATCH_MEMORY "));
      if (!line) reject(new Error(`the child exited with ${code} without figures:\n${stdout.slice(-2000)}`));
      else resolve(JSON.parse(line.slice("BATCH_MEMORY ".length)) as BatchMemoryResult);
    });
  });
}

const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

/** The results as a Markdown table, with the 1M/10k RSS ratio per model. */
export function renderBatchMemory(results: BatchMemoryResult[]): string {
  const lines = [
    "| model | workflow | rows | peak RSS (MiB) | RSS at rest (MiB) | rows/s | wall time (s) | RSS / RSS at 10k |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const r of results) {
    const base = results.find((b) => b.model === r.model && b.workflow === r.workflow && b.rows === 10_000);
    lines.push(
      `| ${r.model === "zero" ? "zero-latency" : "offline"} | ${r.workflow} | ${r.rows.toLocaleString("en-US")} | ${mib(r.maxRssBytes)} | ${mib(r.restRssBytes)} | ${r.rowsPerSecond.toFixed(0)} | ${(r.batchMs / 1000).toFixed(1)} | ${base ? `${(r.maxRssBytes / base.maxRssBytes).toFixed(2)}x` : "-"} |`,
    );
  }
  return lines.join("\n");
}

function parseArgs(argv: string[]): Record<string, string> {
  const args: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    if (!argv[i].startsWith("--")) throw new Error(`unexpected argument ${argv[i]}`);
    const key = argv[i].slice(2);
    args[key] = argv[i + 1] !== undefined && !argv[i + 1].startsWith("--") ? argv[++i] : "true";
  }
  return args;
}

/** One timed batch of the server comparison. */
export interface ServerCompareResult {
  mode: "local" | "server";
  rows: number;
  concurrency: number;
  ms: number;
  rowsPerSecond: number;
  exitCode: number;
}

/** Runs `rows` rows of supportRouting locally and on a server, alternately, twice each. */
async function serverCompare(rows: number, concurrency: number, url: string | undefined): Promise<ServerCompareResult[]> {
  const { runFromFile } = await import("../src/cli/batchCommand.js");
  const { readyWorkflows } = await import("../graphs/index.js");
  const { startDevServer } = await import("../test/helpers/devServer.js");
  const dev = url ? undefined : await startDevServer(150_000);
  const target = url ?? dev!.url;
  const dir = mkdtempSync(join(tmpdir(), "llmw-batch-server-"));
  const results: ServerCompareResult[] = [];
  try {
    const input = join(dir, "rows.jsonl");
    await writeRows(input, rows);
    const workflow = readyWorkflows.get("supportRouting");
    const sink = () => new Writable({ write: (_chunk, _encoding, done) => done() });
    for (const [i, mode] of (["local", "server", "local", "server"] as const).entries()) {
      const out = join(dir, `out-${i}.jsonl`);
      const started = performance.now();
      const exitCode = await runFromFile(
        workflow,
        { inputFile: input, out, field: [], concurrency, progress: false, runOptions: { model: "offline" }, ...(mode === "server" ? { server: target } : {}) },
        sink(),
        sink(),
        async () => 1,
      );
      const ms = performance.now() - started;
      results.push({ mode, rows, concurrency, ms, rowsPerSecond: (rows * 1000) / ms, exitCode });
      console.error(`${mode}: ${rows} rows in ${(ms / 1000).toFixed(1)} s, ${((rows * 1000) / ms).toFixed(1)} rows/s, exit ${exitCode}`);
    }
  } finally {
    await dev?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

/** The server comparison as a Markdown table (the better of each mode's two runs). */
export function renderServerCompare(results: ServerCompareResult[]): string {
  const best = (mode: "local" | "server") => results.filter((r) => r.mode === mode).sort((a, b) => b.rowsPerSecond - a.rowsPerSecond)[0];
  const local = best("local");
  const server = best("server");
  return [
    "| batch | rows | in flight | wall time (s) | rows/s | vs local |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
    ...[local, server].map((r) => `| ${r.mode === "local" ? "local (in process)" : "LangGraph dev server"} | ${r.rows} | ${r.concurrency} | ${(r.ms / 1000).toFixed(1)} | ${r.rowsPerSecond.toFixed(1)} | ${(r.rowsPerSecond / local.rowsPerSecond).toFixed(2)}x |`),
  ].join("\n");
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args["server-compare"]) {
    const results = await serverCompare(Number(args["server-compare"]), Number(args.concurrency ?? 8), args.server);
    console.log(renderServerCompare(results));
    if (args.json) writeFileSync(args.json, `${JSON.stringify(results, null, 2)}\n`);
    return;
  }
  if (args.child) {
    await child({
      model: args.model as ModelKind,
      workflow: args.workflow as WorkflowKind,
      rows: Number(args.rows),
      input: args.input,
      out: args.out,
      concurrency: Number(args.concurrency),
    });
    return;
  }
  const sizes = (args.sizes ?? "10000,100000,1000000").split(",").map(Number);
  const models = (args.models ?? "zero,offline").split(",") as ModelKind[];
  const workflow = (args.workflow ?? "tiny") as WorkflowKind;
  const concurrency = Number(args.concurrency ?? 8);
  const dir = mkdtempSync(join(tmpdir(), "llmw-batch-memory-"));
  const results: BatchMemoryResult[] = [];
  try {
    for (const rows of sizes) {
      const input = join(dir, `rows-${rows}.jsonl`);
      await writeRows(input, rows);
      for (const model of models) {
        const out = join(dir, `out-${model}-${rows}.jsonl`);
        const result = await runChild({ model, workflow, rows, input, out, concurrency });
        rmSync(out, { force: true });
        rmSync(`${out}.batch.json`, { force: true });
        results.push(result);
        console.error(
          `${model} ${workflow} ${rows} rows: peak RSS ${mib(result.maxRssBytes)} MiB, ${result.rowsPerSecond.toFixed(0)} rows/s, ${(result.batchMs / 1000).toFixed(1)} s, exit ${result.exitCode}, ${result.succeeded} succeeded`,
        );
      }
      rmSync(input, { force: true });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(renderBatchMemory(results));
  if (args.json) writeFileSync(args.json, `${JSON.stringify(results, null, 2)}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
