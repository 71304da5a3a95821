/**
 * The public data the main job runs on, read from `../shared/data` (or
 * `--data-dir`, or `LLM_WORKFLOWS_DATA`); never copied into the project. When
 * none is found, the small sample set in `samples/` (written for this project)
 * is used instead, and the main job says so.
 *
 * @module
 */
import { parse } from "csv-parse/sync";
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DataFileError } from "../../src/runtime/errors.js";

/** The three support routes of `routes.json`. */
export type SupportRoute = "billing" | "technical" | "general";

/** Everything the main job needs, from the public data or the samples. */
export interface MainJobData {
  /** Where it came from, for the report. */
  source: string;
  /** Whether this is the shipped sample set rather than the public data. */
  samples: boolean;
  supportQueries: Array<{ text: string; intent: string; expected: SupportRoute }>;
  reviews: Array<{ text: string; label: "positive" | "negative" }>;
  article: { topic: string; sources: string };
  research: { task: string; sources: string };
  refinement: { task: string; reference: string };
  customerMessage: string;
  /** A message with several requests, for multiIntentSupport. */
  multiIntentMessage: string;
}

/** The project's root folder (where package.json is). */
export const PROJECT_ROOT = packageRoot(fileURLToPath(new URL(".", import.meta.url)));

/** The nearest folder above `dir` holding a package.json: the project root, from `graphs/lib/` and from `dist/graphs/lib/` alike. */
function packageRoot(dir: string): string {
  for (let at = dir; ; at = dirname(at)) {
    if (existsSync(join(at, "package.json"))) return at;
    if (dirname(at) === at) return dir;
  }
}
/** The shipped sample set. */
export const SAMPLES_FILE = join(PROJECT_ROOT, "samples", "main-job.json");

/**
 * Where the public data is: the option (`--data-dir`), else the environment
 * variable `LLM_WORKFLOWS_DATA`, else `../shared/data` beside the working
 * directory or beside the project root when it holds the folder `marker`;
 * undefined when none of these applies. Shared by the main job and the
 * scripts (docs/data.md).
 *
 * @param marker - The data set folder that marks a default candidate as the data directory (default `banking77`, the main job's).
 * @throws {DataFileError} when the option or the variable names a directory that does not exist.
 */
export function resolveDataDir(option?: string, env: Record<string, string | undefined> = process.env, marker = "banking77"): string | undefined {
  const explicit = option ?? env.LLM_WORKFLOWS_DATA;
  if (explicit) {
    const dir = resolve(explicit);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new DataFileError(dir, "the data directory does not exist");
    return dir;
  }
  for (const candidate of [resolve(process.cwd(), "../shared/data"), resolve(PROJECT_ROOT, "../shared/data")]) {
    if (existsSync(join(candidate, marker))) return candidate;
  }
  return undefined;
}

function read(dir: string, ...path: string[]): string {
  const file = join(dir, ...path);
  try {
    return readFileSync(file, "utf8");
  } catch {
    throw new DataFileError(file, "missing from the data directory");
  }
}

/** The sections of a reStructuredText document: title -> body (headings underlined with = - ~ ^). */
export function rstSections(text: string): Map<string, string> {
  const lines = text.split(/\r?\n/);
  const out = new Map<string, string>();
  let title: string | undefined;
  let body: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const next = lines[i + 1] ?? "";
    if (lines[i].trim() && /^([=\-~^])\1{2,}\s*$/.test(next) && next.trim().length >= lines[i].trim().length) {
      if (title) out.set(title, body.join("\n").trim());
      title = lines[i].trim();
      body = [];
      i++;
      continue;
    }
    body.push(lines[i]);
  }
  if (title) out.set(title, body.join("\n").trim());
  return out;
}

