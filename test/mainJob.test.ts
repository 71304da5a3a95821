/**
 * The main job: data loading (src/cli/data.ts), the routing table and the run over
 * every workflow (src/cli/mainJob.ts), on the shipped samples and on a tiny data
 * directory written here in the public layout. Offline model only.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { composeCustomerMessage, CUSTOMER_MESSAGE_INTENTS, loadSamples, resolveDataDir, rstSections } from "../graphs/lib/data.js";
import { main } from "../src/cli/main.js";
import { evenlySpaced, renderRoutingReport, routeQueries, runMainJob } from "../graphs/lib/mainJob.js";
import { workflowNames } from "../graphs/index.js";
import { DataFileError } from "../src/runtime/errors.js";
import { Collector } from "./helpers/streams.js";


/** Banking77-style queries with intents, and the routes.json grouping of those intents. */
const BANKING = [
  ["I am still waiting on my card?", "card_arrival"],
  ["The exchange rate applied to my card payment is wrong", "card_payment_wrong_exchange_rate"],
  ["There is an extra charge on my statement, why?", "extra_charge_on_statement"],
  ["My card is not working at the ATM", "card_not_working"],
  ["My PIN is blocked after three wrong tries", "pin_blocked"],
  ["I would like a refund for this payment", "request_refund"],
  ["I forgot my passcode and cannot log in to the app", "passcode_forgotten"],
  ["Is there an age requirement to open an account?", "age_limit"],
  ["Which countries are supported for the card?", "country_support"],
] as const;
const ROUTES: Record<string, "billing" | "technical" | "general"> = {
  card_arrival: "general",
  card_payment_wrong_exchange_rate: "billing",
  extra_charge_on_statement: "billing",
  card_not_working: "technical",
  pin_blocked: "technical",
  request_refund: "billing",
  passcode_forgotten: "technical",
  age_limit: "general",
  country_support: "general",
};

const SESSION_BODY =
  "The Session object allows you to persist certain parameters across requests.\nIt also persists cookies across all requests made from the Session instance,\nand will use urllib3's connection pooling.";
const TIMEOUTS_BODY =
  "Most requests to external servers should have a timeout attached, in case the\nserver is not responding in a timely manner. By default, requests do not time out\nunless a timeout value is set explicitly. Without a timeout, your code may hang\nfor minutes or more.";
const ADVANCED_RST = `.. _advanced:

Advanced Usage
==============

This document covers some of Requests more advanced features.

.. _session-objects:

Session Objects
---------------

${SESSION_BODY}

Timeouts
--------

${TIMEOUTS_BODY}
`;

const BITEXT_HEADER = "context,role,instruction,intent,entity_type,entity_value,start_offset,end_offset,category,tags,response";
const BITEXT_ROWS = [
  ["customer support", "virtual assistant", "how can I cancel purchase 1135?", "cancel_order", "order_id", "1135", "26", "30", "ORDER", "BIL", "I understand, here is how:\n1. Sign in\n2. Open your orders, then cancel."],
  ["customer support", "virtual assistant", "I have a complaint about your service", "complaint", "", "", "", "", "FEEDBACK", "BL", "I'm sorry to hear that, please tell me more."],
  ["customer support", "virtual assistant", "where is my order 555?", "track_order", "order_id", "555", "18", "21", "ORDER", "BIL", "Let me check, \"order 555\" is on its way."],
  ["customer support", "virtual assistant", "  I want my money back  ", "get_refund", "", "", "", "", "REFUND", "B", "Of course, refunds take 5 days."],
  ["customer support", "virtual assistant", "second complaint, ignored", "complaint", "", "", "", "", "FEEDBACK", "BL", "Sorry."],
  ["customer support", "virtual assistant", "send me my invoice", "get_invoice", "", "", "", "", "INVOICE", "B", "Here it is."],
  ["customer support", "virtual assistant", "can you get me invoice #4411", "get_invoice", "invoice_id", "#4411", "22", "27", "INVOICE", "B", "Here it is."],
];

