/**
 * Batch mode: `llm-workflows run NAME --input-file rows.{csv,jsonl,json}` in process,
 * and `runBatch` / `rowToInput` directly. Offline model only.
 */
import { END, START, StateGraph, StateSchema } from "@langchain/langgraph";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { errorInput, MAX_ERROR_INPUT_CHARS, runBatch, runBatchItems, type BatchItem, type BatchRecord, type BatchProgress } from "../src/cli/batch.js";
import { rowToInput, type Row } from "../src/cli/io.js";
import { EXIT_PARTIAL, main } from "../src/cli/main.js";
import { Collector, cli } from "./helpers/streams.js";

// Pass-through spy on runBatchItems, to see the options the CLI hands it.
vi.mock("../src/cli/batch.js", async (importOriginal) => {
  const actual = await importOriginal<typeof import("../src/cli/batch.js")>();
  return { ...actual, runBatchItems: vi.fn(actual.runBatchItems) };
});

const STACK_LINE = /^\s+at /m;
const ROUTES = ["billing", "technical", "general", "fallback"];



/** The six rows of the batch files; row 4 has an empty text. */
const ROWS = [
  { text: "I was charged twice for the same payment, can I get a refund?", category: "billing" },
  { text: "The app crashes every time I log in", category: "technical" },
  { text: "Hello, how do I order a new card?", category: "general" },
  { text: "", category: "general" },
  { text: "My PIN is blocked after three wrong tries", category: "technical" },
  { text: "Why was I charged a fee, and can the payment be refunded?", category: "billing" },
];

function csvCell(value: string): string {
  return /[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

let tmp: string;
let csvFile: string;
let jsonlFile: string;
let jsonFile: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "llmw-"));
  csvFile = path.join(tmp, "rows.csv");
  fs.writeFileSync(csvFile, `text,category\n${ROWS.map((r) => `${csvCell(r.text)},${r.category}`).join("\n")}\n`);
  jsonlFile = path.join(tmp, "rows.jsonl");
  fs.writeFileSync(jsonlFile, `${ROWS.map((r) => JSON.stringify(r)).join("\n")}\n`);
  jsonFile = path.join(tmp, "rows.json");
  fs.writeFileSync(jsonFile, JSON.stringify(ROWS, null, 2));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});
beforeEach(() => {
  vi.mocked(runBatchItems).mockClear();
});

let outCount = 0;
function outPath(): string {
  return path.join(tmp, `out-${++outCount}.jsonl`);
}

function readRecords(file: string): BatchRecord[] {
  const text = fs.readFileSync(file, "utf8");
  expect(text.endsWith("\n")).toBe(true);
  return text
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as BatchRecord);
}

/** The checks every run over the six rows shares. */
function expectSixRowResults(records: BatchRecord[]): void {
  expect(records).toHaveLength(6);
  expect(records.map((r) => r.row)).toEqual([1, 2, 3, 4, 5, 6]);
  expect(records.map((r) => r.input)).toEqual(ROWS.map((r) => ({ query: r.text })));
  const bad = records[3];
  expect(bad.error).toMatch(/\bquery\b/);
  expect(bad.output).toBeUndefined();
  expect(bad.usage).toBeUndefined();
  for (const record of [records[0], records[1], records[2], records[4], records[5]]) {
    expect(record.error).toBeUndefined();
    expect(ROUTES).toContain(record.output?.route);
    expect(record.usage?.calls).toBeGreaterThanOrEqual(2);
  }
  expect(records[0].output?.route).toBe("billing");
}

