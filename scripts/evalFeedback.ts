/**
 * Runs `feedbackAnalysis` over the labelled Amazon review sentences
 * (`sentiment/amazon_cells_labelled.txt` in the data directory) and prints
 * the agreement of its sentiment with the labels (neutral counts as
 * disagreement), the confusion table, the strong-model share and the
 * escalations. Writes nothing but stdout/stderr.
 *
 * ```sh
 * npx tsx scripts/evalFeedback.ts [--limit N] [--concurrency N] [--data-dir DIR]
 * ```
 *
 * See `--help` and docs/data.md.
 */
import { setMaxListeners } from "node:events";
import { dirname } from "node:path";
import { dataDirHelp, DATA_DIR_OPTION, dataFolder, intOption, parseCommandLine, runScript } from "./lib/cli.js";

const HELP = `Usage: npx tsx scripts/evalFeedback.ts [options]

Runs feedbackAnalysis on the labelled Amazon review sentences
(sentiment/amazon_cells_labelled.txt) and prints its agreement with the labels.

Options:
  --limit N        only N evenly spaced sentences (default: all)
  --concurrency N  workflow runs at once (default 8)
${dataDirHelp(19)}
  -h, --help       show this help`;

async function main(): Promise<void> {
  const { values } = parseCommandLine(HELP, { limit: { type: "string" }, concurrency: { type: "string" }, ...DATA_DIR_OPTION });
  const limit = values.limit === undefined ? undefined : intOption("limit", values.limit, 0, 1);
  const concurrency = intOption("concurrency", values.concurrency, 8, 1, 1_000);
  const folder = dataFolder(values["data-dir"], "sentiment");
  const dir = dirname(folder);

  const { loadReviews } = await import("../graphs/lib/data.js");
  const { evenlySpaced } = await import("../graphs/lib/mainJob.js");
  const { runBatch } = await import("../src/cli/batch.js");
  const { definition } = await import("../graphs/feedbackAnalysis.js");
  const { percent, renderTable, formatUsage } = await import("../src/cli/render.js");
  setMaxListeners(0); // one abort listener per parallel task, as in the facade

  const reviews = evenlySpaced(loadReviews(dir), limit);
  const started = Date.now();
  const summary = await runBatch(
    reviews.map((r) => ({ feedback: r.text })),
    { workflow: definition, concurrency },
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
    `feedbackAnalysis on ${reviews.length} Amazon review sentences from ${folder}\n` +
      `${renderTable(["label \\ sentiment", ...cols], ["positive", "negative"].map((l) => [l, ...cols.map((c) => table[l][c] ?? 0)]))}\n` +
      `agreement with the labels: ${agree}/${reviews.length} (${percent(agree, reviews.length)}); topics by the strong model: ${strong}; escalations: ${escalations}; failed: ${summary.failed.length}\n` +
      `${((Date.now() - started) / 1000).toFixed(1)} s, ${formatUsage(summary.usage)}\n`,
  );
}

runScript("evalFeedback", main);
