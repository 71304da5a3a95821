/**
 * Runs the `codeGeneration` workflow on MBPP problems and checks its test
 * harness on the dataset's reference solutions.
 *
 * ```sh
 * npx tsx scripts/evalCodeGeneration.ts [--limit 10] [--file sanitized|full] [--max-iterations 3] [--data-dir DIR] [--all-references]
 * ```
 *
 * - Problems: the first `--limit` problems of MBPP's test split (task ids
 *   11-510, as the dataset's README specifies) from `mbpp/sanitized-mbpp.json`
 *   (the hand-verified subset: `prompt`, `test_list`, `test_imports` as setup;
 *   the default) or `mbpp/mbpp.jsonl` (`--file full`: `text`, `test_list`,
 *   `test_setup_code`), read from the data directory (`--data-dir`, else
 *   `LLM_WORKFLOWS_DATA`, else `../shared/data`; docs/data.md). Nothing is copied.
 * - The workflow gets the task text, the tests and the setup, never the
 *   reference `code`. Printed per problem: tests passed by each attempt, the
 *   final count, why the loop stopped, the first failure of the final code.
 *   With the offline model (no `OPENAI_API_KEY`) the drafts are extracts of
 *   the prompt, not code, so 0 tests pass: the script says so.
 * - The harness check: the same problems' reference `code` through
 *   `runPythonTests` (every test must pass), and each reference against the
 *   next problem's tests (they must fail: the harness can tell right from
 *   wrong). `--all-references` runs the reference check on every problem of
 *   the file. Exit code 1 when a reference fails its own tests.
 *
 * The problems, the rows and their scoring are the eval command's
 * (`mbppDataset` in `graphs/lib/datasets.ts`; `llm-workflows eval
 * codeGeneration --dataset mbpp` writes a report, docs/evaluation.md); this
 * script prints each problem's attempts and adds the harness check.
 */
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import pLimit from "p-limit";
import type { TestRun } from "../graphs/codeGeneration.js";
import type { PythonTestResult } from "../graphs/lib/python.js";
import { dataDirHelp, DATA_DIR_OPTION, dataFolder, intOption, parseCommandLine, runScript, UsageError } from "./lib/cli.js";

interface Options {
  limit: number;
  file: "sanitized" | "full";
  maxIterations: number;
  dataDir?: string;
  allReferences: boolean;
}

const HELP = `Usage: npx tsx scripts/evalCodeGeneration.ts [options]

Runs codeGeneration on MBPP problems (test split, task ids 11-510) and checks the
test harness on the dataset's reference solutions (needs python3).

Options:
  --limit N            problems to run (1-1000, default 10)
  --file KIND          sanitized (mbpp/sanitized-mbpp.json, default) or full (mbpp/mbpp.jsonl)
  --max-iterations N   attempts per problem (1-10, default 3)
  --all-references     check the harness on every problem of the file
${dataDirHelp(23)}
  -h, --help           show this help`;

function parseOptions(argv: string[]): Options {
  const { values } = parseCommandLine(
    HELP,
    { limit: { type: "string" }, file: { type: "string" }, "max-iterations": { type: "string" }, "all-references": { type: "boolean" }, ...DATA_DIR_OPTION },
    argv,
  );
  const file = values.file ?? "sanitized";
  if (file !== "sanitized" && file !== "full") throw new UsageError(`--file needs sanitized or full, got ${JSON.stringify(file)}`);
  return {
    limit: intOption("limit", values.limit, 10, 1, 1000),
    file,
    maxIterations: intOption("max-iterations", values["max-iterations"], 3, 1, 10),
    dataDir: values["data-dir"],
    allReferences: values["all-references"] ?? false,
  };
}

const clip = (s: string, n: number) => {
  const one = s.replace(/\s+/g, " ").trim();
  return one.length <= n ? one : `${one.slice(0, n - 1)}…`;
};