/** Banking77 queries with the route `routes.json` gives their intent. */
export function loadBanking77(dir: string): MainJobData["supportQueries"] {
  const routes = JSON.parse(read(dir, "banking77", "routes.json")).routes as Record<string, SupportRoute>;
  const rows = parse(read(dir, "banking77", "train.csv"), { columns: true, skip_empty_lines: true, bom: true }) as Array<{ text: string; category: string }>;
  return rows.map((r) => {
    const expected = routes[r.category.trim()];
    if (!expected) throw new DataFileError(join(dir, "banking77", "routes.json"), `no route for intent "${r.category}"`);
    return { text: r.text, intent: r.category.trim(), expected };
  });
}

/** The Amazon review sentences with their labels (1 positive, 0 negative). */
export function loadReviews(dir: string): MainJobData["reviews"] {
  return read(dir, "sentiment", "amazon_cells_labelled.txt")
    .split(/\r?\n/)
    .filter((l) => l.includes("\t"))
    .map((l) => {
      const [text, score] = l.split("\t");
      return { text: text.trim(), label: score.trim() === "1" ? ("positive" as const) : ("negative" as const) };
    });
}

/** The Bitext intents whose first rows make up the main job's customer message. */
export const CUSTOMER_MESSAGE_INTENTS = ["complaint", "track_order", "get_refund"];

/** The Bitext intents whose first rows with an entity (invoice id, order id, amount) make up the multi-intent message. */
export const MULTI_INTENT_INTENTS = ["get_invoice", "track_order", "get_refund"];

/**
 * One customer message made of the first Bitext request of each intent in
 * `intents`, in that order, each capitalised and ending with a full stop
 * (Bitext requests are single short sentences, often lower-case). Rows that name an entity (an invoice or order id,
 * an amount) are preferred.
 * @throws {DataFileError} when an intent has no row.
 */
export function composeCustomerMessage(rows: Array<{ instruction: string; intent: string; entity_value?: string }>, intents: readonly string[]): string {
  return intents
    .map((intent) => {
      const row = rows.find((r) => r.intent === intent && r.entity_value) ?? rows.find((r) => r.intent === intent);
      if (!row) throw new DataFileError("bitext_customer_support", `no request with intent "${intent}"`);
      const text = row.instruction.trim().replace(/^\p{Ll}/u, (c) => c.toUpperCase());
      return /[.?!]$/.test(text) ? text : `${text}.`;
    })
    .join(" ");
}

/** Reads everything the main job needs from the public data in `dir`. */
export function loadPublicData(dir: string): MainJobData {
  const advanced = read(dir, "requests_docs", "advanced.rst");
  const quickstart = read(dir, "requests_docs", "quickstart.rst");
  const authentication = read(dir, "requests_docs", "authentication.rst");
  const sessions = rstSections(advanced).get("Session Objects");
  const timeouts = rstSections(advanced).get("Timeouts");
  if (!sessions || !timeouts) throw new DataFileError(join(dir, "requests_docs", "advanced.rst"), 'no "Session Objects" or "Timeouts" section');
  const bitext = parse(read(dir, "bitext_customer_support", "Bitext_Sample_Customer_Support_Training_Dataset.csv"), {
    columns: true,
    skip_empty_lines: true,
    bom: true,
  }) as Array<{ instruction: string; intent: string; entity_value: string }>;
  const customer = composeCustomerMessage(bitext, CUSTOMER_MESSAGE_INTENTS);
  return {
    source: dir,
    samples: false,
    supportQueries: loadBanking77(dir),
    reviews: loadReviews(dir),
    article: { topic: "Session objects in Requests", sources: sessions },
    research: {
      task: "Explain how Requests handles sessions, authentication and timeouts",
      sources: [quickstart, advanced, authentication].join("\n\n"),
    },
    refinement: { task: "Explain when to set a timeout on a request and what happens without one", reference: timeouts },
    customerMessage: customer,
    multiIntentMessage: composeCustomerMessage(bitext, MULTI_INTENT_INTENTS),
  };
}

/** Reads the shipped sample set. */
export function loadSamples(): MainJobData {
  const samples = JSON.parse(readFileSync(SAMPLES_FILE, "utf8")) as Omit<MainJobData, "source" | "samples">;
  return { ...samples, source: SAMPLES_FILE, samples: true };
}
