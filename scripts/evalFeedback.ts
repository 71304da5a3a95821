/**
 * Runs `feedbackAnalysis` over the labelled Amazon review sentences
 * (`sentiment/amazon_cells_labelled.txt` in the data directory) and prints
 * the agreement of its sentiment with the labels (neutral counts as
 * disagreement), the confusion table, the strong-model share and the
 * escalations. Writes nothing but stdout/stderr. A wrapper of the eval
 * engine: the rows and their scoring are those of
 * `llm-workflows eval feedbackAnalysis --dataset amazon-reviews`
 * (`graphs/lib/datasets.ts`), which also writes a report (docs/evaluation.md).
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

  const { amazonReviews } = await import("../graphs/lib/datasets.js");
  const { runEval } = await import("../src/cli/evalCommand.js");
  const { definition } = await import("../graphs/feedbackAnalysis.js");
  const { percent, renderTable, formatUsage } = await import("../src/cli/render.js");
  const { addUsage, emptyUsage } = await import("../src/runtime/usage.js");
  setMaxListeners(0); // one abort listener per parallel task, as in the facade

  // The rows and their scoring are the eval command's (llm-workflows eval feedbackAnalysis --dataset amazon-reviews).
  const dataset = amazonReviews.load(dir, { limit });
  const started = Date.now();
  const rows = await runEval(definition, dataset, { concurrency });
  const table: Record<string, Record<string, number>> = { positive: {}, negative: {} };
  const usage = emptyUsage();
  let agree = 0;
  let strong = 0;
  let escalations = 0;
  for (const row of rows) {
    table[row.expected!][row.predicted!] = (table[row.expected!][row.predicted!] ?? 0) + 1;
    if (row.correct) agree++;
    strong += row.ratios?.["topics by the strong model (sentiment confidence < 0.7)"]?.part ?? 0;
    escalations += row.ratios?.["escalations opened"]?.part ?? 0;
    addUsage(usage, row.usage);
  }
  const failed = rows.filter((r) => r.error !== undefined).length;
  const cols = ["positive", "negative", "neutral", "failed"];
  process.stdout.write(
    `feedbackAnalysis on ${rows.length} Amazon review sentences from ${folder}\n` +
      `${renderTable(["label \\ sentiment", ...cols], ["positive", "negative"].map((l) => [l, ...cols.map((c) => table[l][c] ?? 0)]))}\n` +
      `agreement with the labels: ${agree}/${rows.length} (${percent(agree, rows.length)}); topics by the strong model: ${strong}; escalations: ${escalations}; failed: ${failed}\n` +
      `${((Date.now() - started) / 1000).toFixed(1)} s, ${formatUsage(usage)}\n`,
  );
}

runScript("evalFeedback", main);
