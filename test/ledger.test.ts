/**
 * The task ledger (src/runtime/ledger.ts): exactly-once steps, in memory, in
 * the SQLite file of a checkpointer and in its PostgreSQL database; and
 * `onceForTask` inside a graph node whose task LangGraph retries.
 */
import { Annotation, MemorySaver, StateGraph, START, END, type LangGraphRunnableConfig, type BaseCheckpointSaver } from "@langchain/langgraph";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { openCheckpointer } from "../src/runtime/checkpointer.js";
import { BATCH_ITEM_KEY, ledgerOf, MemoryLedger, onceForTask, taskKey, type TaskLedger } from "../src/runtime/ledger.js";
import { useCheckpointer } from "./helpers/checkpointers.js";

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "llmw-ledger-"));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

/** A step that counts its runs and returns `value` after a tick. */
function counted<T>(value: T, delayMs = 5) {
  const step = async () => {
    step.runs++;
    await new Promise((r) => setTimeout(r, delayMs));
    return value;
  };
  step.runs = 0;
  return step;
}

type Kind = "memory" | "sqlite" | "postgres";

describe.each<{ kind: Kind }>([{ kind: "memory" }, { kind: "sqlite" }, { kind: "postgres" }])("$kind ledger", ({ kind }) => {
  const cp = useCheckpointer(kind, () => tmp, "llmw_ledger");

  const ledger = (): TaskLedger => cp.open!.ledger;

  it("runs a step once per key and gives later calls the stored result", async () => {
    const step = counted({ caseId: "CASE-1", n: 1 });
    const before = await ledger().size();
    expect(await ledger().once("k/once", step)).toEqual({ caseId: "CASE-1", n: 1 });
    expect(await ledger().once("k/once", step)).toEqual({ caseId: "CASE-1", n: 1 });
    const other = counted("different");
    expect(await ledger().once("k/once", other)).toEqual({ caseId: "CASE-1", n: 1 });
    expect(step.runs).toBe(1);
    expect(other.runs).toBe(0);
    // Another key is another step.
    expect(await ledger().once("k/other", other)).toBe("different");
    expect(other.runs).toBe(1);
    expect(await ledger().size()).toBe(before + 2);
  });

  it("does not store a failing step: the next call runs it again", async () => {
    const before = await ledger().size();
    let runs = 0;
    const flaky = async () => {
      runs++;
      if (runs === 1) throw new Error("desk unavailable");
      return `id-${runs}`;
    };
    await expect(ledger().once("k/flaky", flaky)).rejects.toThrow("desk unavailable");
    expect(await ledger().size()).toBe(before);
    expect(await ledger().once("k/flaky", flaky)).toBe("id-2");
    expect(await ledger().once("k/flaky", flaky)).toBe("id-2");
    expect(runs).toBe(2);
    expect(await ledger().size()).toBe(before + 1);
  });

  it("runs the step once for concurrent calls with the same key", async () => {
    const step = counted("shared", 20);
    const results = await Promise.all([1, 2, 3, 4, 5].map(() => ledger().once("k/concurrent", step)));
    expect(results).toEqual(["shared", "shared", "shared", "shared", "shared"]);
    expect(step.runs).toBe(1);
  });

  it.runIf(kind !== "memory")("keeps results for a new ledger on the same store (another process)", async () => {
    const step = counted({ rma: "RMA-000042" });
    expect(await ledger().once("k/durable", step)).toEqual({ rma: "RMA-000042" });
    const second = await openCheckpointer(cp.spec!);
    try {
      const again = counted({ rma: "RMA-000043" });
      expect(await second.ledger.once("k/durable", again)).toEqual({ rma: "RMA-000042" });
      expect(again.runs).toBe(0);
      expect(await second.ledger.size()).toBe(await ledger().size());
    } finally {
      await second.close();
    }
    expect(step.runs).toBe(1);
  });

  it("performs a side effect once when LangGraph retries the node after it", async () => {
    const { effects, attempts, output } = await runRetryingNode(cp.open!.saver, `retry-${kind}`, true);
    expect(attempts).toBe(2);
    expect(effects).toBe(1);
    // The retried attempt got the stored result of the first attempt's step.
    expect(output).toEqual({ issued: "ID-1", attempt: 2 });
  });
});

