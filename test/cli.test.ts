/**
 * The `llm-workflows` command line, in process through `main(argv, stdout, stderr)`
 * with in-memory streams, plus a few runs of the real `bin/llm-workflows.js`.
 * Offline model only (vitest.config.ts clears the provider variables).
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { main } from "../src/cli/main.js";
import { inputFileKind, parseFieldMappings, readRows, type Row } from "../src/cli/io.js";
import { getWorkflow, workflowNames } from "../graphs/index.js";
import { DataFileError } from "../src/runtime/errors.js";
import { Collector, cli } from "./helpers/streams.js";

const PROJECT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const STACK_LINE = /^\s+at /m;



let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "llmw-"));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});
afterEach(() => {
  vi.unstubAllEnvs();
});

function tmpFile(name: string, content: string): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, content);
  return file;
}

async function collectRows(file: string): Promise<Row[]> {
  const rows: Row[] = [];
  for await (const row of readRows(file)) rows.push(row);
  return rows;
}

/** Expects exactly one stderr line, a user error, and no stack trace. */
function expectOneErrorLine(stderr: Collector): string {
  expect(stderr.text).not.toMatch(STACK_LINE);
  expect(stderr.lines).toHaveLength(1);
  expect(stderr.lines[0].startsWith("llm-workflows:")).toBe(true);
  return stderr.lines[0];
}

describe("list and graph", () => {
  it("list prints every registered workflow name", async () => {
    const { code, stdout, stderr } = await cli("list");
    expect(code).toBe(0);
    expect(stderr.text).toBe("");
    expect(workflowNames.length).toBeGreaterThanOrEqual(7);
    const firstColumn = stdout.lines.slice(2).map((l) => l.split(/\s+/)[0]);
    expect(firstColumn).toEqual(workflowNames);
    expect(stdout.lines[0]).toMatch(/^workflow\s+pattern\s+description$/);
  });

  it("graph supportRouting prints a Mermaid diagram with every node", async () => {
    const { code, stdout } = await cli("graph", "supportRouting");
    expect(code).toBe(0);
    expect(stdout.text).toContain("graph TD");
    for (const node of ["classify_query", "technical", "billing", "general", "fallback"]) {
      expect(stdout.text).toMatch(new RegExp(`^\\s*${node}\\(${node}\\)`, "m"));
    }
    // the conditional edges out of the classifier
    expect(stdout.text).toMatch(/classify_query -\.-> billing/);
    expect(stdout.text).toMatch(/classify_query -\.-> fallback/);
  });

  it.each([...workflowNames])("graph %s prints Mermaid text naming each of its nodes", async (name) => {
    const { code, stdout, stderr } = await cli("graph", name);
    expect(code).toBe(0);
    expect(stderr.text).toBe("");
    expect(stdout.text).toContain("graph TD");
    expect(stdout.text).toContain("__start__");
    expect(stdout.text).toContain("__end__");
    const nodes = Object.keys((await getWorkflow(name).graph.getGraphAsync()).nodes).filter((n) => !n.startsWith("__"));
    expect(nodes.length).toBeGreaterThan(0);
    for (const node of nodes) expect(stdout.text).toContain(node);
  });

  it("graph of an unknown workflow is a one-line error", async () => {
    const { code, stdout, stderr } = await cli("graph", "noSuchWorkflow");
    expect(code).toBe(1);
    expect(stdout.text).toBe("");
    const line = expectOneErrorLine(stderr);
    expect(line).toContain('"noSuchWorkflow"');
  });
});

