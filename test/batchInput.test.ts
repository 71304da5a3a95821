/**
 * Batch mode's input files: CSV/TSV with a delimiter, JSON Lines and JSON
 * arrays read as streams; rows that cannot be read become error records while
 * the others run; a `--field` column the file lacks is one error before
 * anything runs; invalid UTF-8 is replaced and counted; the progress figures
 * and the final line. In process, offline model.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BatchRecord } from "../src/cli/batch.js";
import { formatEta, formatProgress, parseDelimiter, progressFigures, resumeCommand } from "../src/cli/batchCommand.js";
import { openBatchInput, type InputRow } from "../src/cli/batchInput.js";
import { EXIT_PARTIAL } from "../src/cli/main.js";
import { DataFileError } from "../src/runtime/errors.js";
import { cli } from "./helpers/streams.js";

const ROOT = path.resolve(import.meta.dirname, "..");
let tmp: string;
let count = 0;
beforeAll(() => {
  fs.mkdirSync(path.join(ROOT, "out"), { recursive: true });
  tmp = fs.mkdtempSync(path.join(ROOT, "out", "batch-input-"));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function tmpFile(name: string, content: string | Buffer): string {
  const file = path.join(tmp, `${++count}-${name}`);
  fs.writeFileSync(file, content);
  return file;
}

function readRecords(file: string): BatchRecord[] {
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as BatchRecord);
}

async function rowsOf(file: string, options: { delimiter?: string } = {}): Promise<InputRow[]> {
  const input = await openBatchInput(file, options);
  const rows: InputRow[] = [];
  for await (const row of input.rows) rows.push(row);
  return rows;
}

/** Runs supportRouting on `file` with `--out`; returns the exit code, the records and stderr's lines. */
async function batch(file: string, ...extra: string[]) {
  const out = path.join(tmp, `${++count}-out.jsonl`);
  const { code, stdout, stderr } = await cli("run", "supportRouting", "--input-file", file, "--out", out, "--no-progress", ...extra);
  return { code, out, stdout, stderr, records: fs.existsSync(out) ? readRecords(out) : undefined };
}

