/**
 * A library imported by other applications leaves its host process as it
 * found it: no raised listener limit, neither the process's default nor the
 * caller's signal's.
 *
 * A fan-out of more than ten tasks in one superstep still makes Node print a
 * MaxListenersExceededWarning: LangGraph gives every task of a superstep the
 * same internal abort signal, and LangChain adds a listener to it per runnable
 * call (langgraphjs issue #1494). That signal is LangGraph's, out of the
 * library's reach; the CLI, an application, lifts the limit for its own
 * process. See docs/reliability.md.
 */
import { describe, expect, it } from "vitest";
import { EventEmitter, getMaxListeners } from "node:events";
import { runWorkflow } from "../src/facade.js";
import { bulkClassification } from "../graphs/index.js";

describe("the host process", () => {
  it("runs a 200-item fan-out without raising any process-wide listener limit or the caller's signal's", async () => {
    const caller = new AbortController();
    const items = Array.from({ length: 200 }, (_, i) => `item ${i}: the server is down, urgent`);
    const out = await runWorkflow(bulkClassification, { items }, { signal: caller.signal });
    expect(out.results).toHaveLength(200);
    expect(EventEmitter.defaultMaxListeners).toBe(10);
    expect(getMaxListeners(new AbortController().signal)).toBe(10);
    // The caller's own signal keeps its limit too.
    expect(getMaxListeners(caller.signal)).toBe(10);
  });

  it("importing the CLI module runs nothing and lifts no limit: only the program's entry calls runCli", async () => {
    const before = process.exitCode;
    // Not even with the variable the bin once set to start the CLI on import (it leaked to child processes).
    process.env.LLM_WORKFLOWS_CLI = "1";
    const cli = await import("../src/cli/main.js").finally(() => delete process.env.LLM_WORKFLOWS_CLI);
    expect(typeof cli.runCli).toBe("function");
    expect(EventEmitter.defaultMaxListeners).toBe(10);
    expect(getMaxListeners(new AbortController().signal)).toBe(10);
    expect(process.exitCode).toBe(before);
  });
});
