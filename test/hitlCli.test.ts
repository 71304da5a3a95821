/**
 * Human review through the command line (in process, `main(argv)`): an
 * invalid answer is refused in one line naming the field before anything is
 * resumed, the thread stays paused, and a valid answer then finishes it; an
 * answered review is decided again by a fork at the review, then a resume.
 * SQLite threads in a temporary folder, offline model.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_EDIT_CHARS } from "../src/patterns/state/approval.js";
import { cli } from "./helpers/streams.js";

let tmp: string;
let spec: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "llmw-hitl-cli-"));
  spec = `sqlite:${join(tmp, "threads.sqlite")}`;
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const INPUT = JSON.stringify({ task: "Explain when to set a timeout on requests", humanReview: true });
const STACK_LINE = /^\s+at /m;

type Entry = { checkpointId: string; step: number; nodes: string[]; next: string[] };

async function history(thread: string): Promise<Entry[]> {
  const { code, stdout, stderr } = await cli("history", thread, "--checkpointer", spec, "--json");
  expect(code, stderr.text).toBe(0);
  return JSON.parse(stdout.text) as Entry[];
}

/** stderr without the offline-model notice. */
const errorLines = (text: string) => text.split("\n").filter((l) => l.trim() && !l.includes("offline model"));

async function pausedThread(thread: string, input = INPUT): Promise<Entry[]> {
  const run = await cli("run", "iterativeRefinement", "--input", input, "--thread", thread, "--checkpointer", spec);
  expect(run.code, run.stderr.text).toBe(0);
  expect(run.stderr.text).toMatch(/paused at human_review/);
  const entries = await history(thread);
  expect(entries.at(-1)!.next).toEqual(["human_review"]);
  return entries;
}

describe("resume with an invalid answer", () => {
  it.each<[string, string[], string]>([
    ["--reject with an empty reason", ["--reject", ""], "reason: a rejection needs a reason"],
    ["--reject with a blank reason", ["--reject", "   "], "reason: a rejection needs a reason"],
    ["--answer of a rejection without a reason", ["--answer", '{"action":"reject"}'], "reason: a rejection needs a reason"],
    ["--edit over MAX_EDIT_CHARS", ["--edit", "x".repeat(MAX_EDIT_CHARS + 1)], `value: an edit is at most ${MAX_EDIT_CHARS} characters`],
  ])("%s: one error line naming the field; the thread stays paused and --approve then finishes it", async (_label, answer, message) => {
    const thread = `cli-invalid-${answer[0]}-${answer[1].length}`;
    const before = await pausedThread(thread);

    const refused = await cli("resume", thread, ...answer, "--checkpointer", spec);
    expect(refused.code).toBe(1);
    expect(refused.stderr.text).not.toMatch(STACK_LINE);
    const lines = errorLines(refused.stderr.text);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(message);
    expect(refused.stdout.text).toBe("");
    // Nothing was resumed: no new checkpoint, still waiting at human_review.
    expect(await history(thread)).toEqual(before);

    const approved = await cli("resume", thread, "--approve", "--checkpointer", spec, "--json");
    expect(approved.code, approved.stderr.text).toBe(0);
    expect(JSON.parse(approved.stdout.text).review).toMatchObject({ status: "approved", decidedBy: "reviewer", error: null });
  });
});

describe("re-deciding an answered review", () => {
  it("fork at the review asks again (nothing decided), and resume --edit then decides it", async () => {
    const thread = "cli-redecide";
    await pausedThread(thread);
    const approved = await cli("resume", thread, "--approve", "--checkpointer", spec, "--json");
    expect(approved.code, approved.stderr.text).toBe(0);
    const atReview = (await history(thread)).filter((e) => e.next.includes("human_review")).at(-1)!;

    const fork = await cli("fork", thread, "--checkpoint", atReview.checkpointId, "--checkpointer", spec, "--json");
    expect(fork.code, fork.stderr.text).toBe(0);
    expect(fork.stderr.text).toMatch(/paused at human_review/);
    expect(JSON.parse(fork.stdout.text).review).toMatchObject({ status: "pending", decidedBy: null });

    const edited = await cli("resume", thread, "--edit", "A reviewer's new text.", "--checkpointer", spec, "--json");
    expect(edited.code, edited.stderr.text).toBe(0);
    const output = JSON.parse(edited.stdout.text);
    expect(output.final).toBe("A reviewer's new text.");
    expect(output.review).toMatchObject({ status: "edited", decidedBy: "reviewer" });
  });

  it("after the deadline a fork still applies the default action; re-opening the review (review: null as request_review) takes the answer", async () => {
    const thread = "cli-reopen";
    await pausedThread(thread, JSON.stringify({ task: "Explain when to set a timeout on requests", humanReview: true, reviewTimeoutMs: 1 }));
    await new Promise((r) => setTimeout(r, 20));
    const atReview = (await history(thread)).filter((e) => e.next.includes("human_review")).at(-1)!;

    // A plain fork asks again, but the request keeps its deadline: the answer is overridden.
    const fork = await cli("fork", thread, "--checkpoint", atReview.checkpointId, "--checkpointer", spec);
    expect(fork.code, fork.stderr.text).toBe(0);
    const late = await cli("resume", thread, "--approve", "--checkpointer", spec, "--json");
    expect(late.code, late.stderr.text).toBe(0);
    expect(late.stderr.text).toMatch(/paused at human_review/); // rejected by the deadline, revised, asked again
    const lateDecision = (await history(thread)).filter((e) => e.nodes.includes("human_review")).at(-1)!;
    expect(lateDecision.next).toEqual(["generate"]);

    const reopened = await cli(
      "fork", thread, "--checkpoint", atReview.checkpointId, "--edit", '{"review":null}', "--as-node", "request_review", "--checkpointer", spec, "--json",
    );
    expect(reopened.code, reopened.stderr.text).toBe(0);
    expect(reopened.stderr.text).toMatch(/paused at human_review/);
    // While it waits the review is null (re-opened); the question has no deadline.
    expect(JSON.parse(reopened.stdout.text).review).toBeNull();
    expect(reopened.stderr.text).toMatch(/deadline: -/);

    const approved = await cli("resume", thread, "--approve", "--checkpointer", spec, "--json");
    expect(approved.code, approved.stderr.text).toBe(0);
    expect(JSON.parse(approved.stdout.text).review).toMatchObject({ status: "approved", decidedBy: "reviewer" });
  });
});
