/**
 * Section 3, the source's headline (*LLM Workflow Patterns*: the parallel FAQ workflow 2.47x
 * faster than the sequential one for 4 questions): the speedup of the parallel
 * FAQ workflow over the sequential one for N questions, against the structural
 * limit ((1 + 2N) calls in sequence vs 3 deep), for the LangGraph workflows
 * (through the facade) and for plain async code, in the same process on the
 * same simulated latencies.
 *
 * @module
 */
import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import { executeGraph, lastResult } from "../src/facade.js";
import {
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
import { FAQ_CONTENT, parallelFaq, parallelFaqPlain, sequentialFaq, sequentialFaqPlain } from "./faqBench.js";

/** The target: at least this share of the structural limit. */
export const SPEEDUP_TARGET = 0.95;
/** The source's figure: 22.20 s sequential vs 8.98 s parallel for 4 questions (Gemini 2.5 Flash). */
export const SEED_SPEEDUP_N4 = 22.2 / 8.98;

export function speedupPlan(opts: BenchOptions): Array<{ meanMs: number; spreadMs: number; sizes: Array<{ n: number; reps: number }> }> {
  return opts.quick
    ? [{ meanMs: 100, spreadMs: 30, sizes: [{ n: 4, reps: 1 }, { n: 10, reps: 1 }] }]
    : [
        // A fixed latency: the limit is exactly (1 + 2N)/3.
        { meanMs: 100, spreadMs: 0, sizes: [{ n: 4, reps: 5 }, { n: 10, reps: 3 }, { n: 100, reps: 1 }] },
        // The distribution: the limit follows from the drawn delays.
        { meanMs: 100, spreadMs: 30, sizes: [{ n: 4, reps: 5 }, { n: 10, reps: 3 }] },
      ];
}

export interface SpeedupRow {
  meanMs: number;
  spreadMs: number;
  n: number;
  seqGraphMs: number[];
  parGraphMs: number[];
  seqPlainMs: number[];
  parPlainMs: number[];
  /** Sum of the drawn delays: the sequential floor. */
  seqFloorMs: number;
  /** Questions' delay + max over questions of (answer + sources): the parallel floor. */
  parFloorMs: number;
  calls: number;
  sameLatencies: boolean;
}

/** Job (child process): every profile and N. */
export async function speedupJob(params: { quick: boolean; seed: number }): Promise<SpeedupRow[]> {
  prepareProcess();
  const rows: SpeedupRow[] = [];
  for (const { sizes, ...profile } of speedupPlan({ quick: params.quick, seed: params.seed })) {
    const model = simulatedModel({ quick: params.quick, seed: params.seed }, profile);
    const config = { configurable: { modelOverride: model } } as LangGraphRunnableConfig;
    // Warm-up with a 2-question run of each kind at zero cost in time (the latencies are waited anyway).
    await parallelFaqPlain(FAQ_CONTENT, 2, config);
    await lastResult(executeGraph(parallelFaq, parallelFaq.input.parse({ content: FAQ_CONTENT, nQuestions: 2 }), { configurable: config.configurable }));
    for (const { n, reps } of sizes) {
      const input = parallelFaq.input.parse({ content: FAQ_CONTENT, nQuestions: n });
      const row: SpeedupRow = { ...profile, n, seqGraphMs: [], parGraphMs: [], seqPlainMs: [], parPlainMs: [], seqFloorMs: 0, parFloorMs: 0, calls: 0, sameLatencies: true };
      let totalDelay: number | undefined;
      const runs = {
        seqPlain: () => sequentialFaqPlain(FAQ_CONTENT, n, config),
        parPlain: () => parallelFaqPlain(FAQ_CONTENT, n, config),
        seqGraph: async () => (await lastResult(executeGraph(sequentialFaq, input, { configurable: config.configurable }))).output.faqs as unknown[],
        parGraph: async () => (await lastResult(executeGraph(parallelFaq, input, { configurable: config.configurable }))).output.faqs as unknown[],
      };
      for (let rep = 0; rep < reps; rep++) {
        const order = (rep % 2 === 0 ? ["seqPlain", "parPlain", "seqGraph", "parGraph"] : ["parGraph", "seqGraph", "parPlain", "seqPlain"]) as Array<keyof typeof runs>;
        for (const kind of order) {
          model.reset();
          const { ms: t, value } = await timed(runs[kind]);
          if (value.length !== n) throw new Error(`${kind} returned ${value.length} FAQs for ${n} questions`);
          if (model.stats.calls !== 1 + 2 * n) throw new Error(`${kind} made ${model.stats.calls} calls, expected ${1 + 2 * n}`);
          row[`${kind}Ms`].push(t);
          row.calls = model.stats.calls;
          if (totalDelay === undefined) totalDelay = model.stats.totalDelayMs;
          else if (totalDelay !== model.stats.totalDelayMs) row.sameLatencies = false;
          if (kind === "seqPlain") {
            // Calls in order: questions, then answer and sources of each question.
            const d = model.stats.delays;
            row.seqFloorMs = d.reduce((a, b) => a + b, 0);
            let deepest = 0;
            for (let i = 1; i + 1 < d.length; i += 2) deepest = Math.max(deepest, d[i] + d[i + 1]);
            row.parFloorMs = d[0] + deepest;
          }
        }
      }
      rows.push(row);
    }
  }
  return rows;
}

export function speedupReport(rows: SpeedupRow[], opts: BenchOptions): SectionReport {
  const targets: Target[] = [];
  const tableRows: Table["rows"] = [];
  const timeRows: Table["rows"] = [];
  for (const r of rows) {
    const nominal = (1 + 2 * r.n) / 3;
    const limit = r.seqFloorMs / r.parFloorMs;
    const graph = median(r.seqGraphMs) / median(r.parGraphMs);
    const plain = median(r.seqPlainMs) / median(r.parPlainMs);
    const share = graph / limit;
    const profile = `${r.meanMs} ms +/- ${r.spreadMs} ms`;
    tableRows.push([
      profile,
      r.n,
      r.calls,
      ratio(nominal),
      ratio(limit),
      ratio(plain),
      `${fmt((100 * plain) / limit, 1)}%`,
      ratio(graph),
      `${fmt(100 * share, 1)}%`,
      share >= SPEEDUP_TARGET ? "met" : "missed",
      ratio(median(r.parGraphMs) / median(r.parPlainMs)),
    ]);
    timeRows.push([
      profile,
      r.n,
      ms(r.seqFloorMs),
      ms(median(r.seqPlainMs)),
      ms(median(r.seqGraphMs)),
      ms(r.parFloorMs),
      ms(median(r.parPlainMs)),
      ms(median(r.parGraphMs)),
      r.sameLatencies ? "yes" : "NO",
      r.seqGraphMs.length,
    ]);
    targets.push({
      section: 3,
      what: `FAQ speedup N=${r.n} (${profile}): parallel / sequential workflow vs the limit`,
      target: `>= ${SPEEDUP_TARGET * 100}% of the limit`,
      value: `${ratio(graph)} = ${fmt(100 * share, 1)}% of ${ratio(limit)}`,
      met: share >= SPEEDUP_TARGET,
    });
  }
  return {
    section: 3,
    title: "The source's headline: FAQ parallel vs sequential",
    method:
      `*LLM Workflow Patterns* reports the parallel FAQ workflow 2.47x faster than the sequential one for 4 questions (22.20 s vs 8.98 s on Gemini). ` +
      `Here the same workflow (bench/faqBench.ts: questions -> answer -> sources; sequential as a prompt chain, parallel as orchestrator-workers with one Send per question) ` +
      `runs on the simulated model with fixed answers, through the facade and as plain async code, in the same process on the same latencies. ` +
      `The structural limit is (1 + 2N) calls in sequence vs 3 deep: (1 + 2N)/3 with a fixed latency; with a spread it is computed from the drawn delays ` +
      `(sum of all delays / (questions' delay + the largest answer + sources pair)), which is below (1 + 2N)/3 because the parallel run waits for its slowest question.`,
    tables: [
      {
        title: "Speedup (sequential time / parallel time)",
        columns: ["latency", "N", "calls", "(1+2N)/3", "limit, drawn delays", "plain async", "plain % of limit", "workflow", "workflow % of limit", `target >= ${SPEEDUP_TARGET * 100}%`, "parallel workflow / parallel plain"],
        rows: tableRows,
      },
      {
        title: "Wall times (ms, medians)",
        columns: ["latency", "N", "sequential floor", "sequential plain", "sequential workflow", "parallel floor", "parallel plain", "parallel workflow", "same latencies", "reps"],
        rows: timeRows,
      },
    ],
    notes: [`*LLM Workflow Patterns*'s own figure for N=4: ${ratio(SEED_SPEEDUP_N4)} (${fmt((100 * SEED_SPEEDUP_N4) / 3, 1)}% of the nominal 3.00x), on a real model whose latencies vary far more.`],
    targets,
    raw: rows,
  };
}