describe("run, one input", () => {
  it("--json prints the output as JSON on stdout and node progress on stderr", async () => {
    const { code, stdout, stderr } = await cli("run", "supportRouting", "--input", '{"query":"I was charged twice, I want a refund"}', "--json");
    expect(code).toBe(0);
    const output = JSON.parse(stdout.text);
    expect(output.route).toBe("billing");
    expect(output.category).toBe("billing");
    expect(typeof output.response).toBe("string");
    // progress and summary go to stderr only
    expect(stdout.text).not.toContain("classify_query");
    expect(stdout.text).not.toContain("finished in");
    const progress = stderr.lines.filter((l) => l.includes("classify_query"));
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(stderr.lines.some((l) => /✓ classify_query/.test(l))).toBe(true);
    expect(stderr.lines.some((l) => /✓ billing/.test(l))).toBe(true);
    expect(stderr.text).toContain("supportRouting finished in");
  });

  it("without --json prints key: value lines", async () => {
    const { code, stdout } = await cli("run", "supportRouting", "--input", '{"query":"I was charged twice, I want a refund"}');
    expect(code).toBe(0);
    expect(stdout.text).toMatch(/^route: billing$/m);
    expect(() => JSON.parse(stdout.text)).toThrow();
  });

  it("reads one input from a .json file holding an object", async () => {
    const file = tmpFile("one.json", JSON.stringify({ query: "I was charged twice, I want a refund" }));
    const { code, stdout } = await cli("run", "supportRouting", "--input-file", file, "--json");
    expect(code).toBe(0);
    expect(JSON.parse(stdout.text).route).toBe("billing");
  });

  it("without --input runs the workflow's example input", async () => {
    const { code, stdout, stderr } = await cli("run", "supportRouting", "--json");
    expect(code).toBe(0);
    expect(stderr.text).toContain("no --input given: running the example input of supportRouting");
    expect(JSON.parse(stdout.text).route).toBe("billing");
  });

  // BUG (src/cli/main.ts, buildProgram lines 160-167): the root program also defines --model,
  // --concurrency, --data-dir and --limit, and commander (without enablePositionalOptions())
  // lets the root claim its options after a subcommand too, so `run ... --model X` sets the
  // root's option and the run never sees it.
  it("--model reaches the run: --model offline overrides LLM_WORKFLOWS_PROVIDER=openai", async () => {
    // Without --model this configuration fails (provider openai, no key); `offline` as the
    // model name selects the offline model whatever else is set (src/models/configuration.ts).
    vi.stubEnv("LLM_WORKFLOWS_PROVIDER", "openai");
    const input = '{"query":"I was charged twice, I want a refund"}';
    const without = await cli("run", "supportRouting", "--input", input, "--json");
    expect(without.code).toBe(1);
    expect(without.stderr.text).toContain("OPENAI_API_KEY");

    const withModel = await cli("run", "supportRouting", "--input", input, "--model", "offline", "--json");
    expect(withModel.stderr.text).not.toMatch(/invalid setting OPENAI_API_KEY/);
    expect(withModel.code).toBe(0);
    expect(JSON.parse(withModel.stdout.text).route).toBe("billing");
  });
  // BUG (src/facade.ts line 120, shown by src/cli/main.ts line 75): LangGraph.js's "tasks" stream
  // never carries an `error` field (a failed task's writes are `__error__`, filtered out, so its
  // result chunk is just `{}`), so a node that throws is reported as "✓" with "no model calls".
  it("a node that throws is marked ✗ in the progress lines, not ✓", async () => {
    vi.stubEnv("LLM_WORKFLOWS_PROVIDER", "openai"); // no key: the classifier's model setting fails
    const { code, stdout, stderr } = await cli("run", "supportRouting", "--input", '{"query":"I was charged twice"}');
    expect(code).toBe(1);
    expect(stdout.text).toBe("");
    expect(stderr.text).not.toMatch(STACK_LINE);
    expect(stderr.lines.at(-1)).toMatch(/^llm-workflows: invalid setting OPENAI_API_KEY/);
    expect(stderr.text).not.toMatch(/✓ classify_query/);
    expect(stderr.text).toMatch(/✗ classify_query.*OPENAI_API_KEY/);
  });
});