describe("run in batch mode (CLI)", () => {
  it.each([
    ["CSV", () => csvFile],
    ["JSON Lines", () => jsonlFile],
    ["JSON array", () => jsonFile],
  ])("%s: exit 3, one JSON line per row in row order, row 4 failed", async (_kind, file) => {
    const out = outPath();
    const { code, stdout, stderr } = await cli("run", "supportRouting", "--input-file", file(), "--field", "query=text", "--out", out, "--no-progress");
    expect(code).toBe(EXIT_PARTIAL);
    expect(EXIT_PARTIAL).toBe(3);
    expect(stdout.text).toBe("");
    expectSixRowResults(readRecords(out));
    expect(stderr.text).toMatch(/^5\/6 rows succeeded/m);
    expect(stderr.text).toContain(`results in ${out}`);
    const failedLines = stderr.lines.filter((l) => /row \d+ failed/.test(l));
    expect(failedLines).toHaveLength(1);
    expect(failedLines[0]).toMatch(/^\s*row 4 failed: .*\bquery\b/);
    expect(stderr.text).not.toMatch(STACK_LINE);
  });

  it.each([1, 5])("keeps row order with --concurrency %i", async (concurrency) => {
    const out = outPath();
    const { code } = await cli("run", "supportRouting", "--input-file", csvFile, "--field", "query=text", "--out", out, "--no-progress", "--concurrency", String(concurrency));
    expect(code).toBe(EXIT_PARTIAL);
    expectSixRowResults(readRecords(out));
  });

  it("gives the same records whatever the concurrency (deterministic offline model)", async () => {
    const one = outPath();
    const five = outPath();
    await cli("run", "supportRouting", "--input-file", csvFile, "--field", "query=text", "--out", one, "--no-progress", "--concurrency", "1");
    await cli("run", "supportRouting", "--input-file", csvFile, "--field", "query=text", "--out", five, "--no-progress", "--concurrency", "5");
    expect(readRecords(five)).toEqual(readRecords(one));
  });

  // The root program has a --concurrency of its own (the main job's); with enablePositionalOptions()
  // the one after `run` belongs to `run`. A program without it would hand the batch the default (8).
  it("hands --concurrency to the batch", async () => {
    const out = outPath();
    await cli("run", "supportRouting", "--input-file", csvFile, "--field", "query=text", "--out", out, "--no-progress", "--concurrency", "1");
    expect(vi.mocked(runBatchItems)).toHaveBeenCalledTimes(1);
    expect(vi.mocked(runBatchItems).mock.calls[0][1].concurrency).toBe(1);
  });

  it("without --out writes the JSON lines to stdout", async () => {
    const { code, stdout, stderr } = await cli("run", "supportRouting", "--input-file", csvFile, "--field", "query=text", "--no-progress");
    expect(code).toBe(EXIT_PARTIAL);
    expectSixRowResults(stdout.lines.map((l) => JSON.parse(l) as BatchRecord));
    expect(stderr.text).toContain("row 4 failed");
  });

  it("with a progress bar (the default) still writes every row", async () => {
    const out = outPath();
    const { code, stderr } = await cli("run", "supportRouting", "--input-file", csvFile, "--field", "query=text", "--out", out);
    expect(code).toBe(EXIT_PARTIAL);
    expectSixRowResults(readRecords(out));
    expect(stderr.text).toContain("row 4 failed");
  });

  it("exits 0 when every row succeeds", async () => {
    const file = path.join(tmp, "good.jsonl");
    fs.writeFileSync(file, '{"query":"I was charged twice"}\n\n{"query":"The app crashes"}\n');
    const out = outPath();
    const { code, stderr } = await cli("run", "supportRouting", "--input-file", file, "--out", out, "--no-progress");
    expect(code).toBe(0);
    const records = readRecords(out);
    expect(records.map((r) => r.row)).toEqual([1, 2]);
    expect(records.map((r) => r.input)).toEqual([{ query: "I was charged twice" }, { query: "The app crashes" }]);
    expect(records.every((r) => r.error === undefined && typeof r.output?.route === "string")).toBe(true);
    expect(stderr.text).toMatch(/^2\/2 rows succeeded/m);
    expect(stderr.text).not.toContain("failed:");
  });

  it("--input gives defaults merged into every row (bulkClassification)", async () => {
    const file = path.join(tmp, "items.jsonl");
    const itemRows = [
      { texts: ["great phone, love it", "broken after a day"], id: 1 },
      { texts: ["works well"], id: 2 },
      { texts: ["waste of money", "excellent", "disappointed"], id: 3 },
    ];
    fs.writeFileSync(file, `${itemRows.map((r) => JSON.stringify(r)).join("\n")}\n`);
    const defaults = { labels: ["a", "b"], labelDescriptions: { a: "good, great, love, works, excellent", b: "bad, broken, waste, disappointed" } };
    const out = outPath();
    const { code } = await cli(
      "run", "bulkClassification",
      "--input-file", file,
      "--field", "items=texts",
      "--input", JSON.stringify(defaults),
      "--out", out,
      "--no-progress",
    );
    expect(code).toBe(0);
    const records = readRecords(out);
    expect(records.map((r) => r.row)).toEqual([1, 2, 3]);
    expect(records.map((r) => r.input)).toEqual(itemRows.map((r) => ({ ...defaults, items: r.texts })));
    records.forEach((record, i) => {
      const results = record.output?.results as Array<{ item: string; label: string }>;
      expect(results.map((r) => r.item)).toEqual(itemRows[i].texts);
      for (const r of results) expect(["a", "b"]).toContain(r.label);
    });
  });

  it("--input defaults without --field: row columns win over the defaults", async () => {
    const file = path.join(tmp, "items-own-labels.json");
    fs.writeFileSync(file, JSON.stringify([{ items: ["x"] }, { items: ["y"], labels: ["p", "q"] }]));
    const out = outPath();
    const { code } = await cli("run", "bulkClassification", "--input-file", file, "--input", '{"labels":["a","b"]}', "--out", out, "--no-progress");
    expect(code).toBe(0);
    const records = readRecords(out);
    expect(records.map((r) => r.input)).toEqual([
      { labels: ["a", "b"], items: ["x"] },
      { labels: ["p", "q"], items: ["y"] },
    ]);
    expect(["a", "b"]).toContain((records[0].output?.results as Array<{ label: string }>)[0].label);
    expect(["p", "q"]).toContain((records[1].output?.results as Array<{ label: string }>)[0].label);
  });

  it("--input that is not a JSON object is a one-line error in batch mode", async () => {
    const { code, stderr } = await cli("run", "supportRouting", "--input-file", csvFile, "--field", "query=text", "--input", "[1,2]", "--no-progress");
    expect(code).toBe(1);
    expect(stderr.lines).toHaveLength(1);
    expect(stderr.lines[0]).toMatch(/^llm-workflows: cannot read --input: expected a JSON object/);
  });

  it("--thread is refused in batch mode", async () => {
    const { code, stderr } = await cli("run", "supportRouting", "--input-file", csvFile, "--field", "query=text", "--thread", "t1", "--no-progress");
    expect(code).toBe(1);
    expect(stderr.lines).toHaveLength(1);
    expect(stderr.lines[0]).toContain("--thread applies to one input");
    expect(vi.mocked(runBatchItems)).not.toHaveBeenCalled();
  });
});

