/**
 * Section 6, facade overhead: the same workflow run through the facade
 * (`executeGraph`, what `runWorkflow`, `streamWorkflow` and the CLI's batch
 * mode run) against the same compiled graph's own `.invoke` (the graph the
 * facade runs: `graphFor`, compiled once with the checkpointer), with no
 * checkpointer and with MemorySaver and SQLite, on the zero-latency simulated
 * model, so that only CPU time is measured. Both kinds alternate run by run
 * (the first of each pair alternates too); each pair gives one ratio, and the
 * target (facade at most 1.05x `.invoke`, per node: the node count is the
 * same, so it is the ratio of the run times) is judged on the median and
 * upper quartile of those ratios.
 *
 * @module
 */
import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import { executeGraph, graphFor, lastResult } from "../src/facade.js";
import { getWorkflow } from "../graphs/index.js";
import { openCheckpointer, type OpenCheckpointer } from "../src/runtime/checkpointer.js";
import { chainWorkflow } from "./nodeOverhead.js";
import { benchItems, fmt, ms, prepareProcess, ratioSpread, simulatedModel, spread, timed, verdict, type BenchOptions, type SectionReport, type Table, type Target } from "./common.js";

/** The target: the facade at most this many times the compiled graph's `.invoke`. */
export const FACADE_TARGET = 1.05;
export type FacadeSaver = "none" | "memory" | "sqlite";
export const FACADE_SAVERS: FacadeSaver[] = ["none", "memory", "sqlite"];

/** Sizes and repetitions (rounds of the three kinds). */
export function facadePlan(opts: BenchOptions) {
  return opts.quick ? { chainNodes: 50, branches: 200, chainReps: 6, fanReps: 4 } : { chainNodes: 100, branches: 1_000, chainReps: 21, fanReps: 11 };
}

export interface FacadeRow {
  saver: FacadeSaver;
  shape: "chain" | "fan-out";
  nodes: number;
  invokeMs: number[];
  /** runWorkflow's path: the result only (no task events). */
  facadeMs: number[];
  /** streamWorkflow's path: node events too (the CLI's run command; batch mode until it reads the result only). */
  streamMs: number[];
}

/** Job (a child process per checkpointer kind in full mode). */
export async function facadeJob(params: { saver: FacadeSaver; chainNodes: number; branches: number; chainReps: number; fanReps: number; seed: number }): Promise<FacadeRow[]> {
  prepareProcess();
  const model = simulatedModel({ quick: false, seed: params.seed }, { meanMs: 0, spreadMs: 0 });
  const configurable = { modelOverride: model };
  const chain = chainWorkflow(params.chainNodes);
  const bulk = getWorkflow("bulkClassification");
  const shapes = [
    { shape: "chain" as const, definition: chain.definition, input: chain.definition.input!.parse({ topic: "what a per-node overhead is" }), nodes: params.chainNodes, reps: params.chainReps, calls: params.chainNodes },
    { shape: "fan-out" as const, definition: bulk, input: bulk.input.parse({ items: benchItems(params.branches) }), nodes: params.branches + 2, reps: params.fanReps, calls: params.branches },
  ];
  let opened: OpenCheckpointer | undefined;
  let sqlitePath: string | undefined;
  if (params.saver === "memory") opened = await openCheckpointer("memory");
  if (params.saver === "sqlite") {
    sqlitePath = join(tmpdir(), `llmw-bench-${process.pid}-${randomUUID()}.sqlite`);
    opened = await openCheckpointer(`sqlite:${sqlitePath}`);
  }
  const saver = opened?.saver;
  const recursionLimit = params.chainNodes + 10;
  const rows: FacadeRow[] = [];
  try {
    for (const s of shapes) {
      const graph = graphFor(s.definition, saver);
      const runInvoke = () =>
        graph.invoke(s.input, { configurable: { ...configurable, ...(saver ? { thread_id: `bench-invoke-${randomUUID()}` } : {}) }, recursionLimit } as LangGraphRunnableConfig);
      const facadeOptions = () => ({ configurable, recursionLimit, ...(saver ? { checkpointer: saver, threadId: `bench-facade-${randomUUID()}` } : {}) });
      // What runWorkflow runs (input already validated): the result only.
      const runFacade = () => lastResult(executeGraph(s.definition, s.input, facadeOptions(), {}, false));
      // What streamWorkflow runs: node events too.
      const runStream = () => lastResult(executeGraph(s.definition, s.input, facadeOptions()));
      // Warm-up: JIT, prepared statements, tables.
      for (let i = 0; i < 2; i++) {
        await runInvoke();
        await runFacade();
        await runStream();
      }
      const row: FacadeRow = { saver: params.saver, shape: s.shape, nodes: s.nodes, invokeMs: [], facadeMs: [], streamMs: [] };
      const runs = { invoke: runInvoke, facade: runFacade, stream: runStream };
      const times = { invoke: row.invokeMs, facade: row.facadeMs, stream: row.streamMs };
      for (let rep = 0; rep < s.reps; rep++) {
        // Each kind first, second and third in turn.
        const kinds = (["invoke", "facade", "stream"] as const).map((_, i, all) => all[(i + rep) % all.length]);
        for (const kind of kinds) {
          model.reset();
          const { ms: t } = await timed(runs[kind]);
          times[kind].push(t);
          if (model.stats.calls !== s.calls) throw new Error(`${s.shape} ${kind} made ${model.stats.calls} calls, expected ${s.calls}`);
        }
      }
      rows.push(row);
    }
  } finally {
    await opened?.close();
    if (sqlitePath) for (const suffix of ["", "-wal", "-shm", "-journal"]) rmSync(sqlitePath + suffix, { force: true });
  }
  return rows;
}

