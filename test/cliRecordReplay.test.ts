/** `run --record/--replay` and `eval` through the CLI program (in-process). */
import { afterAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cli } from "./helpers/streams.js";

const dir = mkdtempSync(join(tmpdir(), "llm-workflows-cli-replay-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("run --record / --replay", () => {
  it("replays a recorded run with the same output, and strict replay names the node whose request changed", async () => {
    const recording = join(dir, "calls.jsonl");
    const input = JSON.stringify({ query: "I was charged twice for one order" });
    const recorded = await cli("run", "supportRouting", "--input", input, "--json", "--record", recording);
    expect(recorded.code).toBe(0);
    expect(readFileSync(recording, "utf8").trim().split("\n")).toHaveLength(2);
    const replayed = await cli("run", "supportRouting", "--input", input, "--json", "--replay", recording);
    expect(replayed.code).toBe(0);
    expect(JSON.parse(replayed.stdout.text)).toEqual(JSON.parse(recorded.stdout.text));
    const changed = await cli("run", "supportRouting", "--input", JSON.stringify({ query: "I was charged three times" }), "--replay", recording);
    expect(changed.code).toBe(1);
    expect(changed.stderr.lines.at(-1)).toMatch(/^llm-workflows: node "classify_query": its model request [0-9a-f]{32} is not in the recording/);
    const both = await cli("run", "supportRouting", "--input", input, "--record", recording, "--replay", recording);
    expect(both.stderr.text).toMatch(/either record or replay, not both/);
  });
});

describe("eval", () => {
  it("scores a workflow on a labelled file of the user's and writes the markdown and JSON reports", async () => {
    const data = join(dir, "labelled.csv");
    writeFileSync(data, "text,expected\nI was charged twice for my card payment,billing\nMy card payment was charged twice,billing\n");
    const out = join(dir, "report.md");
    const { code, stderr } = await cli("eval", "supportRouting", "--dataset", data, "--field", "query=text", "--label", "expected", "--predict", "category", "--out", out);
    expect(stderr.text).not.toMatch(/\n\s+at /);
    expect(code).toBe(0);
    expect(existsSync(out) && existsSync(out.replace(/\.md$/, ".json"))).toBe(true);
    const report = JSON.parse(readFileSync(out.replace(/\.md$/, ".json"), "utf8")) as { rows: number };
    expect(JSON.stringify(report)).toMatch(/smoke/i);
    expect(readFileSync(out, "utf8")).toMatch(/p95/);
  });
});
