/**
 * `llm-workflows eval` (src/cli/evalCommand.ts) and its data sets
 * (graphs/lib/datasets.ts): the engine on a graph of the test's own (exact
 * accuracy, tokens, USD and failures), each built-in adapter on a small data
 * directory written here, a file of the user's own, record and replay, and
 * one run per adapter on the real data directory when it is there.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { Command } from "commander";
import { z } from "zod";
import { END, START, StateGraph, StateSchema, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { addEvalCommand, buildReport, jsonReportPath, percentile, runEval, userFileDataset, type EvalReport } from "../src/cli/evalCommand.js";
import { getChatModel } from "../src/models/factory.js";
import { SimulatedChatModel } from "../src/models/simulated.js";
import { workflowFromGraph } from "../src/workflow.js";
import { ConfigurationError } from "../src/runtime/errors.js";
import { resolveDataDir } from "../graphs/lib/data.js";
import { amazonReviews, banking77, findDataset, mbpp, re3d, requestsFaq, scoreRe3dDocument, tokenF1 } from "../graphs/lib/datasets.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "eval-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/**
 * A workflow of the test's own: one model call per row, then a label by rule
 * (`billing` when the text says refund or charge, else `technical`); a text
 * with "boom" fails its row.
 */
function labeller() {
  const State = new StateSchema({ text: z.string(), label: z.string().default("") });
  const graph = new StateGraph(State)
    .addNode("label_text", async (state, config: LangGraphRunnableConfig) => {
      await getChatModel("default", config).invoke(`Label: ${state.text}`, config);
      if (state.text.includes("boom")) throw new Error(`cannot label "${state.text}"`);
      return { label: /refund|charge/.test(state.text) ? "billing" : "technical" };
    })
    .addEdge(START, "label_text")
    .addEdge("label_text", END)
    .compile();
  return workflowFromGraph(graph, "labeller");
}

function sink() {
  let text = "";
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk);
      done();
    },
  });
  return { stream, text: () => text };
}

/** Runs `eval` through a fresh commander program, as the CLI will; returns the exit code and what was printed. */
async function evalCli(args: string[], resolveWorkflow?: (target: string) => Promise<any>) {
  const stdout = sink();
  const stderr = sink();
  const program = new Command("llm-workflows").exitOverride().enablePositionalOptions();
  program.configureOutput({ writeOut: (s) => stdout.stream.write(s), writeErr: (s) => stderr.stream.write(s) });
  addEvalCommand(program, { stdout: stdout.stream, stderr: stderr.stream, resolveWorkflow });
  await program.parseAsync(["eval", ...args], { from: "user" });
  return { code: (program.getOptionValue("exitCode") as number | undefined) ?? 0, stdout: stdout.text(), stderr: stderr.text() };
}

const readReport = (md: string) => JSON.parse(readFileSync(jsonReportPath(md), "utf8")) as EvalReport;