function csvLine(cells: readonly string[]): string {
  return cells.map((c) => (/[",\n]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c)).join(",");
}

/** Writes a tiny data directory in the public layout. */
function writeDataDir(dir: string): string {
  const put = (rel: string, content: string) => {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), content);
  };
  put("banking77/train.csv", `text,category\n${BANKING.map(([t, c]) => csvLine([t, c])).join("\n")}\n`);
  put("banking77/routes.json", JSON.stringify({ _note: "test grouping", routes: ROUTES }, null, 1));
  put(
    "sentiment/amazon_cells_labelled.txt",
    [
      "Great phone, works well and I love it.\t1",
      "Broken after one day, a waste of money.\t0",
      "Excellent sound quality, highly recommend.\t1",
      "Very disappointed, it stopped working.\t0",
      "Good value and happy with it.\t1",
      "Poor battery, bad design.\t0",
    ].join("\n") + "\n",
  );
  put("requests_docs/advanced.rst", ADVANCED_RST);
  put(
    "requests_docs/quickstart.rst",
    "Quickstart\n==========\n\nMake a Request\n--------------\n\nMaking a request with Requests is very simple: r = requests.get(url).\n",
  );
  put(
    "requests_docs/authentication.rst",
    "Authentication\n==============\n\nBasic Authentication\n--------------------\n\nMany web services that require authentication accept HTTP Basic Auth.\n",
  );
  put("bitext_customer_support/Bitext_Sample_Customer_Support_Training_Dataset.csv", `${BITEXT_HEADER}\n${BITEXT_ROWS.map(csvLine).join("\n")}\n`);
  return dir;
}

let tmp: string;
let dataDir: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "llmw-"));
  dataDir = writeDataDir(path.join(tmp, "data"));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});
afterEach(() => {
  vi.unstubAllEnvs();
});

/** The data rows of a routing table: label -> [billing, technical, general, fallback, queries, agreement]. */
function tableRows(table: string): Map<string, string[]> {
  const lines = table.split("\n");
  expect(lines[0]).toMatch(/^expected \\ routed\s+billing\s+technical\s+general\s+fallback\s+queries\s+agreement$/);
  expect(lines[1]).toMatch(/^[- ]+$/);
  return new Map(lines.slice(2).map((l) => {
    const [label, ...cells] = l.trim().split(/\s+/);
    return [label, cells];
  }));
}

describe("evenlySpaced", () => {
  const ten = Array.from({ length: 10 }, (_, i) => i);
  it("returns everything without a limit or with a limit at least the length", () => {
    expect(evenlySpaced(ten, undefined)).toEqual(ten);
    expect(evenlySpaced(ten, 10)).toEqual(ten);
    expect(evenlySpaced(ten, 25)).toEqual(ten);
  });
  it("spreads a smaller limit over the whole list", () => {
    const three = evenlySpaced(ten, 3);
    expect(three).toEqual([0, 3, 6]);
    expect(new Set(three).size).toBe(3);
    expect(evenlySpaced(ten, 1)).toEqual([0]);
    const five = evenlySpaced(ten, 5);
    expect(five).toEqual([0, 2, 4, 6, 8]);
  });
});