describe("reading rows", () => {
  it("CSV: a ragged row and an unclosed quote are rows that could not be read, with their line; the rest are read", async () => {
    const file = tmpFile("ragged.csv", 'text,category\nhello,a\nthree,columns,here\n"two\nlines",b\nlonely\nlast,c\n"never closed,d\n');
    const rows = await rowsOf(file);
    expect(rows.map((r) => [r.row, r.line, r.values ?? r.invalid])).toEqual([
      [1, 2, { text: "hello", category: "a" }],
      [2, 3, "3 fields where the header has 2 (text, category)"],
      [3, 5, { text: "two\nlines", category: "b" }],
      [4, 6, "1 field where the header has 2 (text, category)"],
      [5, 7, { text: "last", category: "c" }],
      [6, 8, expect.stringMatching(/^malformed CSV \(Quote Not Closed/)],
    ]);
    expect(rows[1].raw).toBe("three,columns,here");
  });

  it("TSV by extension (tab, quotes inside fields kept), and --delimiter for another separator", async () => {
    const tsv = tmpFile("rows.tsv", 'text\tcategory\nhe said "hi", twice\tgreeting\n');
    expect((await rowsOf(tsv)).map((r) => r.values)).toEqual([{ text: 'he said "hi", twice', category: "greeting" }]);
    const semicolons = tmpFile("rows.csv", "text;category\na, b;c\n");
    expect((await rowsOf(semicolons, { delimiter: ";" })).map((r) => r.values)).toEqual([{ text: "a, b", category: "c" }]);
    // without the delimiter the same file has one column, and the row two fields
    expect((await rowsOf(semicolons)).map((r) => r.values ?? r.invalid)).toEqual(["2 fields where the header has 1 (text;category)"]);
    const jsonl = tmpFile("rows.jsonl", '{"a":1}\n');
    await expect(openBatchInput(jsonl, { delimiter: ";" })).rejects.toThrow(/--delimiter applies to \.csv and \.tsv files only/);
  });

  it("JSON Lines: a malformed line and a line that is not an object are rows of their own; blank lines are not rows", async () => {
    const file = tmpFile("rows.jsonl", '\uFEFF{"q":"a"}\n{"q": oops}\n\n[1,2]\n{"q":"d"}');
    const rows = await rowsOf(file);
    expect(rows.map((r) => [r.row, r.line, r.values ?? r.invalid])).toEqual([
      [1, 1, { q: "a" }],
      [2, 2, expect.stringMatching(/^invalid JSON \(/)],
      [3, 4, "expected a JSON object, got an array"],
      [4, 5, { q: "d" }],
    ]);
    expect(rows[1].raw).toBe('{"q": oops}');
  });

  it("a JSON array is streamed: an element that is not an object is a row of its own; a syntax error ends it with one record", async () => {
    const good = tmpFile("rows.json", '\uFEFF[{"q":"a"}, "b", {"q":"c"}]');
    expect((await rowsOf(good)).map((r) => [r.row, r.values ?? r.invalid])).toEqual([
      [1, { q: "a" }],
      [2, "expected a JSON object, got a string"],
      [3, { q: "c" }],
    ]);
    // the rows before the error are read, even those in the same chunk as the error
    const broken = tmpFile("broken.json", '[{"q":"a"},\n {"q":"b"}, {"q": oops}, {"q":"d"}]');
    const rows = await rowsOf(broken);
    expect(rows.map((r) => [r.row, r.values ?? r.invalid])).toEqual([
      [1, { q: "a" }],
      [2, { q: "b" }],
      [3, "invalid JSON at line 2, column 19 (Parser cannot parse input: expected a value); the rest of the file cannot be read"],
    ]);
    const truncated = tmpFile("truncated.json", '[{"q":"a"}, {"q":"b"}');
    expect((await rowsOf(truncated)).map((r) => r.values ?? r.invalid)).toEqual([{ q: "a" }, { q: "b" }, expect.stringMatching(/^invalid JSON at line 1, column \d+ \(.*\); the rest/)]);
    // an error in a later chunk, with rows before it in that chunk and in earlier ones
    const many = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ q: `row ${i + 1}`, pad: "x".repeat(40) }));
    const late = tmpFile("late.json", `[${many.join(",")}, {"q": oops}]`);
    expect(fs.statSync(late).size).toBeGreaterThan(2 * 64 * 1024);
    const lateRows = await rowsOf(late);
    expect(lateRows).toHaveLength(3001);
    expect(lateRows.slice(0, 3000).map((r) => r.values?.q)).toEqual(many.map((_, i) => `row ${i + 1}`));
    expect(lateRows[3000].invalid).toMatch(/^invalid JSON at line 1/);
    await expect(openBatchInput(tmpFile("number.json", "42"))).rejects.toThrow(/expected a JSON array of objects/);
  });

  it("a JSON array larger than the read chunk is read as a stream (the file is not read whole before the first row)", async () => {
    const rows = Array.from({ length: 20_000 }, (_, i) => ({ q: `question ${i}`, pad: "x".repeat(40) }));
    const file = tmpFile("large.json", JSON.stringify(rows));
    const input = await openBatchInput(file);
    const first = await input.rows.next();
    expect(first.value?.values).toEqual(rows[0]);
    expect(input.stats.size).toBeGreaterThan(1_000_000);
    expect(input.stats.bytesRead).toBeLessThanOrEqual(64 * 1024);
    let n = 1;
    for await (const row of input.rows) if (row.values) n++;
    expect(n).toBe(20_000);
    expect(input.stats).toMatchObject({ bytesRead: input.stats.size, ended: true, rows: 20_000 });
  });

  it("invalid UTF-8 is replaced with U+FFFD and counted; a U+FFFD in the file is not counted", async () => {
    const bytes = Buffer.concat([
      Buffer.from('{"q":"bad \xff byte"}\n', "latin1"),
      Buffer.from('{"q":"real \uFFFD here"}\n', "utf8"),
      Buffer.from([0x7b, 0x22, 0x71, 0x22, 0x3a, 0x22, 0xe2, 0x28, 0xa1, 0x22, 0x7d, 0x0a]), // {"q":"<E2 28 A1>"}
    ]);
    const file = tmpFile("utf8.jsonl", bytes);
    const input = await openBatchInput(file);
    const values: unknown[] = [];
    for await (const row of input.rows) values.push(row.values?.q);
    expect(values).toEqual(["bad \uFFFD byte", "real \uFFFD here", "\uFFFD(\uFFFD"]);
    expect(input.stats.replacedUtf8).toBe(3);
  });
});