describe("errors", () => {
  it("unknown workflow: exit 1, one line naming the available workflows", async () => {
    const { code, stdout, stderr } = await cli("run", "noSuchWorkflow", "--input", '{"query":"hi"}');
    expect(code).toBe(1);
    expect(stdout.text).toBe("");
    const line = expectOneErrorLine(stderr);
    expect(line).toContain('"noSuchWorkflow"');
    for (const name of workflowNames) expect(line).toContain(name);
  });

  it("bad JSON in --input: exit 1, one line saying invalid JSON", async () => {
    const { code, stdout, stderr } = await cli("run", "supportRouting", "--input", "{query: nope");
    expect(code).toBe(1);
    expect(stdout.text).toBe("");
    const line = expectOneErrorLine(stderr);
    expect(line).toContain("invalid JSON");
    expect(line).toContain("--input");
  });

  it.each([
    ["an empty query", '{"query":""}'],
    ["a query of the wrong type", '{"query":42}'],
    ["a missing query", '{"question":"hello"}'],
    ["whitespace only", '{"query":"   "}'],
  ])("invalid input (%s): exit 1, one line naming the field query", async (_label, input) => {
    const { code, stdout, stderr } = await cli("run", "supportRouting", "--input", input);
    expect(code).toBe(1);
    expect(stdout.text).toBe("");
    const line = expectOneErrorLine(stderr);
    expect(line).toContain("invalid input");
    expect(line).toMatch(/\bquery: /);
  });

  it.each(["missing.json", "missing.csv", "missing.jsonl"])("missing --input-file %s: exit 1, no such file", async (name) => {
    const file = path.join(tmp, name);
    const { code, stdout, stderr } = await cli("run", "supportRouting", "--input-file", file);
    expect(code).toBe(1);
    expect(stdout.text).toBe("");
    const line = expectOneErrorLine(stderr);
    expect(line).toContain("no such file");
    expect(line).toContain(file);
  });

  it("unsupported --input-file extension: exit 1, one line", async () => {
    const file = tmpFile("rows.txt", "query\nhello\n");
    const { code, stderr } = await cli("run", "supportRouting", "--input-file", file);
    expect(code).toBe(1);
    const line = expectOneErrorLine(stderr);
    expect(line).toContain('unsupported extension ".txt"');
  });

  it("a bad --field mapping: exit 1, one line", async () => {
    const file = tmpFile("field.csv", "text\nhello\n");
    const { code, stderr } = await cli("run", "supportRouting", "--input-file", file, "--field", "nonsense", "--no-progress");
    expect(code).toBe(1);
    const line = expectOneErrorLine(stderr);
    expect(line).toContain("nonsense");
  });

  it("unknown command: exit 2 and no stack trace", async () => {
    const { code, stdout, stderr } = await cli("bogus");
    expect(code).toBe(2);
    expect(stdout.text).toBe("");
    expect(stderr.text).toContain("unknown command 'bogus'");
    expect(stderr.text).not.toMatch(STACK_LINE);
  });

  it("unknown option and bad option value: exit 2", async () => {
    const unknown = await cli("run", "supportRouting", "--bogus");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.text).toContain("unknown option '--bogus'");
    expect(unknown.stderr.text).not.toMatch(STACK_LINE);

    const badValue = await cli("run", "supportRouting", "--input-file", path.join(tmp, "x.csv"), "--concurrency", "0");
    expect(badValue.code).toBe(2);
    expect(badValue.stderr.text).toContain("expected a whole number of at least 1");
  });

  it("--help exits 0", async () => {
    const { code, stdout } = await cli("--help");
    expect(code).toBe(0);
    for (const command of ["main", "list", "graph", "run"]) expect(stdout.text).toContain(command);
  });
});

