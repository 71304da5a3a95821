/**
 * Sequential vs parallel FAQ generation (*LLM Workflow Patterns*) on the Requests docs, with
 * a seeded simulated latency on every model call, against the structural limit.
 *
 * ```sh
 * npx tsx scripts/faqSpeedup.ts [--data-dir DIR] [--seed 42] [--mean 100] [--spread 30] [--reps 3] [--questions 4,10]
 * ```
 *
 * What it does:
 *
 * 1. Reads `requests_docs/*.rst` from the data directory (`--data-dir`, else
 *    `LLM_WORKFLOWS_DATA`, else `../shared/data`; docs/data.md), leaving out `faq.rst` (the
 *    human FAQ, kept as the reference) and non-`.rst` files. Each document's
 *    title is its first heading; its text is the reStructuredText with the
 *    markup lines (directives, labels, heading underlines) removed and roles
 *    and links reduced to their text. Nothing is copied into the project.
 * 2. For each N, runs `faqGeneration` sequential then parallel with
 *    `SimulatedChatModel` (`src/models/simulated.ts`, through the factory's
 *    `configurable.modelOverride`): each call waits a delay uniform in
 *    `mean ± spread` ms drawn from the seed and the prompt, so both modes wait
 *    the same delay for the same call. Two answer kinds:
 *    - `fixed`: fixed answers at almost no CPU cost, so latency and the
 *      graph's own overhead are all that is timed: the structural comparison;
 *    - `offline`: the offline model's extractive answers on the docs (the real
 *      FAQ of this run); its CPU time per call (tens of ms on 62 KB of docs)
 *      runs on the one JavaScript thread, so it does not overlap in parallel.
 *    Wall times are medians of `--reps` runs. Printed per row: calls, wall
 *    times, measured speedup, the structural limit (1 + 2N) / 3 (calls in
 *    sequence against 3 calls deep), the measured share of that limit, and the
 *    speedup the drawn delays alone predict (sum of all delays against the
 *    generation delay plus the slowest question's two delays).
 * 3. Compares the generated questions with the headings of `faq.rst`: a
 *    heading's topic is its content words (stemmed, stop words out, as the
 *    offline model reads text; numbers kept; question words such as "why",
 *    "what", "not" out); a question "mentions" the topic when it has all of
 *    them. Also counts the source-document sentences that have all of
 *    them: a topic absent from the sources cannot come out of any generator
 *    restricted to them.
 */
import { setMaxListeners } from "node:events";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { setTimeout as wait } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import type { FaqDocument, FaqEntry } from "../graphs/faqGeneration.js";
import { rstSections } from "../graphs/lib/data.js";
import { sentences, stemOf, surfaceWords } from "../src/runtime/text.js";
import { DataFileError } from "../src/runtime/errors.js";
import { dataDirHelp, DATA_DIR_OPTION, dataFolder, intOption, numberOption, parseCommandLine, runScript, UsageError } from "./lib/cli.js";

/** *LLM Workflow Patterns*'s measurement for N = 4: sequential 22.20 s, parallel 8.98 s (Gemini 2.5 Flash). */
export const SEED_SEQUENTIAL_S = 22.2;
export const SEED_PARALLEL_S = 8.98;

interface Options {
  dataDir?: string;
  seed: number;
  meanMs: number;
  spreadMs: number;
  reps: number;
  questions: number[];
}

const HELP = `Usage: npx tsx scripts/faqSpeedup.ts [options]

Sequential vs parallel faqGeneration on the Requests guides (requests_docs/*.rst,
faq.rst kept as the reference) with a seeded simulated latency per model call.

Options:
  --seed N          seed of the simulated delays (default 42)
  --mean MS         mean delay per call in ms (default 100)
  --spread MS       delays are uniform in mean ± spread ms (default 30, at most --mean)
  --reps N          runs per timing; medians are shown (default 3)
  --questions LIST  numbers of questions, 1 to 20, comma-separated (default 4,10)
${dataDirHelp(20)}
  -h, --help        show this help`;