describe("batch mode on files with bad rows (CLI)", () => {
  it("a ragged CSV row fails alone: its record has the row, the line and the reason; the others run; exit 3", async () => {
    const file = tmpFile("ragged.csv", "text,category\nI was charged twice,billing\nthree,columns,here\nThe app crashes,technical\n");
    const { code, records, stderr } = await batch(file, "--field", "query=text");
    expect(code).toBe(EXIT_PARTIAL);
    expect(records!.map((r) => [r.row, r.error === undefined])).toEqual([
      [1, true],
      [2, false],
      [3, true],
    ]);
    expect(records![1]).toEqual({ row: 2, input: "three,columns,here", line: 3, error: "3 fields where the header has 2 (text, category)" });
    expect(records![0].output?.route).toBe("billing");
    expect(stderr.lines).toContain("  row 2 failed: 3 fields where the header has 2 (text, category)");
  });

  it("a malformed JSON line fails alone", async () => {
    const file = tmpFile("bad.jsonl", '{"query":"I was charged twice"}\n{"query": oops}\n{"query":"The app crashes"}\n');
    const { code, records } = await batch(file);
    expect(code).toBe(EXIT_PARTIAL);
    expect(records!.map((r) => [r.row, r.line, r.error?.slice(0, 13)])).toEqual([
      [1, undefined, undefined],
      [2, 2, "invalid JSON "],
      [3, undefined, undefined],
    ]);
    expect(records![1].input).toBe('{"query": oops}');
  });

  it("a failed row with a 1 MB input keeps about 1 KB of it in its record", async () => {
    const huge = "x".repeat(1_000_000);
    const file = tmpFile("huge.jsonl", `${JSON.stringify({ query: 42, blob: huge })}\n{"query":"I was charged twice"}\n`);
    const { code, out, records } = await batch(file);
    expect(code).toBe(EXIT_PARTIAL);
    expect(records![0].error).toMatch(/\bquery\b/);
    expect(typeof records![0].input).toBe("string");
    expect((records![0].input as string).length).toBeLessThanOrEqual(1025);
    expect(records![0].inputBytes).toBeGreaterThan(1_000_000);
    expect(fs.statSync(out).size).toBeLessThan(10_000);
    expect(records![1].error).toBeUndefined();
  });

  it("a --field column absent from the CSV header is one error before anything runs, naming it and listing the columns", async () => {
    const file = tmpFile("rows.csv", "text,category\nI was charged twice,billing\nThe app crashes,technical\n");
    const callLog = path.join(tmp, `${++count}-calls.jsonl`);
    const { code, stderr, records } = await batch(file, "--field", "query=txt", "--call-log", callLog);
    expect(code).toBe(1);
    expect(stderr.lines).toHaveLength(1);
    expect(stderr.lines[0]).toBe(`llm-workflows: cannot read ${file}: --field query=txt: no column "txt"; its header has: "text", "category"`);
    expect(records ?? []).toEqual([]);
    expect(fs.existsSync(callLog)).toBe(false);
  });

  it("JSON Lines have no header: a --field column absent from the first row is one error; absent from a later row, that row's error", async () => {
    const first = tmpFile("first.jsonl", '{"body":"I was charged twice"}\n{"text":"x"}\n');
    const refused = await batch(first, "--field", "query=text");
    expect(refused.code).toBe(1);
    expect(refused.stderr.lines).toEqual([`llm-workflows: cannot read ${first}: --field query=text: no column "text"; its first row has: "body"`]);

    const later = tmpFile("later.jsonl", '{"text":"I was charged twice"}\n{"body":"x"}\n');
    const { code, records } = await batch(later, "--field", "query=text");
    expect(code).toBe(EXIT_PARTIAL);
    expect(records![1]).toEqual({ row: 2, input: { body: "x" }, line: 2, error: 'no column "text" in this row (see --field)' });
  });

  it("a .tsv file runs (tab-delimited), and --delimiter ';' reads a semicolon CSV", async () => {
    const tsv = tmpFile("rows.tsv", "text\tcategory\nI was charged twice, twice\tbilling\n");
    const one = await batch(tsv, "--field", "query=text");
    expect(one.code).toBe(0);
    expect(one.records!.map((r) => r.input)).toEqual([{ query: "I was charged twice, twice" }]);
    const semi = tmpFile("semi.csv", "text;category\nThe app crashes;technical\n");
    const two = await batch(semi, "--field", "query=text", "--delimiter", ";");
    expect(two.code).toBe(0);
    expect(two.records!.map((r) => r.input)).toEqual([{ query: "The app crashes" }]);
  });

  it("a bad --delimiter is a usage error (exit 2)", async () => {
    const file = tmpFile("rows.csv", "text\nhello\n");
    const { code, stderr } = await cli("run", "supportRouting", "--input-file", file, "--delimiter", ";;", "--no-progress");
    expect(code).toBe(2);
    expect(stderr.text).toContain("expected one character");
    expect(parseDelimiter("\\t")).toBe("\t");
    expect(parseDelimiter("tab")).toBe("\t");
    expect(parseDelimiter("|")).toBe("|");
    expect(() => parseDelimiter('"')).toThrow();
  });

  it("invalid UTF-8: the row runs with U+FFFD and the final line counts the replaced sequences", async () => {
    const file = tmpFile("latin1.jsonl", Buffer.from('{"query":"I was charged tw\xefce"}\n{"query":"The app crashes"}\n', "latin1"));
    const { code, records, stderr } = await batch(file);
    expect(code).toBe(0);
    expect(records![0].input).toEqual({ query: "I was charged tw\uFFFDce" });
    expect(stderr.lines.at(-1)).toMatch(/^2\/2 rows succeeded, 0 failed, 1 invalid UTF-8 sequence replaced with U\+FFFD in /);
  });

  it("the final line gives the counts and the output path", async () => {
    const file = tmpFile("rows.jsonl", '{"query":"I was charged twice"}\n{"query":""}\n{"query":"The app crashes"}\n');
    const { code, out, stderr } = await batch(file);
    expect(code).toBe(EXIT_PARTIAL);
    expect(stderr.lines.at(-1)).toMatch(new RegExp(`^2/3 rows succeeded, 1 failed in \\d+\\.\\d s \\(\\d+\\.\\d rows/s\\); 4 calls, .*; results in ${out.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`));
  });
});