describe("routeQueries and renderRoutingReport on the shipped samples", () => {
  it("tallies every query; each row's counts sum to its queries", async () => {
    const samples = loadSamples();
    expect(samples.samples).toBe(true);
    const queries = samples.supportQueries;
    expect(queries.length).toBeGreaterThan(10);
    const progress: Array<[number, number, number]> = [];
    const report = await routeQueries(queries, { concurrency: 4, onProgress: (d, t, f) => progress.push([d, t, f]) });
    expect(report.total).toBe(queries.length);
    expect(report.failed).toBe(0);
    expect(progress.at(-1)).toEqual([queries.length, queries.length, 0]);

    const rows = tableRows(renderRoutingReport(report));
    expect([...rows.keys()]).toEqual(["billing", "technical", "general", "all"]);
    let queriesInRows = 0;
    for (const route of ["billing", "technical", "general"] as const) {
      const cells = rows.get(route)!;
      const counts = cells.slice(0, 4).map(Number);
      const n = Number(cells[4]);
      expect(counts.reduce((a, b) => a + b, 0)).toBe(n);
      expect(n).toBe(queries.filter((q) => q.expected === route).length);
      queriesInRows += n;
    }
    expect(queriesInRows).toBe(queries.length);
    const all = rows.get("all")!;
    expect(Number(all[4])).toBe(queries.length);
    expect(all.slice(0, 4).map(Number).reduce((a, b) => a + b, 0)).toBe(queries.length);
    // the "all" row's per-route counts are the column sums
    for (let c = 0; c < 4; c++) {
      expect(Number(all[c])).toBe(["billing", "technical", "general"].reduce((s, r) => s + Number(rows.get(r)![c]), 0));
    }
    const agree = ["billing", "technical", "general"].reduce((s, r, i) => s + Number(rows.get(r)![i]), 0);
    expect(report.agreement).toBeCloseTo(agree / queries.length, 10);
    expect(all[5]).toBe(`${((100 * agree) / queries.length).toFixed(1)}%`);
    expect(report.usage.calls).toBeGreaterThanOrEqual(2 * queries.length);
  });
});