/**
 * Runs a one-node graph on `threadId`: the node issues an id (a side effect,
 * through `onceForTask` when `ledgered`) and throws on its first attempt;
 * LangGraph's retry policy runs it again.
 */
async function runRetryingNode(saver: BaseCheckpointSaver, threadId: string, ledgered: boolean) {
  let effects = 0;
  let attempts = 0;
  const State = Annotation.Root({ issued: Annotation<string>(), attempt: Annotation<number>() });
  const issue = async () => `ID-${++effects}`;
  const graph = new StateGraph(State)
    .addNode(
      "issue",
      async (_state: typeof State.State, config: LangGraphRunnableConfig) => {
        attempts++;
        const issued = ledgered ? await onceForTask(config, "issue-id", issue) : await issue();
        if (attempts === 1) throw new Error("connection reset after the side effect");
        return { issued, attempt: attempts };
      },
      { retryPolicy: { maxAttempts: 3, initialInterval: 1, maxInterval: 1, jitter: false, retryOn: () => true, logWarning: false } },
    )
    .addEdge(START, "issue")
    .addEdge("issue", END)
    .compile({ checkpointer: saver });
  const output = await graph.invoke({}, { configurable: { thread_id: threadId } });
  return { effects, attempts, output: { issued: output.issued, attempt: output.attempt } };
}

describe("taskKey and onceForTask", () => {
  it("has no key outside a thread or outside a task", () => {
    expect(taskKey({}, "send")).toBeUndefined();
    expect(taskKey({ configurable: {} }, "send")).toBeUndefined();
    expect(taskKey({ configurable: { checkpoint_ns: "send_email:abc" } }, "send")).toBeUndefined();
    expect(taskKey({ configurable: { thread_id: "t1" } }, "send")).toBeUndefined();
    expect(taskKey({ configurable: { thread_id: "t1", checkpoint_ns: "send_email:abc" } }, "send")).toBe("t1/send_email:abc/send");
  });

  it("just runs the step outside a thread (nothing is resumed there)", async () => {
    const step = counted(7, 0);
    expect(await onceForTask({}, "x", step)).toBe(7);
    expect(await onceForTask({}, "x", step)).toBe(7);
    expect(step.runs).toBe(2);
  });

  it("without onceForTask, a retried node repeats its side effect (LangGraph re-runs the whole task)", async () => {
    const { effects, attempts } = await runRetryingNode(new MemorySaver(), "retry-plain", false);
    expect(attempts).toBe(2);
    expect(effects).toBe(2);
  });

  it("stores the step under the thread and the task in the checkpointer's ledger", async () => {
    const saver = new MemorySaver();
    const before = await ledgerOf(saver).size();
    await runRetryingNode(saver, "retry-key", true);
    expect(await ledgerOf(saver).size()).toBe(before + 1);
    // A MemorySaver that openCheckpointer did not open gets its own in-memory ledger.
    expect(ledgerOf(saver)).toBeInstanceOf(MemoryLedger);
    expect(ledgerOf(saver)).not.toBe(ledgerOf(new MemorySaver()));
  });
});

describe("taskKey", () => {
  it("gives each item of a batched fan-out task a key of its own, and a one-item task the plain key", () => {
    const config = (item?: number) => ({ configurable: { thread_id: "t", checkpoint_ns: "worker:abc", ...(item === undefined ? {} : { [BATCH_ITEM_KEY]: item }) } });
    expect(taskKey(config(), "send")).toBe("t/worker:abc/send");
    expect(taskKey(config(0), "send")).toBe("t/worker:abc/item-0/send");
    expect(taskKey(config(1), "send")).not.toBe(taskKey(config(0), "send"));
    expect(taskKey({ configurable: { checkpoint_ns: "worker:abc" } }, "send")).toBeUndefined();
  });
});