/** Runs `items` through `fn`, `concurrency` at a time (p-limit), results in input order. */
function mapLimit<T, R>(items: T[], concurrency: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const limit = pLimit(concurrency);
  return Promise.all(items.map((item) => limit(() => fn(item))));
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const dir = dataFolder(o.dataDir, "mbpp");
  const { loadMbpp, mbppDataset, MBPP_TEST_SPLIT } = await import("../graphs/lib/datasets.js");
  const { runEval } = await import("../src/cli/evalCommand.js");
  const { definition } = await import("../graphs/codeGeneration.js");
  const { resolveModelSettings } = await import("../src/models/configuration.js");
  const { runPythonTests } = await import("../graphs/lib/python.js");
  // The rows and their scoring are the eval command's (llm-workflows eval codeGeneration --dataset mbpp).
  const dataset = mbppDataset(dir, { limit: o.limit, file: o.file, maxIterations: o.maxIterations });
  const all = loadMbpp(dir, o.file);
  const problems = all.filter((p) => p.taskId >= MBPP_TEST_SPLIT.first && p.taskId <= MBPP_TEST_SPLIT.last).slice(0, o.limit);
  const provider = resolveModelSettings("default").provider;
  console.log(`codeGeneration on ${problems.length} MBPP problems (${o.file === "sanitized" ? "sanitized-mbpp.json" : "mbpp.jsonl"}, test split, task ids ${problems[0]?.taskId}-${problems.at(-1)?.taskId}) from ${dir}`);
  console.log(`model: ${provider}; up to ${o.maxIterations} attempts each; the workflow sees the task, the tests and the setup, never the reference code\n`);

  const started = performance.now();
  // One problem at a time, printed as it finishes.
  const rows = await runEval(definition, dataset, {
    concurrency: 1,
    onRow: (row, result, out) => {
      const task = String(row.input.task);
      if (!out) {
        console.log(`#${row.id} ${clip(task, 60)}\n   ERROR: ${result.error}`);
        return;
      }
      const runs = out.testRuns as TestRun[];
      const best = runs.find((r) => r.passed === out.passed && r.total === out.total) ?? runs.at(-1);
      const firstFailure = best?.failed[0];
      console.log(
        `#${row.id} ${clip(task, 60)}\n   attempts ${runs.map((r) => `${r.passed}/${r.total}`).join(" -> ")}; final ${out.passed}/${out.total}; stopped on ${out.stopReason}; ${Math.round(result.latencyMs)} ms` +
          (firstFailure ? `\n   first failure: ${clip(firstFailure.test, 60)} -> ${clip(firstFailure.error, 90)}` : ""),
      );
    },
  });
  const testsPassed = rows.reduce((n, r) => n + (r.ratios?.["tests passed"]?.part ?? 0), 0);
  const testsTotal = rows.reduce((n, r) => n + (r.ratios?.["tests passed"]?.whole ?? 0), 0);
  const solved = rows.filter((r) => r.correct).length;
  const share = testsTotal ? ((100 * testsPassed) / testsTotal).toFixed(1) : "0.0";
  console.log(`\ngenerated code: ${testsPassed} of ${testsTotal} tests passed (${share}%); ${solved} of ${problems.length} problems solved (every test); ${((performance.now() - started) / 1000).toFixed(1)} s`);
  if (provider === "offline") {
    console.log(
      "offline model: it cannot write code (its drafts are extracts of the prompt), so 0 passed is the expected, honest result here;\n" +
        "set OPENAI_API_KEY (or OPENAI_BASE_URL) to measure a model. The check below shows the evaluator itself works on this data.",
    );
  }

  // The harness on the references: every test must pass; against the next problem's tests, they must fail.
  const checked = o.allReferences ? all : problems;
  const refs = await mapLimit(checked, 2, (p) => runPythonTests(p.reference, p.tests, { setup: p.setup }));
  const refPassed = refs.reduce((n, r) => n + r.passed, 0);
  const refTotal = refs.reduce((n, r) => n + r.total, 0);
  const broken = checked.map((p, i) => ({ p, r: refs[i] })).filter(({ r }) => r.passed !== r.total);
  const crossed = await mapLimit(problems, 2, async (p) => {
    const next = problems[(problems.indexOf(p) + 1) % problems.length];
    return next === p ? undefined : runPythonTests(p.reference, next.tests, { setup: next.setup });
  });
  const crossDone = crossed.filter((r): r is PythonTestResult => r !== undefined);
  const crossRejected = crossDone.filter((r) => r.passed < r.total).length;
  console.log(
    `\nharness check on the reference solutions (${o.allReferences ? `all ${checked.length} problems of the file` : `the same ${checked.length} problems`}): ` +
      `${refPassed} of ${refTotal} tests passed; ${checked.length - broken.length} of ${checked.length} references pass every test` +
      ` (network: ${refs[0]?.network ?? "n/a"})`,
  );
  for (const { p, r } of broken.slice(0, 20)) console.log(`   #${p.taskId}: ${r.passed}/${r.total}; ${clip(r.failed[0]?.error ?? "", 120)}`);
  console.log(`negative control: ${crossRejected} of ${crossDone.length} references fail the next problem's tests, as they should`);
  if (broken.length) process.exitCode = 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) runScript("evalCodeGeneration", main);