describe("the engine", () => {
  it("percentile is the nearest rank", () => {
    const sorted = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
    expect(percentile(sorted, 0.5)).toBe(50);
    expect(percentile(sorted, 0.95)).toBe(100);
    expect(percentile([5], 0.95)).toBe(5);
    expect(percentile([], 0.5)).toBe(0);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20], 0.95)).toBe(19);
  });

  it("scores every row, counts its tokens and USD, and reports the failed ones", async () => {
    const file = join(dir, "tickets.csv");
    writeFileSync(file, "text,expected\nI want a refund,billing\nThe app crashes,technical\nI was charged twice,technical\nboom,billing\nLogin fails,technical\n");
    const dataset = await userFileDataset(file, { fields: { text: "text" }, label: "expected", predict: "label" });
    expect(dataset.rows.map((r) => r.input)).toEqual([{ text: "I want a refund" }, { text: "The app crashes" }, { text: "I was charged twice" }, { text: "boom" }, { text: "Login fails" }]);
    const model = new SimulatedChatModel({ meanMs: 0, spreadMs: 0, content: "fixed", inputTokens: 500, outputTokens: 50 });
    const runOptions = { configurable: { modelOverride: model, prices: { simulated: { input: 1, output: 2 } } } };
    const rows = await runEval(labeller(), dataset, { concurrency: 3, runOptions });
    expect(rows.map((r) => [r.id, r.predicted, r.correct])).toEqual([
      ["1", "billing", true],
      ["2", "technical", true],
      ["3", "billing", false],
      ["4", "failed", false],
      ["5", "technical", true],
    ]);
    expect(rows[3].error).toMatch(/cannot label "boom"/);
    for (const i of [0, 1, 2, 4]) expect(rows[i].usage).toEqual({ calls: 1, inputTokens: 500, outputTokens: 50, usd: (500 * 1 + 50 * 2) / 1e6 });

    const report = buildReport({ workflow: "labeller", dataset, runOptions, startedAt: new Date(0), durationMs: 1, concurrency: 3 }, rows);
    expect(report.quality.primary).toEqual({ name: "accuracy of label against expected", value: 3 / 5 });
    expect(report.quality.accuracy).toEqual({ correct: 3, rows: 5, value: 0.6 });
    expect(report.quality.confusion?.counts).toEqual({ billing: { billing: 1, failed: 1 }, technical: { technical: 2, billing: 1 } });
    expect(report.failures).toEqual({ count: 1, rows: [{ id: "4", error: expect.stringMatching(/cannot label/) }] });
    expect(report.usage.total.calls).toBeGreaterThanOrEqual(4);
    expect(report.usage.perRow.usd).toBeCloseTo(report.usage.total.usd / 5, 12);
    expect(report.latency.p50Ms).toBeLessThanOrEqual(report.latency.p95Ms);
    expect(report.latency.p95Ms).toBeLessThanOrEqual(report.latency.maxMs);
    // A model override is not the offline model: not labelled as smoke figures.
    expect(report.model.smoke).toBe(false);
  });
});

