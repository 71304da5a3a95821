/**
 * The saga builder: happy path, rollback in reverse order, a timeout, a
 * compensation that fails (both errors reported), and a crash during the
 * rollback — the process is killed with SIGKILL between a compensation's
 * side effect and its checkpoint, twice, and each time a new process resumes
 * the rollback from where it was, without compensating anything twice
 * (SQLite checkpointer and task ledger).
 */
import { MemorySaver, StateSchema, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { eventLog } from "../../src/patterns/state/eventSourcing.js";
import { examples } from "../../graphs/examples/resilienceAndState.js";
import { withRetry } from "../../src/patterns/resilience/retry.js";
import { buildSaga, SagaCompensationError, sagaFields, SagaRolledBackError, type SagaOptions, type SagaStep } from "../../src/patterns/resilience/saga.js";
import { GraphDefinitionError } from "../../src/runtime/errors.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

const State = new StateSchema({
  order: z.string().default(""),
  reservation: z.string().default(""),
  chargeId: z.string().default(""),
  shipment: z.string().default(""),
  ...sagaFields,
});
type State = typeof State.State;

const FAST = withRetry({ maxAttempts: 3, initialIntervalMs: 1, maxIntervalMs: 2, jitter: false });

/** Reserve -> charge -> (notify, no compensation) -> ship, logging every action and undo. */
function orderSaga(log: string[], overrides: { ship?: SagaStep<State>["run"]; undoCharge?: SagaStep<State>["compensate"]; undoReserve?: SagaStep<State>["compensate"] } = {}): SagaStep<State>[] {
  return [
    { name: "reserve", run: (s) => (log.push("reserve"), { reservation: `R-${s.order}` }), compensate: overrides.undoReserve ?? ((s) => (log.push(`undo reserve ${s.reservation}`), { reservation: "" })) },
    { name: "charge", run: (s) => (log.push("charge"), { chargeId: `C-${s.order}` }), compensate: overrides.undoCharge ?? ((s) => (log.push(`undo charge ${s.chargeId}`), { chargeId: "" })) },
    { name: "notify", run: () => (log.push("notify"), {}) },
    { name: "ship", run: overrides.ship ?? ((s) => (log.push("ship"), { shipment: `S-${s.order}` })) },
  ];
}

function build(steps: SagaStep<State>[], overrides: Partial<SagaOptions<State>> = {}) {
  return buildSaga<State>({ state: State, steps, retryPolicy: FAST, ...overrides }).compile({ checkpointer: new MemorySaver() });
}
const thread = (id: string) => ({ configurable: { thread_id: id } });

describe("buildSaga", () => {
  it("happy path: every step in order, nothing compensated", async () => {
    const log: string[] = [];
    const out = await build(orderSaga(log)).invoke({ order: "o1" }, thread("ok"));
    expect(log).toEqual(["reserve", "charge", "notify", "ship"]);
    expect(out).toMatchObject({
      shipment: "S-o1",
      sagaStatus: "completed",
      sagaCompleted: ["reserve", "charge", "notify", "ship"],
      sagaCompensated: [],
      sagaFailure: null,
      sagaCompensationFailures: [],
    });
  });

  it("a throwing step: the completed steps are compensated in reverse order, the failed one is not", async () => {
    const log: string[] = [];
    const graph = build(orderSaga(log, { ship: () => { throw new Error("carrier down"); } }));
    const config = thread("rollback");
    const out = await graph.invoke({ order: "o2" }, config);
    expect(log).toEqual(["reserve", "charge", "notify", "undo charge C-o2", "undo reserve R-o2"]);
    expect(out).toMatchObject({
      sagaStatus: "rolled_back",
      sagaCompleted: ["reserve", "charge", "notify"],
      sagaCompensated: ["charge", "reserve"],
      sagaFailure: { node: "ship", name: "Error", message: "carrier down" },
      sagaCompensationFailures: [],
      reservation: "",
      chargeId: "",
    });
    // Each compensation is a node of its own: a checkpoint after each.
    const steps = (await eventLog(graph, "rollback")).map((e) => e.nodes.join("+"));
    expect(steps).toEqual(expect.arrayContaining(["compensate_charge", "compensate_reserve"]));
    expect(steps.indexOf("compensate_charge")).toBeLessThan(steps.indexOf("compensate_reserve"));
  });

  it("the first step failing compensates nothing", async () => {
    const log: string[] = [];
    const steps = orderSaga(log);
    steps[0] = { ...steps[0], run: () => { throw new Error("out of stock"); } };
    const out = await build(steps).invoke({ order: "o3" }, thread("first"));
    expect(log).toEqual([]);
    expect(out).toMatchObject({ sagaStatus: "rolled_back", sagaCompleted: [], sagaCompensated: [], sagaFailure: { node: "reserve" } });
  });

  it("a timeout: the step's attempts time out (NodeTimeoutError), then the rollback runs", async () => {
    const log: string[] = [];
    const slowShip = async (_s: State, config: LangGraphRunnableConfig) => {
      await new Promise((resolve, reject) => {
        const t = setTimeout(resolve, 10_000);
        config.signal?.addEventListener("abort", () => (clearTimeout(t), reject(config.signal!.reason)));
      });
      return {};
    };
    // The timeout is ship's own: a saga-wide 20 ms would bound reserve, charge and the
    // compensations too, which a loaded machine can make take longer than that.
    const steps = orderSaga(log, { ship: slowShip });
    steps[3] = { ...steps[3], timeoutMs: 20 };
    const out = await build(steps, { retryPolicy: withRetry({ maxAttempts: 2, initialIntervalMs: 1, jitter: false }) }).invoke({ order: "o4" }, thread("timeout"));
    expect(out.sagaFailure).toMatchObject({ node: "ship", name: "NodeTimeoutError", message: expect.stringContaining("run timeout of 20ms") });
    expect(out.sagaCompensated).toEqual(["charge", "reserve"]);
    expect(log).toEqual(["reserve", "charge", "notify", "undo charge C-o4", "undo reserve R-o4"]);
  });

  it("a compensation that fails: the rollback goes on, then SagaCompensationError names both errors", async () => {
    const log: string[] = [];
    const graph = build(orderSaga(log, { ship: () => { throw new Error("carrier down"); }, undoCharge: () => { throw new Error("refund API rejected"); } }));
    const config = thread("comp-fails");
    const error = await graph.invoke({ order: "o5" }, config).catch((e) => e);
    expect(error).toBeInstanceOf(SagaCompensationError);
    expect(error.failure).toMatchObject({ node: "ship", message: "carrier down" });
    expect(error.compensationFailures).toEqual([{ node: "compensate_charge", name: "Error", message: "refund API rejected" }]);
    expect(error.compensated).toEqual(["reserve"]);
    expect(error.message).toContain("carrier down");
    expect(error.message).toContain("refund API rejected");
    // The reservation was still released, and the state says what happened.
    expect(log).toContain("undo reserve R-o5");
    const state = (await graph.getState(config)).values;
    expect(state).toMatchObject({ sagaStatus: "rollback_failed", sagaCompensated: ["reserve"], sagaCompensationFailures: [{ node: "compensate_charge" }] });
  });

  it('onCompensationError "stop": the rollback stops at the failed compensation', async () => {
    const log: string[] = [];
    const graph = build(orderSaga(log, { ship: () => { throw new Error("x"); }, undoCharge: () => { throw new Error("y"); } }), { onCompensationError: "stop" });
    await expect(graph.invoke({ order: "o6" }, thread("stop"))).rejects.toBeInstanceOf(SagaCompensationError);
    expect(log.filter((l) => l.startsWith("undo"))).toEqual([]);
  });

  it("the last compensation failing is reported too", async () => {
    const log: string[] = [];
    const graph = build(orderSaga(log, { ship: () => { throw new Error("x"); }, undoReserve: () => { throw new Error("release failed"); } }));
    const error = await graph.invoke({ order: "o7" }, thread("last-fails")).catch((e) => e);
    expect(error).toBeInstanceOf(SagaCompensationError);
    expect(error.compensated).toEqual(["charge"]);
    expect(error.compensationFailures.map((f: { message: string }) => f.message)).toEqual(["release failed"]);
  });

  it("a transient compensation error is retried, and the compensation runs once", async () => {
    const log: string[] = [];
    let attempts = 0;
    const undoCharge = () => {
      attempts++;
      if (attempts < 2) throw Object.assign(new Error("busy"), { status: 503 });
      log.push("undo charge");
      return {};
    };
    const out = await build(orderSaga(log, { ship: () => { throw new Error("x"); }, undoCharge })).invoke({ order: "o8" }, thread("retry-comp"));
    expect(attempts).toBe(2);
    expect(out.sagaStatus).toBe("rolled_back");
    expect(log.filter((l) => l === "undo charge")).toHaveLength(1);
  });

  it("throwOnRollback: a clean rollback throws SagaRolledBackError", async () => {
    const error = await build(orderSaga([], { ship: () => { throw new Error("carrier down"); } }), { throwOnRollback: true }).invoke({ order: "o9" }, thread("throw")).catch((e) => e);
    expect(error).toBeInstanceOf(SagaRolledBackError);
    expect(error.failure).toMatchObject({ node: "ship" });
    expect(error.compensated).toEqual(["charge", "reserve"]);
  });

  it("a second run on the same thread starts a fresh saga", async () => {
    let fail = true;
    const log: string[] = [];
    const graph = build(orderSaga(log, { ship: () => { if (fail) throw new Error("x"); return {}; } }));
    const config = thread("rerun");
    await graph.invoke({ order: "a" }, config);
    fail = false;
    const out = await graph.invoke({ order: "b" }, config);
    expect(out).toMatchObject({ sagaStatus: "completed", sagaCompensated: [], sagaFailure: null, sagaCompleted: ["reserve", "charge", "notify", "ship"] });
  });

  it("rejects no steps, duplicate names and names taken by compensations", () => {
    expect(() => buildSaga<State>({ state: State, steps: [] })).toThrow(GraphDefinitionError);
    expect(() => buildSaga<State>({ state: State, steps: [{ name: "a", run: () => ({}) }, { name: "a", run: () => ({}) }] })).toThrow(/used twice/);
    expect(() =>
      buildSaga<State>({ state: State, steps: [{ name: "a", run: () => ({}), compensate: () => {} }, { name: "compensate_a", run: () => ({}) }] }),
    ).toThrow(/used twice/);
  });

  it("the example graph draws the compensation chain", () => {
    const mermaid = examples.saga.getGraph().drawMermaid();
    expect(mermaid).toContain("compensate_charge --> compensate_reserve");
    expect(mermaid).toContain("__error_handler__ship -.-> compensate_charge");
  });
});

/** The child process (see the fixture): a saga whose last step fails, killed where the parent says. */
const CHILD = join(ROOT, "test/fixtures/sagaCrash.ts");

/** Runs the child; with `killAt`, the child stops at its `killAt`-th "saving" line and is SIGKILLed there. */
function runChild(spec: string, threadId: string, mode: "run" | "resume", log: string, killAt?: number): Promise<{ killed: boolean; result?: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", CHILD, spec, threadId, mode, log, String(killAt ?? 0)], {
      cwd: ROOT,
      env: { ...process.env, OPENAI_API_KEY: "", OPENAI_BASE_URL: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let saving = 0;
    let killed = false;
    let result: Record<string, unknown> | undefined;
    let buffer = "";
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    child.stdout.on("data", (data) => {
      buffer += data;
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line.startsWith("saving ")) {
          saving++;
          if (killAt !== undefined && saving >= killAt && !killed) {
            killed = true;
            child.kill("SIGKILL");
          }
        } else if (line.startsWith("result ")) result = JSON.parse(line.slice("result ".length));
      }
    });
    child.on("error", reject);
    // "close", not "exit": "exit" can come before the last of the child's stdout/stderr has been read.
    child.on("close", (code, signal) => {
      if (signal === "SIGKILL" && killed) resolve({ killed });
      else if (code === 0) resolve({ killed: false, result });
      else reject(new Error(`child exited with ${code ?? signal}:\n${stderr}`));
    });
  });
}