describe("io", () => {
  it("parseFieldMappings parses INPUT=COLUMN and rejects anything else", () => {
    expect(parseFieldMappings([])).toEqual({});
    expect(parseFieldMappings(["query=text", "labels=a=b"])).toEqual({ query: "text", labels: "a=b" });
    expect(() => parseFieldMappings(["nonsense"])).toThrow(DataFileError);
    expect(() => parseFieldMappings(["nonsense"])).toThrow(/INPUT_FIELD=COLUMN.*"nonsense"/);
    expect(() => parseFieldMappings(["=text"])).toThrow(DataFileError);
    expect(() => parseFieldMappings(["query="])).toThrow(DataFileError);
  });

  it("inputFileKind goes by the extension, case-insensitively", () => {
    expect(inputFileKind("a.json")).toBe("json");
    expect(inputFileKind("dir/a.JSON")).toBe("json");
    expect(inputFileKind("a.jsonl")).toBe("jsonl");
    expect(inputFileKind("a.ndjson")).toBe("jsonl");
    expect(inputFileKind("a.CSV")).toBe("csv");
    expect(inputFileKind("a.TSV")).toBe("tsv");
    expect(() => inputFileKind("a.xlsx")).toThrow(/unsupported extension "\.xlsx"/);
    expect(() => inputFileKind("noextension")).toThrow(DataFileError);
  });

  it("readRows reads a CSV with a BOM, quoted commas, quotes and newlines", async () => {
    const file = tmpFile(
      "quoted.csv",
      '\uFEFFtext,category\n"Hello, world",greeting\n"She said ""hi""",quote\n"two\nlines",multi\n\nplain,last\n',
    );
    const rows = await collectRows(file);
    expect(rows).toEqual([
      { text: "Hello, world", category: "greeting" },
      { text: 'She said "hi"', category: "quote" },
      { text: "two\nlines", category: "multi" },
      { text: "plain", category: "last" },
    ]);
    // the BOM is not part of the first column name
    expect(Object.keys(rows[0])).toEqual(["text", "category"]);
  });

  it("readRows reads JSON Lines, skipping blank lines", async () => {
    const file = tmpFile("ok.jsonl", '{"query":"a"}\n\n{"query":"b","n":2}\r\n');
    expect(await collectRows(file)).toEqual([{ query: "a" }, { query: "b", n: 2 }]);
  });

  it("readRows on JSON Lines with a bad line throws a DataFileError naming file:line", async () => {
    const file = tmpFile("bad.jsonl", '{"query":"a"}\n{"query":"b"}\n{"query": oops}\n{"query":"d"}\n');
    const error = await collectRows(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataFileError);
    expect((error as DataFileError).file).toBe(`${file}:3`);
    expect((error as DataFileError).message).toContain(`${file}:3`);
    expect((error as DataFileError).message).toContain("invalid JSON");

    const notObject = tmpFile("array-line.jsonl", '{"query":"a"}\n[1,2]\n');
    await expect(collectRows(notObject)).rejects.toThrow(`${notObject}:2: expected a JSON object`);
  });

  it("readRows on a .json array yields its rows; a non-object element is an error", async () => {
    const file = tmpFile("rows.json", JSON.stringify([{ query: "a" }, { query: "b" }]));
    expect(await collectRows(file)).toEqual([{ query: "a" }, { query: "b" }]);
    const bad = tmpFile("bad-rows.json", JSON.stringify([{ query: "a" }, "b"]));
    await expect(collectRows(bad)).rejects.toThrow(/row 2 is not a JSON object/);
  });

  it("readRows on a missing CSV or JSONL file: DataFileError no such file", async () => {
    await expect(collectRows(path.join(tmp, "nope.csv"))).rejects.toThrow(DataFileError);
    await expect(collectRows(path.join(tmp, "nope.jsonl"))).rejects.toThrow(/no such file/);
  });

  it("a ragged CSV row fails alone: an error record for it, the other rows run, exit 3", async () => {
    const file = tmpFile("ragged.csv", "text,category\nhello,a\nthree,columns,here\nbye,b\n");
    const { code, stdout, stderr } = await cli("run", "supportRouting", "--input-file", file, "--field", "query=text", "--no-progress");
    expect(code).toBe(3);
    expect(stderr.text).not.toMatch(STACK_LINE);
    const records = stdout.lines.map((l) => JSON.parse(l) as { row: number; output?: unknown; error?: string });
    expect(records.map((r) => r.row)).toEqual([1, 2, 3]);
    expect(records.filter((r) => r.output).map((r) => r.row)).toEqual([1, 3]);
    expect(records[1].error).toMatch(/3 fields where the header has 2/);
  });

  // BUG (src/cli/io.ts, jsonlRows and readJsonFile): CSV files may start with a UTF-8 BOM
  // (csv-parse `bom: true`), but a .jsonl or .json file saved with a BOM fails with
  // "invalid JSON" on line 1, because JSON.parse does not accept U+FEFF.
  it("reads .jsonl and .json files that start with a UTF-8 BOM, as it does CSV", async () => {
    const jsonl = tmpFile("bom.jsonl", '\uFEFF{"query":"a"}\n{"query":"b"}\n');
    expect(await collectRows(jsonl)).toEqual([{ query: "a" }, { query: "b" }]);
    const json = tmpFile("bom.json", '\uFEFF[{"query":"a"}]');
    expect(await collectRows(json)).toEqual([{ query: "a" }]);
  });
});