describe("the command, on a file of the user's own", () => {
  it("writes report.md and report.json, labels offline figures as smoke figures, and exits 3 when a row failed", async () => {
    const file = join(dir, "tickets.jsonl");
    writeFileSync(file, ['{"message":"I want a refund","route":"billing"}', '{"message":"The app crashes","route":"technical"}', '{"message":"boom","route":"billing"}'].join("\n"));
    const out = join(dir, "reports", "report.md");
    const run = await evalCli(["labeller", "--dataset", file, "--field", "text=message", "--label", "route", "--predict", "label", "--out", out], async () => labeller());
    expect(run.code).toBe(3);
    expect(run.stdout).toContain("accuracy of label against route: 66.7% (offline model: smoke figure)");
    const markdown = readFileSync(out, "utf8");
    expect(markdown).toMatch(/^# labeller on tickets\n\n> \*\*Smoke figures\.\*\*/);
    expect(markdown).toContain("## Quality");
    expect(markdown).toContain("- row 3: cannot label");
    const report = readReport(out);
    expect(report.model).toMatchObject({ provider: "offline", smoke: true });
    expect(report.rows).toHaveLength(3);
    expect(report.failures.count).toBe(1);
    expect(report.usage.total.calls).toBe(3);
  });

  it("exits 0 when every row ran", async () => {
    const file = join(dir, "tickets.csv");
    writeFileSync(file, "text,route\nI want a refund,billing\nThe app crashes,technical\n");
    const run = await evalCli(["labeller", "--dataset", file, "--label", "route", "--predict", "label", "--out", join(dir, "r.md")], async () => labeller());
    expect(run.code).toBe(0);
    // Without --field every column but the label is input.
    expect(readReport(join(dir, "r.md")).quality.accuracy).toEqual({ correct: 2, rows: 2, value: 1 });
  });

  it("refuses a user's mistake in one line naming the option", async () => {
    const file = join(dir, "tickets.csv");
    writeFileSync(file, "text,route\nI want a refund,billing\n");
    const resolve = async () => labeller();
    await expect(evalCli(["labeller", "--dataset", file, "--predict", "label"], resolve)).rejects.toThrow(/--label/);
    await expect(evalCli(["labeller", "--dataset", file, "--label", "route"], resolve)).rejects.toThrow(/--predict/);
    await expect(evalCli(["labeller", "--dataset", file, "--label", "category", "--predict", "label"], resolve)).rejects.toThrow(/--label.*a column of .*tickets\.csv \(text, route\)/);
    await expect(evalCli(["labeller", "--dataset", file, "--label", "route", "--predict", "label", "--field", "text=body"], resolve)).rejects.toThrow(ConfigurationError);
    await expect(evalCli(["labeller", "--dataset", "banking78"], resolve)).rejects.toThrow(/built-in data set \(banking77, amazon-reviews, re3d, mbpp, requests-faq\)/);
    await expect(evalCli(["knowledgeGraph", "--dataset", "banking77"])).rejects.toThrow(/a data set for knowledgeGraph \(built in: re3d; .*banking77 is for supportRouting/);
    await expect(evalCli(["labeller", "--dataset", file, "--label", "route", "--predict", "label", "--record", "a.jsonl", "--replay", "b.jsonl"], resolve)).rejects.toThrow(/either record or replay/);
  });
});

/** A small data directory in the layout of the public data, one folder per adapter. */
function writeDataDir(root: string): string {
  const at = (...path: string[]) => {
    mkdirSync(join(root, ...path.slice(0, -1)), { recursive: true });
    return join(root, ...path);
  };
  writeFileSync(at("banking77", "routes.json"), JSON.stringify({ routes: { card_arrival: "general", request_refund: "billing", card_not_working: "technical" } }));
  writeFileSync(
    at("banking77", "train.csv"),
    "text,category\nMy card still has not arrived,card_arrival\nI want a refund for this payment,request_refund\nMy card is not working at the shop,card_not_working\nHow long does card delivery take?,card_arrival\n",
  );
  writeFileSync(at("sentiment", "amazon_cells_labelled.txt"), "Great phone, works well.\t1\nBroken after a day, waste of money.\t0\nI love the battery.\t1\nPoor sound, disappointed.\t0\n");
  const doc = { _id: "D1", title: "Hibhib", text: "Hibhib is a village in northern Iraq. It was attacked by the Army in 2006." };
  writeFileSync(at("re3d", "Wikipedia", "documents.json"), `${JSON.stringify(doc)}\n`);
  writeFileSync(
    at("re3d", "Wikipedia", "entities.json"),
    [
      { documentId: "D1", type: "Location", value: "Hibhib", confidence: 1 },
      { documentId: "D1", type: "Location", value: "northern Iraq", confidence: 1 },
      { documentId: "D1", type: "Organisation", value: "the Army", confidence: 0.8 },
      { documentId: "D1", type: "Temporal", value: "2006", confidence: 1 },
    ]
      .map((e) => JSON.stringify(e))
      .join("\n"),
  );
  writeFileSync(at("re3d", "Wikipedia", "relations.json"), `${JSON.stringify({ documentId: "D1", source: "Hibhib", target: "northern Iraq", type: "CoLocated", confidence: 1 })}\n`);
  writeFileSync(
    at("mbpp", "sanitized-mbpp.json"),
    JSON.stringify([
      { task_id: 600, prompt: "Outside the test split", code: "", test_list: ["assert True"], test_imports: [] },
      { task_id: 12, prompt: "Write a function to add two numbers.", code: "def add(a, b):\n    return a + b", test_list: ["assert add(1, 2) == 3", "assert add(0, 0) == 0"], test_imports: [] },
      { task_id: 11, prompt: "Write a function to negate a number.", code: "def neg(a):\n    return -a", test_list: ["assert neg(1) == -1"], test_imports: ["import math"] },
    ]),
  );
  writeFileSync(
    at("requests_docs", "faq.rst"),
    "Frequently Asked Questions\n==========================\n\nIntro.\n\nCustom User-Agents?\n-------------------\n\nRequests lets you override the User-Agent header like any other header. See :ref:`headers <custom-headers>`.\n\nPython 3 Support?\n-----------------\n\nYes! Requests supports Python 3.\n",
  );
  writeFileSync(at("requests_docs", "quickstart.rst"), "Quickstart\n==========\n\nCustom Headers\n--------------\n\nTo add HTTP headers to a request, pass a dict to the headers parameter, for example a User-Agent.\n");
  return root;
}

describe("the built-in data sets, on a small data directory", () => {
  it("read the rows and their labels as the main job and the scripts do", () => {
    const data = writeDataDir(join(dir, "data"));
    const b = banking77.load(data, {});
    expect(b.rows.map((r) => [r.input, r.expected, r.note])).toEqual([
      [{ query: "My card still has not arrived" }, "general", "card_arrival"],
      [{ query: "I want a refund for this payment" }, "billing", "request_refund"],
      [{ query: "My card is not working at the shop" }, "technical", "card_not_working"],
      [{ query: "How long does card delivery take?" }, "general", "card_arrival"],
    ]);
    expect(banking77.load(data, { limit: 2 }).rows.map((r) => r.id)).toEqual(["1", "3"]); // evenly spaced
    expect(b.score(b.rows[1], { route: "billing" })).toEqual({ expected: "billing", predicted: "billing", correct: true });
    expect(b.score(b.rows[1], { route: "fallback" }).correct).toBe(false);
    expect(b.score(b.rows[1], undefined)).toEqual({ expected: "billing", predicted: "failed", correct: false });

    const a = amazonReviews.load(data, {});
    expect(a.rows.map((r) => [r.input.feedback, r.expected])).toEqual([
      ["Great phone, works well.", "positive"],
      ["Broken after a day, waste of money.", "negative"],
      ["I love the battery.", "positive"],
      ["Poor sound, disappointed.", "negative"],
    ]);
    expect(a.score(a.rows[1], { sentiment: { sentiment: "neutral" } })).toMatchObject({ predicted: "neutral", correct: false });
    expect(findDataset("sentiment")).toBe(amazonReviews);

    const r = re3d.load(data, {});
    expect(r.rows).toHaveLength(1);
    expect(r.rows[0].input).toEqual({ text: "Hibhib is a village in northern Iraq. It was attacked by the Army in 2006.", documentId: "D1" });
    const scored = r.score(r.rows[0], {
      entities: [
        { text: "Hibhib", type: "Location" },
        { text: "Northern Iraq.", type: "Location" },
        { text: "Army", type: "Person" },
      ],
      relations: [{ source: "northern Iraq", relation: "CoLocated", target: "Hibhib" }],
    });
    expect(scored.overlaps?.["entities (text + type)"]).toEqual({ matched: 2, predicted: 3, gold: 4 });
    expect(scored.overlaps?.["entities (text only)"]).toEqual({ matched: 3, predicted: 3, gold: 4 }); // "the Army" and "Army" share a key
    expect(scored.overlaps?.["relations (labelled, directed)"]).toEqual({ matched: 0, predicted: 1, gold: 1 });
    expect(scored.overlaps?.["relations (unlabelled, undirected)"]).toEqual({ matched: 1, predicted: 1, gold: 1 });
    expect(scored.overlaps?.["entities: Organisation"]).toEqual({ matched: 0, predicted: 0, gold: 1 });
    expect(r.score(r.rows[0], undefined).overlaps?.["entities (text + type)"]).toEqual({ matched: 0, predicted: 0, gold: 4 });

    const m = mbpp.load(data, {});
    expect(m.rows.map((p) => [p.id, p.input])).toEqual([
      ["11", { task: "Write a function to negate a number.", tests: ["assert neg(1) == -1"], setup: "import math" }],
      ["12", { task: "Write a function to add two numbers.", tests: ["assert add(1, 2) == 3", "assert add(0, 0) == 0"], setup: "" }],
    ]);
    expect(m.score(m.rows[1], { passed: 1, total: 2 })).toEqual({ correct: false, ratios: { "tests passed": { part: 1, whole: 2 } } });
    expect(m.score(m.rows[1], { passed: 2, total: 2 }).correct).toBe(true);
    expect(m.score(m.rows[1], undefined)).toEqual({ correct: false, ratios: { "tests passed": { part: 0, whole: 2 } } });

    const f = requestsFaq.load(data, {});
    expect(f.rows.map((q) => [q.input.question, q.expected])).toEqual([
      ["Custom User-Agents?", "Requests lets you override the User-Agent header like any other header. See headers."],
      ["Python 3 Support?", "Yes! Requests supports Python 3."],
    ]);
    expect(f.rows[0].input.documents).toEqual([{ title: "quickstart: Custom Headers", content: expect.stringContaining("pass a dict to the headers parameter") }]);
    expect(f.score(f.rows[1], { answer: "Yes, Requests supports Python 3." }).values?.["answer token F1"]).toBe(1);
  });

  it("token F1 and the re3d keys score as SQuAD and the script did", () => {
    expect(tokenF1("The cat sat.", "a cat sat")).toBe(1);
    expect(tokenF1("cat", "cat sat")).toBeCloseTo(2 / 3, 10);
    expect(tokenF1("", "cat")).toBe(0);
    const overlaps = scoreRe3dDocument(
      { entities: [{ text: "The Eastbridge Terminal", type: "Location" }], relations: [], candidates: ["Eastbridge Terminal", "Monday"] },
      { entities: [{ documentId: "d", type: "Location", value: "eastbridge terminal.", confidence: 1 }], relations: [] },
    );
    expect(overlaps["entities (text + type)"]).toEqual({ matched: 1, predicted: 1, gold: 1 });
    expect(overlaps["candidates, rules only (text only)"]).toEqual({ matched: 1, predicted: 2, gold: 1 });
  });

  it("say which data is missing", () => {
    const empty = join(dir, "empty");
    mkdirSync(empty);
    for (const adapter of [banking77, amazonReviews, re3d, mbpp, requestsFaq]) expect(() => adapter.load(empty, {}), adapter.name).toThrow(/missing from the data directory/);
  });

  it("run through the command with the offline model, and a recorded eval replays to the same report until a prompt changes", async () => {
    const data = writeDataDir(join(dir, "data"));
    const recording = join(dir, "banking77.jsonl");
    const recorded = await evalCli(["supportRouting", "--dataset", "banking77", "--data-dir", data, "--out", join(dir, "live.md"), "--record", recording]);
    expect(recorded.code).toBe(0);
    const live = readReport(join(dir, "live.md"));
    expect(live.dataset).toMatchObject({ name: "banking77", rows: 4, total: 4 });
    expect(live.model.smoke).toBe(true);
    expect(live.recording).toMatchObject({ mode: "record", recorded: 8, replayed: 0 });
    expect(live.model.answeredBy).toEqual({ offline: 8 });

    const replayed = await evalCli(["supportRouting", "--dataset", "banking77", "--data-dir", data, "--out", join(dir, "replayed.md"), "--replay", recording]);
    expect(replayed.code).toBe(0);
    const again = readReport(join(dir, "replayed.md"));
    expect(again.quality).toEqual(live.quality);
    expect(again.usage.total).toEqual(live.usage.total);
    expect(again.rows.map((r) => r.predicted)).toEqual(live.rows.map((r) => r.predicted));
    expect(again.recording).toMatchObject({ mode: "replay", replayed: 8, recorded: 0 });

    // A changed row: its classifier's request is not in the recording; that row fails, naming the node.
    writeFileSync(join(data, "banking77", "train.csv"), readFileSync(join(data, "banking77", "train.csv"), "utf8").replace("I want a refund for this payment", "Refund me now"));
    const changed = await evalCli(["supportRouting", "--dataset", "banking77", "--data-dir", data, "--out", join(dir, "changed.md"), "--replay", recording]);
    expect(changed.code).toBe(3);
    const failures = readReport(join(dir, "changed.md")).failures;
    expect(failures.count).toBe(1);
    expect(failures.rows[0]).toMatchObject({ id: "2", error: expect.stringMatching(/^node "classify_query": its model request [0-9a-f]{32} is not in the recording/) });
  });
});

const dataDir = (() => {
  try {
    return resolveDataDir();
  } catch {
    return undefined;
  }
})();
const python = spawnSync("python3", ["--version"]).status === 0;

describe.skipIf(!dataDir)("each built-in data set on the real data directory, offline", () => {
  const cases: Array<[string, string, string[]]> = [
    ["supportRouting", "banking77", ["--limit", "20"]],
    ["feedbackAnalysis", "amazon-reviews", ["--limit", "10"]],
    ["knowledgeGraph", "re3d", ["--limit", "2"]],
    ["codeGeneration", "mbpp", ["--limit", "1"]],
    ["adaptiveQuestionAnswering", "requests-faq", ["--limit", "2"]],
  ];
  it.each(cases)("%s on %s writes a smoke report", async (workflow, dataset, extra) => {
    const out = join(dir, `${dataset}.md`);
    const run = await evalCli([workflow, "--dataset", dataset, "--data-dir", dataDir!, "--out", out, ...extra]);
    const report = readReport(out);
    expect(report.dataset.rows).toBe(Number(extra[1]));
    expect(report.dataset.total).toBeGreaterThan(report.dataset.rows);
    expect(report.model.smoke).toBe(true);
    expect(readFileSync(out, "utf8")).toContain("**Smoke figures.**");
    expect(report.quality.primary.value).not.toBeNull();
    if (dataset !== "mbpp" || python) {
      expect(report.failures.count).toBe(0);
      expect(run.code).toBe(0);
    }
    expect(report.usage.total.calls).toBeGreaterThanOrEqual(report.dataset.rows);
    expect(existsSync(out)).toBe(true);
  });
});