describe("runMainJob on a data directory in the public layout", () => {
  it("prints the routing table, the agreement line and steps 2 to 8", async () => {
    const printed: string[] = [];
    const { routing, data } = await runMainJob({ dataDir, concurrency: 3, print: (l) => printed.push(l) });
    const text = printed.join("\n");

    expect(printed[0]).toBe(`llm-workflows main job on the public data in ${path.resolve(dataDir)} (model: offline)`);
    expect(text).toMatch(/^1\. supportRouting \(routing\) on 9 of 9 Banking77 queries, batch mode, concurrency 3$/m);
    const table = printed.find((l) => l.startsWith("expected \\ routed"));
    expect(table).toBeDefined();
    const rows = tableRows(table!);
    expect([...rows.keys()]).toEqual(["billing", "technical", "general", "all"]);
    expect(rows.get("billing")![4]).toBe("3");
    expect(rows.get("technical")![4]).toBe("3");
    expect(rows.get("general")![4]).toBe("3");
    expect(rows.get("all")![4]).toBe("9");
    expect(text).toMatch(/^agreement with routes\.json: \d+\.\d%/m);
    expect(text).toContain("0 failed");

    const others = ["contentPipeline", "bulkClassification", "sectionedAnalysis", "votingClassification", "researchAssistant", "multiIntentSupport", "iterativeRefinement"];
    for (const name of others) expect(workflowNames).toContain(name);
    others.forEach((name, i) => {
      expect(text).toMatch(new RegExp(`^${i + 2}\\. ${name} \\(`, "m"));
    });
    const stepStarts = others.map((name) => printed.findIndex((l) => l.includes(`. ${name} (`)));
    expect(stepStarts).toEqual([...stepStarts].sort((a, b) => a - b));
    expect(text).not.toMatch(/^9\. /m);
    expect(text).toMatch(/agreement with the sentiment labels: \d+\/6/);
    expect(text).toContain(`customer message made of the first Bitext requests of intents ${CUSTOMER_MESSAGE_INTENTS.join(", ")}`);

    expect(routing.total).toBe(9);
    expect(routing.failed).toBe(0);
    expect(data.samples).toBe(false);
    expect(data.supportQueries).toEqual(BANKING.map(([text, intent]) => ({ text, intent, expected: ROUTES[intent] })));
    expect(data.reviews.map((r) => r.label)).toEqual(["positive", "negative", "positive", "negative", "positive", "negative"]);
    expect(data.article.sources).toBe(SESSION_BODY);
    expect(data.refinement.reference).toBe(TIMEOUTS_BODY);
    expect(data.customerMessage).toBe("I have a complaint about your service. Where is my order 555? I want my money back.");
    // Rows naming an entity are preferred: the second get_invoice row, not the first.
    expect(data.multiIntentMessage).toBe("Can you get me invoice #4411. Where is my order 555? I want my money back.");
  });

  it("a limit routes an evenly spaced subset of the queries", async () => {
    const printed: string[] = [];
    const { routing } = await runMainJob({ dataDir, limit: 3, print: (l) => printed.push(l) });
    expect(routing.total).toBe(3);
    expect(printed.join("\n")).toMatch(/^1\. supportRouting \(routing\) on 3 of 9 Banking77 queries/m);
  });

  it.each([
    ["sentiment/amazon_cells_labelled.txt"],
    ["banking77/routes.json"],
    ["requests_docs/authentication.rst"],
    ["bitext_customer_support/Bitext_Sample_Customer_Support_Training_Dataset.csv"],
  ])("throws DataFileError when %s is missing", async (missing) => {
    const dir = path.join(tmp, `missing-${missing.replace(/\W+/g, "_")}`);
    writeDataDir(dir);
    fs.rmSync(path.join(dir, missing));
    const printed: string[] = [];
    const error = await runMainJob({ dataDir: dir, print: (l) => printed.push(l) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataFileError);
    expect((error as DataFileError).file).toBe(path.join(dir, missing));
    expect((error as Error).message).toContain("missing from the data directory");
    expect(printed).toEqual([]);
  });

  it("throws DataFileError for an intent routes.json does not route, or an rst file without the sections", async () => {
    const dir = writeDataDir(path.join(tmp, "unrouted"));
    fs.appendFileSync(path.join(dir, "banking77/train.csv"), "What is this?,unknown_intent\n");
    await expect(runMainJob({ dataDir: dir, print: () => {} })).rejects.toThrow(/no route for intent "unknown_intent"/);

    const noSections = writeDataDir(path.join(tmp, "no-sections"));
    fs.writeFileSync(path.join(noSections, "requests_docs/advanced.rst"), "Advanced Usage\n==============\n\nNothing here.\n");
    await expect(runMainJob({ dataDir: noSections, print: () => {} })).rejects.toThrow(DataFileError);
  });

  it("throws DataFileError for a data directory that does not exist", async () => {
    await expect(runMainJob({ dataDir: path.join(tmp, "nope"), print: () => {} })).rejects.toThrow(DataFileError);
  });
});

describe("data helpers", () => {
  it("rstSections maps titles to bodies", () => {
    const sections = rstSections(ADVANCED_RST);
    expect([...sections.keys()]).toEqual(["Advanced Usage", "Session Objects", "Timeouts"]);
    expect(sections.get("Session Objects")).toBe(SESSION_BODY);
    expect(sections.get("Timeouts")).toBe(TIMEOUTS_BODY);
    expect(sections.get("Advanced Usage")).toBe("This document covers some of Requests more advanced features.\n\n.. _session-objects:");

    const mixed = rstSections("Title\r\n=====\r\nintro\r\n\r\nSub ~\r\n~~~~~\r\nsub body\r\nA long line of text\r\n---\r\nstill sub body\r\n\r\nLast\r\n^^^^^^^^\r\nend\r\n");
    expect([...mixed.entries()]).toEqual([
      ["Title", "intro"],
      ["Sub ~", "sub body\nA long line of text\n---\nstill sub body"],
      ["Last", "end"],
    ]);
    expect(rstSections("no headings at all\njust text\n").size).toBe(0);
  });

  it("composeCustomerMessage joins the first request of each intent, in the intents' order", () => {
    const rows = BITEXT_ROWS.map((r) => ({ instruction: r[2], intent: r[3] }));
    expect(composeCustomerMessage(rows, CUSTOMER_MESSAGE_INTENTS)).toBe(
      "I have a complaint about your service. Where is my order 555? I want my money back.",
    );
    expect(composeCustomerMessage(rows, ["get_refund", "complaint"])).toBe("I want my money back. I have a complaint about your service.");
    expect(composeCustomerMessage([{ instruction: "Help!", intent: "x" }], ["x"])).toBe("Help!");
  });

  it("composeCustomerMessage throws a DataFileError for an intent with no row", () => {
    const rows = BITEXT_ROWS.map((r) => ({ instruction: r[2], intent: r[3] }));
    expect(() => composeCustomerMessage(rows, ["complaint", "newsletter_subscription"])).toThrow(DataFileError);
    expect(() => composeCustomerMessage(rows, ["newsletter_subscription"])).toThrow(/no request with intent "newsletter_subscription"/);
  });

  it("resolveDataDir: an explicit directory must exist", () => {
    const missing = path.join(tmp, "does-not-exist");
    expect(() => resolveDataDir(missing)).toThrow(DataFileError);
    expect(() => resolveDataDir(missing)).toThrow(/the data directory does not exist/);
    expect(() => resolveDataDir(undefined, { LLM_WORKFLOWS_DATA: missing })).toThrow(DataFileError);
    const file = path.join(tmp, "a-file");
    fs.writeFileSync(file, "x");
    expect(() => resolveDataDir(file)).toThrow(DataFileError);
    expect(resolveDataDir(dataDir)).toBe(path.resolve(dataDir));
    expect(resolveDataDir(undefined, { LLM_WORKFLOWS_DATA: dataDir })).toBe(path.resolve(dataDir));
    // the option wins over the environment
    expect(resolveDataDir(dataDir, { LLM_WORKFLOWS_DATA: missing })).toBe(path.resolve(dataDir));
  });
});

describe("the main job from the CLI", () => {
  it("llm-workflows --data-dir DIR --limit 3 runs it on DIR", async () => {
    const stdout = new Collector();
    const stderr = new Collector();
    const code = await main(["--data-dir", dataDir, "--limit", "3"], stdout, stderr);
    expect(code).toBe(0);
    expect(stdout.text).toContain(`on the public data in ${path.resolve(dataDir)}`);
    expect(stdout.text).toMatch(/on 3 of 9 Banking77 queries/);
    expect(stdout.text).toContain("agreement with routes.json");
    expect(stderr.text).toContain("routed 3/3");
  });

  it("a --data-dir that does not exist is a one-line error", async () => {
    const stdout = new Collector();
    const stderr = new Collector();
    const code = await main(["--data-dir", path.join(tmp, "nope")], stdout, stderr);
    expect(code).toBe(1);
    expect(stderr.lines).toHaveLength(1);
    expect(stderr.lines[0]).toMatch(/^llm-workflows: cannot read .*nope: the data directory does not exist$/);
    expect(stderr.text).not.toMatch(/^\s+at /m);
  });

  // BUG (src/cli/main.ts, buildProgram lines 160-178): the root program defines --data-dir,
  // --limit, --concurrency and --model as well as the `main` command, and commander (without
  // program.enablePositionalOptions()) lets the root claim them after `main`; the `main`
  // command's action then gets none of them. `llm-workflows main --data-dir DIR` ignores DIR
  // (here it falls back to $LLM_WORKFLOWS_DATA; without it, ../shared/data, the full data set).
  it("llm-workflows main --data-dir DIR --limit 3 runs it on DIR", async () => {
    const other = writeDataDir(path.join(tmp, "other-data"));
    vi.stubEnv("LLM_WORKFLOWS_DATA", other); // where the run goes when --data-dir is lost
    const stdout = new Collector();
    const stderr = new Collector();
    const code = await main(["main", "--data-dir", dataDir, "--limit", "3"], stdout, stderr);
    expect(code).toBe(0);
    expect(stdout.text).toContain(`on the public data in ${path.resolve(dataDir)} `);
    expect(stdout.text).toMatch(/on 3 of 9 Banking77 queries/);
  });
});
