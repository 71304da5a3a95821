/**
 * Section 2, per-node overhead: a 100-node prompt chain and a 1,000-branch
 * fan-out (bulkClassification) on the zero-latency simulated model, through
 * the facade with no checkpointer and with the in-memory, SQLite and
 * PostgreSQL checkpointers under each durability, against the same node
 * functions called directly (a loop for the chain, `Promise.all` for the
 * fan-out) in the same process. The overhead per node execution is
 * (workflow - baseline) / node executions.
 *
 * @module
 */
import { StateSchema, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { classifyItem, DEFAULT_LABELS } from "../graphs/bulkClassification.js";
import { executeGraph, lastResult, type Durability, type RunOptions } from "../src/facade.js";
import { getChatModel } from "../src/models/factory.js";
import { tagged } from "../src/models/prompting.js";
import { buildPromptChain, chainFields } from "../src/patterns/workflow/promptChain.js";
import { getWorkflow } from "../graphs/index.js";
import { openCheckpointer, type OpenCheckpointer } from "../src/runtime/checkpointer.js";
import { defineWorkflow, inputSchema, type WorkflowDefinition } from "../src/workflow.js";
import { DEFAULT_MAX_WORKER_TASKS } from "../src/patterns/core/fanOut.js";
import {
  benchItems,
  fmt,
  median,
  ms,
  prepareProcess,
  ratio,
  simulatedModel,
  timed,
  type BenchOptions,
  type SectionReport,
  type Table,
  type Target,
} from "./common.js";

/** The target: at most this much overhead per node execution in memory, in microseconds. */
export const NODE_OVERHEAD_TARGET_US = 500;
export const DURABILITIES: Durability[] = ["exit", "async", "sync"];
export type SaverKind = "none" | "memory" | "sqlite" | "postgres";

const ChainInput = inputSchema({ topic: z.string().min(1) });
const ChainState = new StateSchema({ topic: z.string(), text: z.string().default(""), ...chainFields });
type ChainState = typeof ChainState.State;

/** One step of the bench chain: one model call that rewrites the text. */
function chainStep(i: number) {
  return async (state: ChainState, config: LangGraphRunnableConfig) => {
    const answer = await getChatModel("default", config).invoke(`Step ${i + 1}: improve the text.\n\n${tagged("text", state.text || state.topic)}`, config);
    return { text: typeof answer.content === "string" ? answer.content : JSON.stringify(answer.content) };
  };
}

/** A prompt chain of `nodes` model-calling steps (no gate), as a workflow definition the facade can run. */
export function chainWorkflow(nodes: number): { definition: WorkflowDefinition<typeof ChainInput>; steps: Array<(s: ChainState, c: LangGraphRunnableConfig) => Promise<Partial<ChainState>>> } {
  const steps = Array.from({ length: nodes }, (_, i) => chainStep(i));
  const definition = defineWorkflow({
    name: "benchChain",
    description: `A ${nodes}-step prompt chain for the per-node overhead benchmark`,
    pattern: "prompt chaining",
    input: ChainInput,
    builder: buildPromptChain<ChainState>({
      state: ChainState,
      input: ChainInput,
      steps: steps.map((run, i) => ({ name: `step_${String(i + 1).padStart(3, "0")}`, run })),
    }),
    example: { topic: "benchmarks" },
  });
  return { definition, steps };
}

/** Sizes and repetitions. */
export function nodeOverheadPlan(opts: BenchOptions) {
  return opts.quick ? { chainNodes: 50, branches: 100, chainReps: 2, fanReps: 1 } : { chainNodes: 100, branches: 1_000, chainReps: 7, fanReps: 3 };
}

export interface OverheadRow {
  saver: SaverKind;
  /** `invoke` for the compiled graph called directly, otherwise a durability through the facade. */
  mode: Durability | "facade" | "invoke";
  shape: "chain" | "fan-out";
  nodes: number;
  graphMs: number[];
  baselineMs: number[];
}

/** Job (run in a child process): every shape and durability for one checkpointer kind. */
export async function nodeOverheadJob(params: {
  saver: SaverKind;
  postgresUrl?: string;
  chainNodes: number;
  branches: number;
  chainReps: number;
  fanReps: number;
  seed: number;
}): Promise<OverheadRow[]> {
  prepareProcess();
  const model = simulatedModel({ quick: false, seed: params.seed }, { meanMs: 0, spreadMs: 0 });
  const configurable = { modelOverride: model };
  const config = { configurable } as LangGraphRunnableConfig;
  const chain = chainWorkflow(params.chainNodes);
  const bulk = getWorkflow("bulkClassification");
  const items = benchItems(params.branches);
  const context = { labels: DEFAULT_LABELS, labelDescriptions: {} };
  const chainInput = chain.definition.input!.parse({ topic: "what a per-node overhead is" });
  const bulkInput = bulk.input.parse({ items });

  let opened: OpenCheckpointer | undefined;
  let sqlitePath: string | undefined;
  if (params.saver === "memory") opened = await openCheckpointer("memory");
  if (params.saver === "sqlite") {
    sqlitePath = join(tmpdir(), `llmw-bench-${process.pid}-${randomUUID()}.sqlite`);
    opened = await openCheckpointer(`sqlite:${sqlitePath}`);
  }
  if (params.saver === "postgres") opened = await openCheckpointer(params.postgresUrl!);

  const baselines: Record<"chain" | "fan-out", () => Promise<unknown>> = {
    chain: async () => {
      let state: ChainState = { ...chainInput, text: "", stopReason: null, stoppedAfter: null };
      for (const step of chain.steps) state = { ...state, ...(await step(state, config)) };
      return state;
    },
    "fan-out": () => Promise.all(items.map((item, i) => classifyItem(item, i, context, config))),
  };
  const shapes = [
    { shape: "chain" as const, definition: chain.definition, input: chainInput, nodes: params.chainNodes, reps: params.chainReps },
    { shape: "fan-out" as const, definition: bulk, input: bulkInput, nodes: params.branches + 2, reps: params.fanReps },
  ];
  const modes: OverheadRow["mode"][] = params.saver === "none" ? ["invoke", "facade"] : DURABILITIES;
  const rows: OverheadRow[] = [];
  try {
    for (const s of shapes) {
      // Warm-up: one run of each kind (JIT, prepared statements, tables).
      await baselines[s.shape]();
      await lastResult(executeGraph(s.definition, s.input, runOptions(s.shape, modes[0])));
      for (const mode of modes) {
        const row: OverheadRow = { saver: params.saver, mode, shape: s.shape, nodes: s.nodes, graphMs: [], baselineMs: [] };
        for (let rep = 0; rep < s.reps; rep++) {
          const order = rep % 2 === 0 ? (["baseline", "graph"] as const) : (["graph", "baseline"] as const);
          for (const kind of order) {
            model.reset();
            if (kind === "baseline") row.baselineMs.push((await timed(baselines[s.shape])).ms);
            else if (mode === "invoke") row.graphMs.push((await timed(() => s.definition.graph.invoke(s.input, { configurable, recursionLimit: s.nodes + 10 }))).ms);
            else row.graphMs.push((await timed(() => lastResult(executeGraph(s.definition, s.input, runOptions(s.shape, mode))))).ms);
            const expected = s.shape === "chain" ? params.chainNodes : params.branches;
            if (model.stats.calls !== expected) throw new Error(`${s.shape} ${kind} made ${model.stats.calls} calls, expected ${expected}`);
          }
        }
        rows.push(row);
      }
    }
  } finally {
    await opened?.close();
    if (sqlitePath) for (const suffix of ["", "-wal", "-shm", "-journal"]) rmSync(sqlitePath + suffix, { force: true });
  }
  return rows;

  function runOptions(shape: string, mode: OverheadRow["mode"]): RunOptions {
    return {
      configurable,
      recursionLimit: params.chainNodes + 10,
      ...(opened ? { checkpointer: opened.saver, threadId: `bench-${shape}-${mode}-${randomUUID()}` } : {}),
      ...(opened && mode !== "facade" && mode !== "invoke" ? { durability: mode } : {}),
    };
  }
}

const saverLabel: Record<SaverKind, string> = { none: "none", memory: "memory (MemorySaver)", sqlite: "SQLite (file)", postgres: "PostgreSQL 15 (local)" };

/** The section's report from every checkpointer kind's rows. */
export function nodeOverheadReport(rows: OverheadRow[], opts: BenchOptions, skipped: string[]): SectionReport {
  const plan = nodeOverheadPlan(opts);
  const targets: Target[] = [];
  const tables: Table[] = [];
  for (const shape of ["chain", "fan-out"] as const) {
    const tableRows: Table["rows"] = [];
    for (const r of rows.filter((x) => x.shape === shape)) {
      const g = median(r.graphMs);
      const b = median(r.baselineMs);
      const perNodeUs = ((g - b) * 1000) / r.nodes;
      const checked = r.saver === "memory";
      const met = perNodeUs <= NODE_OVERHEAD_TARGET_US;
      tableRows.push([
        saverLabel[r.saver],
        r.mode === "invoke" ? "compiled graph .invoke" : r.mode === "facade" ? "runWorkflow" : `runWorkflow, durability ${r.mode}`,
        ms(b),
        ms(g),
        ratio(g / b, 1),
        fmt(perNodeUs, 0),
        fmt(((Math.min(...r.graphMs) - Math.min(...r.baselineMs)) * 1000) / r.nodes, 0),
        checked ? (met ? "met" : "missed") : "-",
      ]);
      if (checked) {
        targets.push({
          section: 2,
          what: `per-node overhead, ${shape} (${r.nodes} node executions), memory, durability ${r.mode}`,
          target: `<= ${NODE_OVERHEAD_TARGET_US} us`,
          value: `${fmt(perNodeUs, 0)} us`,
          met,
        });
      }
    }
    tables.push({
      title:
        shape === "chain"
          ? `${plan.chainNodes}-node chain (${plan.chainNodes} node executions, one zero-latency call each)`
          : `${plan.branches.toLocaleString("en-US")}-branch fan-out, bulkClassification (${(plan.branches + 2).toLocaleString("en-US")} node executions: dispatch, ${plan.branches.toLocaleString("en-US")} x classify_item in at most ${DEFAULT_MAX_WORKER_TASKS} batch tasks, collect)`,
      columns: ["checkpointer", "run", "baseline (ms)", "workflow (ms)", "workflow / baseline", "overhead per node (us)", "best runs (us)", `target <= ${NODE_OVERHEAD_TARGET_US} us (memory)`],
      rows: tableRows,
    });
  }
  return {
    section: 2,
    title: "Per-node overhead with a zero-latency model",
    method:
      `The zero-latency simulated model (no timer; fixed answers and tokens) makes every node's model call cost only its CPU time. ` +
      `Each workflow run is timed against the same node functions called directly in the same process (baseline); ` +
      `overhead per node execution = (workflow - baseline) / node executions, from the medians (\`best runs\`: from the fastest run of each). Medians of ${plan.chainReps} (chain) and ${plan.fanReps} (fan-out) repetitions, ` +
      `a fresh thread per run. Durability: \`exit\` writes the checkpoint when the run ends, \`async\` in the background after each step, \`sync\` before the next step starts.`,
    tables,
    notes: skipped,
    targets,
    raw: rows,
  };
}