describe("rowToInput", () => {
  it("without mappings: defaults overlaid with every column", () => {
    const defaults: Row = { labels: ["a", "b"], voters: 3 };
    expect(rowToInput({ text: "hi", voters: 5 }, {}, defaults)).toEqual({ labels: ["a", "b"], voters: 5, text: "hi" });
    expect(rowToInput({ text: "hi" }, {})).toEqual({ text: "hi" });
    expect(defaults).toEqual({ labels: ["a", "b"], voters: 3 });
  });

  it("with mappings: defaults plus only the mapped columns, renamed", () => {
    const defaults: Row = { labels: ["a", "b"] };
    const input = rowToInput({ texts: ["x", "y"], category: "c", extra: 1 }, { items: "texts" }, defaults);
    expect(input).toEqual({ labels: ["a", "b"], items: ["x", "y"] });
    expect(defaults).toEqual({ labels: ["a", "b"] });
    // a mapped column the row lacks gives undefined, which the schema then rejects
    expect(rowToInput({ other: 1 }, { query: "text" })).toEqual({ query: undefined });
    // a mapped column wins over a default of the same field
    expect(rowToInput({ l: ["p", "q"] }, { labels: "l" }, defaults)).toEqual({ labels: ["p", "q"] });
  });
});

describe("runBatch", () => {
  const QUERIES = [
    "I was charged twice for the same payment",
    "The app crashes when I open it",
    "How do I order a new card?",
    "My PIN is blocked",
    "I want a refund for a wrong fee",
    "Which countries are supported?",
  ];
  /** 50 inputs; rows 2, 9, 16, ... have an empty query, row 11 a number, row 21 no query. */
  function fiftyInputs(): { inputs: Row[]; invalid: Set<number> } {
    const invalid = new Set<number>();
    const inputs = Array.from({ length: 50 }, (_, i): Row => {
      if (i % 7 === 1) return invalid.add(i), { query: "" };
      if (i === 10) return invalid.add(i), { query: 5 };
      if (i === 20) return invalid.add(i), { question: "no query field" };
      return { query: `${QUERIES[i % QUERIES.length]} (#${i + 1})` };
    });
    return { inputs, invalid };
  }

  it("keeps every row once and in order, counts failures, writes in row order and sums usage", async () => {
    const { inputs, invalid } = fiftyInputs();
    expect(invalid.size).toBe(9);
    const out = new Collector(true);
    const progress: Array<BatchProgress & { written: number }> = [];
    const summary = await runBatch(inputs, {
      workflow: "supportRouting",
      concurrency: 8,
      out,
      onProgress: (p) => progress.push({ ...p, written: out.lines.length }),
    });

    expect(summary.total).toBe(50);
    expect(summary.records).toHaveLength(50);
    summary.records.forEach((record, i) => {
      expect(record.row).toBe(i + 1);
      expect(record.input).toBe(inputs[i]);
      if (invalid.has(i)) {
        expect(record.error).toMatch(/invalid input for workflow "supportRouting": .*\bquery\b/);
        expect(record.output).toBeUndefined();
      } else {
        expect(record.error).toBeUndefined();
        expect(ROUTES).toContain(record.output?.route);
        expect(record.usage?.calls).toBeGreaterThan(0);
      }
    });
    expect(summary.succeeded).toBe(41);
    expect(summary.failed.map((r) => r.row)).toEqual([...invalid].sort((a, b) => a - b).map((i) => i + 1));
    expect(summary.failed.every((r) => r.error !== undefined)).toBe(true);

    // rows finished out of order: row 2 (invalid) was done before row 1, nothing written yet
    expect(progress[0]).toMatchObject({ done: 1, failed: 1, written: 0 });
    expect(progress.map((p) => p.done)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(progress.at(-1)?.failed).toBe(9);

    // ... and yet the JSON lines are in row order, one per row, matching the records
    const lines = out.lines.map((l) => JSON.parse(l) as BatchRecord);
    expect(lines.map((r) => r.row)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(lines).toEqual(JSON.parse(JSON.stringify(summary.records)));

    const perRow = summary.records.reduce(
      (sum, r) => ({
        calls: sum.calls + (r.usage?.calls ?? 0),
        inputTokens: sum.inputTokens + (r.usage?.inputTokens ?? 0),
        outputTokens: sum.outputTokens + (r.usage?.outputTokens ?? 0),
        usd: sum.usd + (r.usage?.usd ?? 0),
      }),
      { calls: 0, inputTokens: 0, outputTokens: 0, usd: 0 },
    );
    expect(summary.usage.calls).toBeGreaterThan(0);
    expect(summary.usage).toEqual(perRow);
  });

  it("with concurrency 1 finishes rows in order", async () => {
    const { inputs, invalid } = fiftyInputs();
    const small = inputs.slice(0, 12);
    const progress: BatchProgress[] = [];
    const summary = await runBatch(small, { workflow: "supportRouting", concurrency: 1, onProgress: (p) => progress.push({ ...p }) });
    let failedSoFar = 0;
    // with one row at a time, each row finishes after every earlier one was written
    const expected = small.map((_, i) => ({ done: i + 1, failed: invalid.has(i) ? ++failedSoFar : failedSoFar, written: i }));
    expect(progress).toEqual(expected);
    expect(summary.records.map((r) => r.row)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
  });

  it("reads an async iterable of rows", async () => {
    async function* rows(): AsyncGenerator<Row> {
      yield { query: "I was charged twice" };
      yield { query: "" };
      yield { query: "The app crashes" };
    }
    const summary = await runBatch(rows(), { workflow: "supportRouting", concurrency: 2 });
    expect(summary.records.map((r) => [r.row, (r.input as Row).query, r.error === undefined])).toEqual([
      [1, "I was charged twice", true],
      [2, "", false],
      [3, "The app crashes", true],
    ]);
    expect(summary.succeeded).toBe(2);
  });

  it("an empty batch and an unknown workflow", async () => {
    const empty = await runBatch([], { workflow: "supportRouting" });
    expect(empty).toMatchObject({ total: 0, succeeded: 0, failed: [], records: [], usage: { calls: 0, inputTokens: 0, outputTokens: 0 } });
    const unknown = await runBatch([{ query: "x" }, { query: "y" }], { workflow: "noSuchWorkflow" });
    expect(unknown.succeeded).toBe(0);
    expect(unknown.failed.map((r) => r.row)).toEqual([1, 2]);
    expect(unknown.failed[0].error).toContain('unknown workflow "noSuchWorkflow"');
  });
});

/**
 * A one-node graph without a model: `doubled = 2n`. Rows whose `n` is in
 * `gated` wait until `release()`; `started` lists the rows that began.
 */
function gatedGraph(gated: ReadonlySet<number> = new Set()) {
  const State = new StateSchema({ n: z.number(), doubled: z.number().default(0) });
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const started: number[] = [];
  const graph = new StateGraph(State)
    .addNode("double", async (state) => {
      started.push(state.n);
      if (gated.has(state.n)) await gate;
      return { doubled: 2 * state.n };
    })
    .addEdge(START, "double")
    .addEdge("double", END)
    .compile();
  return { graph, release, started };
}

/** Items 1..n, counting how many were read. */
function countedItems(n: number): { items: AsyncGenerator<BatchItem>; read: () => number } {
  let read = 0;
  async function* items(): AsyncGenerator<BatchItem> {
    for (let i = 1; i <= n; i++) {
      read++;
      yield { input: { n: i } };
    }
  }
  return { items: items(), read: () => read };
}

describe("runBatchItems: the window, back-pressure, stop and abort", () => {
  it("reads at most `window` rows ahead of the oldest unwritten row, and writes in row order", async () => {
    const { graph, release } = gatedGraph(new Set([1]));
    const { items, read } = countedItems(100);
    const out = new Collector();
    let finished = 0;
    const batch = runBatchItems(items, { workflow: graph, concurrency: 2, window: 8, out, onProgress: () => finished++ });
    // Row 1 hangs; rows 2..8 finish, then the window is full and reading waits.
    await vi.waitFor(() => expect(finished).toBe(7));
    await new Promise((resolve) => setImmediate(resolve));
    expect(read()).toBe(8);
    expect(out.lines).toHaveLength(0);
    release();
    const summary = await batch;
    expect(read()).toBe(100);
    expect(summary).toMatchObject({ total: 100, succeeded: 100, failures: 0, stopped: false, dropped: 0 });
    const records = out.lines.map((l) => JSON.parse(l) as BatchRecord);
    expect(records.map((r) => r.row)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(records.map((r) => r.output?.doubled)).toEqual(Array.from({ length: 100 }, (_, i) => 2 * (i + 1)));
  });

  it("waits for drain under back-pressure without leaving a listener per write (no MaxListenersExceededWarning)", async () => {
    const { graph } = gatedGraph();
    const out = new Collector(true);
    const baseline = { error: out.listenerCount("error"), drain: out.listenerCount("drain") };
    const seen: number[] = [];
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on("warning", onWarning);
    try {
      const summary = await runBatchItems(countedItems(300).items, {
        workflow: graph,
        concurrency: 4,
        out,
        keepRecords: false,
        onRecord: () => seen.push(out.listenerCount("error") + out.listenerCount("drain")),
      });
      expect(summary.total).toBe(300);
      expect(summary.records).toEqual([]);
    } finally {
      process.off("warning", onWarning);
    }
    expect(out.lines).toHaveLength(300);
    expect(Math.max(...seen)).toBeLessThanOrEqual(baseline.error + baseline.drain + 1);
    expect({ error: out.listenerCount("error"), drain: out.listenerCount("drain") }).toEqual(baseline);
    expect(warnings.filter((w) => w.name === "MaxListenersExceededWarning")).toEqual([]);
  });

  it("`stop`: takes no new row, finishes and writes the rows already taken", async () => {
    const { graph, release, started } = gatedGraph(new Set([1, 2, 3]));
    const { items, read } = countedItems(50);
    const stop = new AbortController();
    const out = new Collector();
    const batch = runBatchItems(items, { workflow: graph, concurrency: 3, window: 6, out, stop: stop.signal });
    await vi.waitFor(() => expect(started).toEqual(expect.arrayContaining([1, 2, 3])));
    stop.abort();
    release();
    const summary = await batch;
    expect(summary.stopped).toBe(true);
    expect(summary.dropped).toBe(0);
    expect(read()).toBeLessThanOrEqual(6);
    expect(summary.total).toBe(read());
    expect(out.lines.map((l) => (JSON.parse(l) as BatchRecord).row)).toEqual(Array.from({ length: read() }, (_, i) => i + 1));
  });

  it("`signal`: rows in flight are dropped, and no row after the first dropped one is written", async () => {
    const { graph, started } = gatedGraph(new Set([3]));
    const { items } = countedItems(50);
    const abort = new AbortController();
    const out = new Collector();
    const batch = runBatchItems(items, { workflow: graph, concurrency: 2, window: 6, out, signal: abort.signal });
    // Rows 1 and 2 are written; row 3 hangs (until aborted), rows 4..6 finish behind it.
    await vi.waitFor(() => expect(out.lines).toHaveLength(2));
    await vi.waitFor(() => expect(started).toEqual(expect.arrayContaining([3, 4, 5, 6])));
    abort.abort();
    const summary = await batch;
    expect(summary).toMatchObject({ stopped: true, total: 2, succeeded: 2 });
    expect(summary.dropped).toBeGreaterThanOrEqual(4);
    expect(out.lines.map((l) => (JSON.parse(l) as BatchRecord).row)).toEqual([1, 2]);
  });

  it("an error of the output stream stops the batch and is thrown once the rows in flight are done", async () => {
    const { graph } = gatedGraph();
    let writes = 0;
    const out = new Writable({
      write(_chunk, _encoding, callback) {
        callback(++writes === 3 ? new Error("disk full") : null);
      },
    });
    const { items, read } = countedItems(1000);
    await expect(runBatchItems(items, { workflow: graph, concurrency: 2, out })).rejects.toThrow("disk full");
    expect(read()).toBeLessThan(1000);
  });

  it("records a row that could not be read without running it, with its line and its text cut to about 1 KB", async () => {
    const { graph, started } = gatedGraph();
    const long = `{"n": ${"9".repeat(5000)}`;
    const summary = await runBatchItems(
      [{ input: { n: 1 } }, { invalid: "invalid JSON (Unexpected end)", raw: long, line: 7 }, { input: { n: "x" } }, { input: { n: 4 } }],
      { workflow: graph },
    );
    expect(started.sort()).toEqual([1, 4]);
    expect(summary.records.map((r) => [r.row, r.error === undefined])).toEqual([
      [1, true],
      [2, false],
      [3, false],
      [4, true],
    ]);
    const unreadable = summary.records[1];
    expect(unreadable).toMatchObject({ row: 2, line: 7, error: "invalid JSON (Unexpected end)", inputBytes: long.length });
    expect(unreadable.input).toBe(`${long.slice(0, MAX_ERROR_INPUT_CHARS)}…`);
    expect(summary.records[2].input).toEqual({ n: "x" });
    expect(summary.records[2].error).toMatch(/\bn\b/);
  });

  it("errorInput keeps a small input whole and cuts a large one (never inside a surrogate pair)", () => {
    expect(errorInput({ query: "short" })).toEqual({ input: { query: "short" } });
    const big = { query: "x".repeat(1_000_000) };
    const cut = errorInput(big);
    expect(typeof cut.input).toBe("string");
    expect((cut.input as string).length).toBe(MAX_ERROR_INPUT_CHARS + 1);
    expect(cut.input as string).toMatch(/^\{"query":"x+…$/);
    expect(cut.inputBytes).toBe(Buffer.byteLength(JSON.stringify(big)));
    const emoji = errorInput(`${"a".repeat(MAX_ERROR_INPUT_CHARS - 1)}😀😀`);
    expect(emoji.input).toBe(`${"a".repeat(MAX_ERROR_INPUT_CHARS - 1)}…`);
  });
});