describe("progress figures", () => {
  const stats = (over: Partial<{ size: number; bytesRead: number; rows: number; ended: boolean }>) => ({ size: 1000, bytesRead: 100, rows: 10, ended: false, replacedUtf8: 0, ...over });

  it("estimates the rows from the bytes read until the file is read, then counts them", () => {
    expect(progressFigures(stats({}), 0, 5, 1, 2000)).toEqual({ done: 5, failed: 1, total: 100, estimated: true, rate: 2.5, etaSeconds: 38 });
    expect(progressFigures(stats({ bytesRead: 1000, rows: 97, ended: true }), 0, 97, 0, 1000)).toMatchObject({ total: 97, estimated: false, etaSeconds: 0 });
    // a resumed batch: the rows of the earlier run count as done, the rate is this run's
    expect(progressFigures(stats({ bytesRead: 500, rows: 50 }), 40, 10, 0, 1000)).toMatchObject({ done: 50, total: 100, rate: 10, etaSeconds: 5 });
    expect(progressFigures(stats({}), 0, 0, 0, 0).etaSeconds).toBeUndefined();
  });

  it("shows rows/s, the ETA and the failed count", () => {
    expect(formatProgress({ done: 1234, failed: 2, total: 10_000, estimated: true, rate: 41.26, etaSeconds: 218 })).toBe("1,234/≈10,000 rows | 41.3 rows/s | 2 failed | eta 3m38s");
    expect(formatProgress({ done: 5, failed: 0, total: 5, estimated: false, rate: 1, etaSeconds: 0 })).toBe("5/5 rows | 1.0 rows/s | 0 failed | eta 0s");
    expect([formatEta(undefined), formatEta(59.6), formatEta(7322)]).toEqual(["?", "1m00s", "2h02m"]);
  });

  it("the bar on a terminal shows them", async () => {
    const file = tmpFile("rows.jsonl", '{"query":"I was charged twice"}\n{"query":""}\n');
    const out = path.join(tmp, `${++count}-out.jsonl`);
    const { Collector } = await import("./helpers/streams.js");
    const stderr = Object.assign(new Collector(), { isTTY: true, columns: 200, cursorTo: () => true, clearLine: () => true, moveCursor: () => true });
    const { main } = await import("../src/cli/main.js");
    const code = await main(["run", "supportRouting", "--input-file", file, "--out", out], new Collector(), stderr);
    expect(code).toBe(EXIT_PARTIAL);
    expect(stderr.text).toMatch(/supportRouting .* 100% \| 2\/2 rows \| \d+\.\d rows\/s \| 1 failed \| eta 0s/);
  });
});