function parseOptions(argv: string[]): Options {
  const { values } = parseCommandLine(
    HELP,
    { seed: { type: "string" }, mean: { type: "string" }, spread: { type: "string" }, reps: { type: "string" }, questions: { type: "string" }, ...DATA_DIR_OPTION },
    argv,
  );
  const options: Options = {
    dataDir: values["data-dir"],
    seed: intOption("seed", values.seed, 42, 0),
    meanMs: numberOption("mean", values.mean, 100, 0),
    spreadMs: numberOption("spread", values.spread, 30, 0),
    reps: intOption("reps", values.reps, 3, 1, 100),
    questions: [4, 10],
  };
  if (values.questions !== undefined) {
    options.questions = values.questions.split(",").map(Number);
    if (options.questions.some((n) => !Number.isInteger(n) || n < 1 || n > 20)) throw new UsageError(`--questions needs numbers from 1 to 20, e.g. 4,10, got ${JSON.stringify(values.questions)}`);
  }
  if (options.spreadMs > options.meanMs) throw new UsageError("--spread cannot exceed --mean");
  return options;
}

/** reStructuredText to plain text: markup lines dropped, roles, links and literals reduced to their text. */
export function rstToText(rst: string): string {
  return rst
    .split(/\r?\n/)
    .filter((line) => !/^\s*\.\.\s+(?:_[^:]*:|[\w-]+::|\|)/.test(line) && !/^([=\-~^"'`#*+])\1{2,}\s*$/.test(line))
    .join("\n")
    .replace(/:[\w:]+:`~?([^`<]*?)\s*(?:<[^>]*>)?`/g, "$1")
    .replace(/`([^`<]+?)\s*<[^>]*>`_{1,2}/g, "$1")
    .replace(/``([^`]+)``/g, "$1")
    .replace(/`([^`]+)`_{0,2}/g, "$1")
    .replace(/::\s*$/gm, ":")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}

/** The source documents (every .rst but faq.rst) and the human FAQ's headings. */
function loadDocs(dir: string): { documents: FaqDocument[]; humanHeadings: string[] } {
  const files = readdirSync(dir).filter((f) => f.endsWith(".rst") && f !== "faq.rst").sort();
  if (files.length === 0) throw new DataFileError(dir, "no .rst documents");
  const documents = files.map((file) => {
    const raw = readFileSync(join(dir, file), "utf8");
    const title = [...rstSections(raw).keys()][0] ?? file.replace(/\.rst$/, "");
    return { title, content: rstToText(raw) };
  });
  const faqFile = join(dir, "faq.rst");
  const humanHeadings = existsSync(faqFile) ? [...rstSections(readFileSync(faqFile, "utf8")).keys()].slice(1) : [];
  return { documents, humanHeadings };
}

interface Timing {
  sequentialMs: number;
  parallelMs: number;
  calls: number;
  /** Speedup the drawn delays alone predict. */
  predicted: number;
  sameOutput: boolean;
  sameDelays: boolean;
  faq: FaqEntry[];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Runs both modes `reps` times with one simulated model; medians and what the delays predict. */
async function timeModes(documents: FaqDocument[], n: number, content: "fixed" | "offline", o: Options, meanMs = o.meanMs, spreadMs = o.spreadMs): Promise<Timing> {
  const { definition } = await import("../graphs/faqGeneration.js");
  const { SimulatedChatModel } = await import("../src/models/simulated.js");
  let log: number[] = [];
  const model = new SimulatedChatModel({
    seed: o.seed,
    meanMs,
    spreadMs,
    content,
    sleep: (ms, signal) => {
      log.push(ms);
      return wait(ms, undefined, { signal });
    },
  });
  const config = { configurable: { modelOverride: model } };
  const seq: number[] = [];
  const par: number[] = [];
  let sequentialDelays: number[] = [];
  let sameOutput = true;
  let sameDelays = true;
  let faq: FaqEntry[] = [];
  let calls = 0;
  for (let rep = 0; rep < o.reps; rep++) {
    const outputs: unknown[] = [];
    const totals: number[] = [];
    for (const mode of ["sequential", "parallel"] as const) {
      model.reset();
      log = [];
      const started = performance.now();
      const out = await definition.graph.invoke({ documents, questions: n, mode }, config);
      (mode === "sequential" ? seq : par).push(performance.now() - started);
      if (mode === "sequential") sequentialDelays = log;
      totals.push(model.stats.totalDelayMs);
      calls = model.stats.calls;
      outputs.push(out);
      faq = out.faq;
    }
    sameOutput &&= JSON.stringify(outputs[0]) === JSON.stringify(outputs[1]);
    sameDelays &&= totals[0] === totals[1];
  }
  // Sequential call order: generate, then answer and sources for each question in turn.
  const d = sequentialDelays;
  let slowest = 0;
  for (let i = 1; i + 1 < d.length; i += 2) slowest = Math.max(slowest, d[i] + d[i + 1]);
  const sum = d.reduce((a, b) => a + b, 0);
  const predicted = d.length ? sum / ((d[0] ?? 0) + slowest) : NaN;
  return { sequentialMs: median(seq), parallelMs: median(par), calls, predicted, sameOutput, sameDelays, faq };
}

const pad = (s: string | number, w: number) => String(s).padStart(w);
const fmt = (x: number, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : "n/a");

async function main(): Promise<void> {
  setMaxListeners(0); // one abort listener per parallel task
  const o = parseOptions(process.argv.slice(2));
  const dir = dataFolder(o.dataDir, "requests_docs");
  const { documents, humanHeadings } = loadDocs(dir);
  console.log(`faqGeneration: sequential vs parallel on ${dir}`);
  console.log(`documents (faq.rst left out, kept as the reference): ${documents.map((d) => `${d.title} (${d.content.length} chars)`).join(", ")}`);
  console.log(`latency per call: ${o.meanMs} ms ± ${o.spreadMs} ms (uniform, seed ${o.seed}, same delay for the same call in both modes); medians of ${o.reps} runs\n`);

  await timeModes(documents, 1, "offline", { ...o, reps: 1 }, 0, 0); // warm-up: loads the tokenizer, compiles the hot paths
  const header = `${pad("N", 3)}  ${"answers".padEnd(7)}  ${pad("calls", 5)}  ${pad("sequential", 10)}  ${pad("parallel", 9)}  ${pad("speedup", 7)}  ${pad("limit (1+2N)/3", 14)}  ${pad("of limit", 8)}  ${pad("delays predict", 14)}`;
  console.log(header);
  console.log("-".repeat(header.length));
  const faqs = new Map<number, FaqEntry[]>();
  const checks: string[] = [];
  for (const n of o.questions) {
    const limit = (1 + 2 * n) / 3;
    for (const content of ["fixed", "offline"] as const) {
      const t = await timeModes(documents, n, content, o);
      const speedup = t.sequentialMs / t.parallelMs;
      console.log(
        `${pad(n, 3)}  ${content.padEnd(7)}  ${pad(t.calls, 5)}  ${pad(`${Math.round(t.sequentialMs)} ms`, 10)}  ${pad(`${Math.round(t.parallelMs)} ms`, 9)}  ${pad(`${fmt(speedup)}x`, 7)}  ${pad(`${fmt(limit)}x`, 14)}  ${pad(`${Math.round((100 * speedup) / limit)}%`, 8)}  ${pad(`${fmt(t.predicted)}x`, 14)}`,
      );
      if (!t.sameOutput) checks.push(`N=${n} ${content}: the two modes gave different output`);
      if (!t.sameDelays) checks.push(`N=${n} ${content}: the two modes waited different delays`);
      if (content === "offline") faqs.set(n, t.faq);
    }
    const cpu = await timeModes(documents, n, "offline", o, 0, 0);
    console.log(
      `${pad(n, 3)}  ${"offline".padEnd(7)}  ${pad(cpu.calls, 5)}  ${pad(`${Math.round(cpu.sequentialMs)} ms`, 10)}  ${pad(`${Math.round(cpu.parallelMs)} ms`, 9)}  ${pad("", 7)}  ${pad("", 14)}  ${pad("", 8)}  ${pad("(no latency: CPU)", 14)}`,
    );
  }
  const seed = SEED_SEQUENTIAL_S / SEED_PARALLEL_S;
  console.log(
    `\nseed 001 (N = 4, a real API): ${SEED_SEQUENTIAL_S} s / ${SEED_PARALLEL_S} s = ${fmt(seed)}x, ${Math.round((100 * seed) / 3)}% of its limit 3.00x`,
  );
  console.log(checks.length ? `CHECKS FAILED: ${checks.join("; ")}` : "both modes gave the same FAQ and waited the same delays in every run");
  console.log(
    "limit: sequential makes 1 + 2N calls one after another; parallel is 3 calls deep (questions, then answer and sources per question, all questions at once).\n" +
      "'delays predict' is the speedup of the drawn delays alone (sum of all against questions + slowest question); it is below the limit because the\n" +
      "slowest of N branches waits longer than an average one. 'fixed' answers cost almost no CPU; 'offline' answers cost the offline model's CPU time,\n" +
      "which runs on one thread in both modes (the last row of each N: the same runs without latency).",
  );

  const shown = faqs.get(o.questions[0]) ?? [];
  console.log(`\nThe FAQ for N = ${o.questions[0]} (offline model: questions and answers are extracts of the docs, not written text):`);
  shown.forEach((e, i) => {
    const answer = e.answer.length > 160 ? `${e.answer.slice(0, 159)}…` : e.answer;
    console.log(`${i + 1}. Q: ${e.question}\n   A: ${answer}\n   sources: ${e.sources.join(", ") || "(none)"}`);
  });

  compareWithHumanFaq(documents, humanHeadings, faqs.get(Math.max(...o.questions)) ?? shown);
}

/** Words that make a heading a question rather than name its topic. */
const QUESTION_WORDS = new Set(["why", "what", "how", "when", "where", "which", "who", "not", "doesn't", "does", "do", "are", "is", "can"]);

/** A text's topic terms: content-word stems and numbers, without question words. */
export function topicTerms(text: string): Set<string> {
  const out = new Set<string>();
  for (const word of surfaceWords(text)) {
    const lower = word.toLowerCase();
    if (QUESTION_WORDS.has(lower)) continue;
    const term = /^\d+$/.test(lower) ? lower : stemOf(lower);
    if (term) out.add(term);
  }
  return out;
}

/** The generated questions against the human FAQ's headings (see the module doc, step 3). */
function compareWithHumanFaq(documents: FaqDocument[], headings: string[], faq: FaqEntry[]): void {
  if (headings.length === 0) {
    console.log("\nno faq.rst: no comparison with a human FAQ");
    return;
  }
  const docSentences = documents.flatMap((d) => sentences(d.content).map((s) => topicTerms(s)));
  const questions = faq.map((e) => ({ text: e.question, terms: topicTerms(e.question) }));
  console.log(`\nThe ${questions.length} generated questions against the ${headings.length} entries of the human faq.rst (a question mentions a topic when it has all its words):`);
  const mentioning = new Set<number>();
  let covered = 0;
  for (const heading of headings) {
    const topic = [...topicTerms(heading)];
    const inSources = docSentences.filter((s) => topic.every((t) => s.has(t))).length;
    const hits = questions.map((q, i) => (topic.every((t) => q.terms.has(t)) ? i : -1)).filter((i) => i >= 0);
    hits.forEach((i) => mentioning.add(i));
    if (hits.length) covered++;
    console.log(
      `- ${JSON.stringify(heading)}: topic {${topic.join(", ")}}; ${inSources} sentence(s) of the source docs have it; generated questions mentioning it: ${hits.length ? hits.map((i) => `#${i + 1}`).join(", ") : "none"}`,
    );
  }
  console.log(
    `${covered} of ${headings.length} human FAQ topics are mentioned by a generated question; ${mentioning.size} of ${questions.length} generated questions mention a human FAQ topic.`,
  );
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) runScript("faqSpeedup", main);
