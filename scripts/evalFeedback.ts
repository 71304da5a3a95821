/**
 * Runs `feedbackAnalysis` over the labelled Amazon review sentences in
 * ../shared/data/sentiment (or --data-dir) and prints the agreement of its
 * sentiment with the labels (neutral counts as disagreement), the confusion
 * table, the strong-model share and the escalations.
 *
 * Usage: npx tsx scripts/evalFeedback.ts [--limit N] [--concurrency N] [--data-dir DIR]
 */
import { parseArgs } from "node:util";
import { runBatch } from "../src/cli/batch.js";
import { evenlySpaced } from "../graphs/lib/mainJob.js";
import { loadReviews, resolveDataDir } from "../graphs/lib/data.js";
import { percent, renderTable, formatUsage } from "../src/cli/render.js";

const { values } = parseArgs({ options: { limit: { type: "string" }, concurrency: { type: "string", default: "8" }, "data-dir": { type: "string" } } });
const dir = resolveDataDir(values["data-dir"]);
if (!dir) throw new Error("no data directory: pass --data-dir or set LLM_WORKFLOWS_DATA");
const reviews = evenlySpaced(loadReviews(dir), values.limit ? Number(values.limit) : undefined);
const started = Date.now();
const summary = await runBatch(
  reviews.map((r) => ({ feedback: r.text })),
  { workflow: "feedbackAnalysis", concurrency: Number(values.concurrency) },
);
const table: Record<string, Record<string, number>> = { positive: {}, negative: {} };
let agree = 0;
let strong = 0;
let escalations = 0;
summary.records.forEach((record, i) => {
  const got = (record.output?.sentiment as { sentiment?: string } | undefined)?.sentiment ?? "failed";
  table[reviews[i].label][got] = (table[reviews[i].label][got] ?? 0) + 1;
  if (got === reviews[i].label) agree++;
  if (record.output?.topicsModel === "strong") strong++;
  if (record.output?.escalationId) escalations++;
});
const cols = ["positive", "negative", "neutral", "failed"];
process.stdout.write(
  `feedbackAnalysis on ${reviews.length} Amazon review sentences from ${dir}/sentiment\n` +
    `${renderTable(["label \\ sentiment", ...cols], ["positive", "negative"].map((l) => [l, ...cols.map((c) => table[l][c] ?? 0)]))}\n` +
    `agreement with the labels: ${agree}/${reviews.length} (${percent(agree, reviews.length)}); topics by the strong model: ${strong}; escalations: ${escalations}; failed: ${summary.failed.length}\n` +
    `${((Date.now() - started) / 1000).toFixed(1)} s, ${formatUsage(summary.usage)}\n`,
);