describe("the resume command", () => {
  const workflow = { name: "supportRouting" } as Parameters<typeof resumeCommand>[0];
  const flags = { inputFile: "my rows.csv", field: ["query=text"], out: "out.jsonl", concurrency: 8, progress: true, runOptions: { model: "offline", callLog: "calls.jsonl" } };

  it("is rebuilt from the flags, quoted for a shell", () => {
    expect(resumeCommand(workflow, { ...flags, delimiter: "\t", concurrency: 3, server: "http://127.0.0.1:2024" })).toBe(
      "llm-workflows run supportRouting --input-file 'my rows.csv' --field query=text --delimiter tab --out out.jsonl --server http://127.0.0.1:2024 --concurrency 3 --model offline --call-log calls.jsonl",
    );
    expect(resumeCommand({ ...workflow, source: "/app/graph.ts:graph" }, flags)).toMatch(/^llm-workflows run \/app\/graph\.ts:graph --input-file/);
  });

  it("is the command given, without --restart (which would start again)", () => {
    expect(resumeCommand(workflow, { ...flags, command: ["--config", "lg.json", "run", "supportRouting", "--input-file", "a.csv", "--out", "o.jsonl", "--restart"] })).toBe(
      "llm-workflows --config lg.json run supportRouting --input-file a.csv --out o.jsonl",
    );
  });
});

describe("readRows (every row or an error)", () => {
  it("throws at the first row that cannot be read, naming file:line", async () => {
    const { readRows } = await import("../src/cli/io.js");
    const file = tmpFile("bad.jsonl", '{"q":"a"}\n{"q": oops}\n');
    const rows: unknown[] = [];
    const error = await (async () => {
      for await (const row of readRows(file)) rows.push(row);
    })().catch((e: unknown) => e);
    expect(rows).toEqual([{ q: "a" }]);
    expect(error).toBeInstanceOf(DataFileError);
    expect((error as DataFileError).file).toBe(`${file}:2`);
  });
});