const saverLabel: Record<FacadeSaver, string> = { none: "none", memory: "MemorySaver", sqlite: "SQLite (file)" };

/** The section's report. */
export function facadeReport(rows: FacadeRow[], opts: BenchOptions): SectionReport {
  const plan = facadePlan(opts);
  const targets: Target[] = [];
  const tableRows: Table["rows"] = [];
  for (const r of rows) for (const path of ["runWorkflow", "streamWorkflow"] as const) {
    const pathMs = path === "runWorkflow" ? r.facadeMs : r.streamMs;
    const ratios = pathMs.map((f, i) => f / r.invokeMs[i]);
    const s = spread(ratios);
    const v = verdict(s, FACADE_TARGET);
    const inv = spread(r.invokeMs);
    const fac = spread(pathMs);
    tableRows.push([
      r.shape === "chain" ? `${r.nodes}-node chain` : `${(r.nodes - 2).toLocaleString("en-US")}-branch fan-out`,
      saverLabel[r.saver],
      path === "runWorkflow" ? "runWorkflow (result only)" : "streamWorkflow (node events)",
      `${ms(inv.median)} (${ms(inv.min)}-${ms(inv.max)})`,
      `${ms(fac.median)} (${ms(fac.min)}-${ms(fac.max)})`,
      fmt(((fac.median - inv.median) * 1000) / r.nodes, 0),
      ratioSpread(s),
      `${fmt(s.min)}-${fmt(s.max)}`,
      v,
      r.invokeMs.length,
    ]);
    if (path === "runWorkflow") targets.push({
      section: 6,
      what: `runWorkflow / compiled graph .invoke, ${r.shape === "chain" ? `${r.nodes}-node chain` : `${(r.nodes - 2).toLocaleString("en-US")}-branch fan-out`}, checkpointer ${saverLabel[r.saver]}`,
      target: `<= ${FACADE_TARGET}x (median and upper quartile)`,
      value: `${ratioSpread(s)}${v === "undecided" ? ", undecided" : ""}`,
      met: v === "met",
    });
  }
  return {
    section: 6,
    title: "Facade overhead: runWorkflow vs the compiled graph's .invoke",
    method:
      `The same workflow through the facade (\`executeGraph\`: \`runWorkflow\` and batch mode stream the values only, \`streamWorkflow\` (the CLI's run) values and tasks for its node events; both with the usage tracker (which the factory's models call directly), and the final state read back with a checkpointer) ` +
      `and through the same compiled graph's own \`.invoke\` (the graph the facade runs, compiled once with the checkpointer), a fresh thread per run, default durability, ` +
      `on the zero-latency simulated model (only CPU time). ${plan.chainReps} (chain) and ${plan.fanReps} (fan-out) rounds of the three kinds, each kind first in turn; ` +
      `run times as median (min-max), ms; the ratio is per round (facade / invoke, the same node count, so also per node), median and interquartile range. ` +
      `A target is met when the median and the upper quartile are both within it, undecided when only the median is.`,
    tables: [
      {
        columns: ["workflow", "checkpointer", "facade path", ".invoke (ms)", "facade (ms)", "difference per node (us)", "facade / invoke", "min-max", `target <= ${FACADE_TARGET}x`, "rounds"],
        rows: tableRows,
      },
    ],
    notes: [],
    targets,
    raw: rows,
  };
}