describe("the bin script (child process)", () => {
  function cleanEnv(): NodeJS.ProcessEnv {
    const env = { ...process.env };
    for (const key of Object.keys(env)) {
      if (key.startsWith("OPENAI_") || key.startsWith("LLM_WORKFLOWS_")) delete env[key];
    }
    return env;
  }

  function runBin(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ["bin/llm-workflows.js", ...args], { cwd: PROJECT, env: cleanEnv(), stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
      child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      child.on("error", reject);
      child.on("close", (code) => resolve({ code, stdout, stderr }));
    });
  }

  it("invalid input: exit 1, one line 'llm-workflows: invalid input', no stack trace", async () => {
    const { code, stdout, stderr } = await runBin(["run", "supportRouting", "--input", '{"query":""}']);
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).not.toMatch(STACK_LINE);
    const lines = stderr.split("\n").filter((l) => l.trim());
    expect(lines).toHaveLength(1);
    expect(lines[0].startsWith("llm-workflows: invalid input")).toBe(true);
    expect(lines[0]).toContain("query");
  });

  it("the example input prints the offline-model notice on stderr exactly once", async () => {
    const { code, stdout, stderr } = await runBin(["run", "supportRouting"]);
    expect(code).toBe(0);
    const notices = stderr.split("\n").filter((l) => l.includes("using the embedded offline model"));
    expect(notices).toHaveLength(1);
    expect(notices[0].startsWith("llm-workflows: no OPENAI_API_KEY or OPENAI_BASE_URL set")).toBe(true);
    expect(stdout).not.toContain("offline model");
    expect(stdout).toMatch(/^route: billing$/m);
  });

  // BUG (src/cli/main.ts runFromFile, line 102): `createWriteStream(flags.out)` has no 'error'
  // listener, so an --out path that cannot be opened crashes the process with an unhandled
  // 'error' event and a stack trace instead of a one-line "llm-workflows:" error.
  it("an --out file that cannot be created is a one-line error, not a crash with a stack trace", async () => {
    const csv = tmpFile("bin-rows.csv", "text\nI was charged twice\n");
    const out = path.join(tmp, "no-such-dir", "out.jsonl");
    const { code, stderr } = await runBin(["run", "supportRouting", "--input-file", csv, "--field", "query=text", "--out", out, "--no-progress"]);
    expect(code).toBe(1);
    expect(stderr).not.toMatch(STACK_LINE);
    const errors = stderr.split("\n").filter((l) => l.startsWith("llm-workflows:") && !l.includes("offline model"));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(out);
  });
});