const lines = (log: string) => (existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean) : []);

describe("saga: crash during the rollback (SQLite, SIGKILL, resumed in new processes)", () => {
  it("resumes the rollback where it was and compensates nothing twice", async () => {
    const dir = mkdtempSync(join(tmpdir(), "llmw-saga-"));
    const spec = `sqlite:${join(dir, "threads.sqlite")}`;

    const baselineLog = join(dir, "baseline.log");
    const baseline = await runChild(spec, "baseline", "run", baselineLog);
    expect(baseline.result).toMatchObject({ sagaStatus: "rolled_back", sagaCompensated: ["charge", "reserve"] });
    expect(lines(baselineLog)).toEqual(["do reserve", "do charge", "try ship", "undo charge", "undo reserve"]);

    const log = join(dir, "crashed.log");
    // Killed after "undo charge" happened but before compensate_charge's writes were saved.
    const first = await runChild(spec, "crashed", "run", log, 1);
    expect(first.killed).toBe(true);
    expect(lines(log)).toEqual(["do reserve", "do charge", "try ship", "undo charge"]);
    // Resumed: compensate_charge runs again (its task was unfinished) but the ledger returns its result;
    // killed again after "undo reserve", before compensate_reserve's writes were saved.
    const second = await runChild(spec, "crashed", "resume", log, 2);
    expect(second.killed).toBe(true);
    expect(lines(log)).toEqual(["do reserve", "do charge", "try ship", "undo charge", "undo reserve"]);
    // Resumed again: the rollback finishes.
    const last = await runChild(spec, "crashed", "resume", log);
    expect(last.killed).toBe(false);

    expect(last.result).toEqual(baseline.result);
    // Nothing done twice: no step re-ran, no compensation happened twice.
    expect(lines(log)).toEqual(["do reserve", "do charge", "try ship", "undo charge", "undo reserve"]);
  }, 120_000);
});
