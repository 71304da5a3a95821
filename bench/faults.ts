/**
 * Throughput under provider faults: a supportRouting batch (the CLI's batch
 * mode, `runBatch`) against the fault-injecting OpenAI-protocol server
 * (test/helpers/faultServer.ts) on loopback, run as a process of its own (a
 * provider is not in the client's process), with `OPENAI_BASE_URL` pointing
 * at it.
 *
 * The fault mix spreads `--faults` evenly over nine kinds: 429 with
 * Retry-After, bare 429, 500, 503, connection reset, hang (`--hang-ms`),
 * body cut short, invalid JSON, JSON failing the schema. Every answer also
 * waits `--latency-ms`.
 *
 * Prints one JSON line: rows, rows lost, seconds, rows/s, HTTP requests and
 * requests per row, the faults served, the model calls and tokens the run
 * counted, and the load average before and after (the machine is shared).
 *
 * Usage: npx tsx bench/faults.ts [--rows 1000] [--faults 0.2] [--concurrency 8]
 *   [--hang-ms 120000] [--latency-ms 50] [--seed 13] [--max-retries N] [--label TEXT]
 *   [--call-log FILE] [--server PATH]  (the fault server script; default test/helpers/faultServer.ts of this tree,
 *                     pass another tree's to measure an older client against the same server)
 *
 * Not part of `npm run bench`: a 50% run takes minutes.
 */
import { spawn } from "node:child_process";
import { loadavg } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { runBatch } from "../src/cli/batch.js";
import { closeRateLimiters } from "../src/runtime/rateLimit.js";
import type { FaultKind, FaultServerOptions, FaultServerStats } from "../test/helpers/faultServer.js";

const { values } = parseArgs({
  options: {
    rows: { type: "string", default: "1000" },
    faults: { type: "string", default: "0.2" },
    concurrency: { type: "string", default: "8" },
    "hang-ms": { type: "string", default: "120000" },
    "latency-ms": { type: "string", default: "50" },
    seed: { type: "string", default: "13" },
    "max-retries": { type: "string" },
    "data-dir": { type: "string" },
    label: { type: "string", default: "" },
    server: { type: "string" },
    "call-log": { type: "string" },
  },
});

const KINDS: FaultKind[] = [
  "rate_limit_retry_after",
  "rate_limit_bare",
  "server_500",
  "server_503",
  "connection_reset",
  "slow",
  "truncated_stream",
  "invalid_json",
  "schema_mismatch",
];

/** Banking77 queries when the data is there, else varied synthetic ones. */
async function queries(n: number): Promise<string[]> {
  const dir = values["data-dir"] ?? process.env.LLM_WORKFLOWS_DATA ?? join(import.meta.dirname, "..", "..", "shared", "data");
  try {
    const { readFileSync } = await import("node:fs");
    const text = readFileSync(join(dir, "banking77", "train.csv"), "utf8");
    const lines = text.split("\n").slice(1).filter(Boolean);
    const rows = lines.map((l) => (l.startsWith('"') ? l.slice(1, l.lastIndexOf('"')).replaceAll('""', '"') : l.slice(0, l.lastIndexOf(","))));
    if (rows.length >= n) return rows.slice(0, n);
  } catch {
    // fall through to synthetic queries
  }
  const topics = ["I was charged twice for a payment", "my card does not work at the ATM", "how do I order a new card", "the app crashes at login", "where is my refund", "which currencies do you support"];
  return Array.from({ length: n }, (_, i) => `${topics[i % topics.length]} (ticket ${i})`);
}

const rate = Number(values.faults);
const faults = Object.fromEntries(KINDS.map((k) => [k, rate / KINDS.length])) as Partial<Record<FaultKind, number>>;
const serverOptions: FaultServerOptions = {
  seed: Number(values.seed),
  faults: rate > 0 ? faults : {},
  slowMs: Number(values["hang-ms"]),
  retryAfterSeconds: 1,
  latencyMs: Number(values["latency-ms"]),
};
const serverScript = values.server ?? fileURLToPath(new URL("../test/helpers/faultServer.ts", import.meta.url));
const child = spawn(process.execPath, ["--import", "tsx", serverScript, JSON.stringify(serverOptions)], {
  stdio: ["ignore", "pipe", "inherit"],
});
const url = await new Promise<string>((resolve, reject) => {
  createInterface({ input: child.stdout! }).once("line", resolve);
  child.once("exit", (code) => reject(new Error(`the fault server exited (${code})`)));
});
const server = {
  url,
  stats: async () => (await (await fetch(`${new URL(url).origin}/__stats`)).json()) as FaultServerStats,
};
process.env.OPENAI_BASE_URL = server.url;
process.env.OPENAI_API_KEY = "sk-fault-server-key";
// The ready workflows register themselves in the facade's registry when their index is loaded (older trees: built in).
await import("../graphs/index.js").catch(() => undefined);

const rows = (await queries(Number(values.rows))).map((query) => ({ query }));
const loadBefore = loadavg();
const started = performance.now();
const summary = await runBatch(rows, {
  workflow: "supportRouting",
  concurrency: Number(values.concurrency),
  runOptions: {
    ...(values["max-retries"] ? { configurable: { maxRetries: Number(values["max-retries"]) } } : {}),
    ...(values["call-log"] ? { callLog: values["call-log"] } : {}),
  },
});
const seconds = (performance.now() - started) / 1000;
const loadAfter = loadavg();
const stats = await server.stats();
child.kill("SIGTERM");
await closeRateLimiters();

const served = Object.values(stats.faults).reduce((a, b) => a + b, 0);
process.stdout.write(
  `${JSON.stringify({
    label: values.label,
    faults: rate,
    rows: summary.total,
    succeeded: summary.succeeded,
    lost: summary.total - summary.succeeded,
    firstErrors: summary.failed.slice(0, 3).map((r) => r.error),
    seconds: Number(seconds.toFixed(1)),
    rowsPerSecond: Number((summary.total / seconds).toFixed(2)),
    requests: stats.requests,
    requestsPerRow: Number((stats.requests / summary.total).toFixed(3)),
    faultsServed: served,
    faultKinds: stats.faults,
    calls: summary.usage.calls,
    tokens: summary.usage.inputTokens + summary.usage.outputTokens,
    tokensServed: stats.tokens,
    load: { before: loadBefore.map((l) => Number(l.toFixed(2))), after: loadAfter.map((l) => Number(l.toFixed(2))) },
  })}\n`,
);
process.exit(0);
