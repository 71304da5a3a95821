import { MemorySaver, StateSchema } from "@langchain/langgraph";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { GraphDefinitionError } from "../../src/runtime/errors.js";
import { FanOutIncompleteError, indexedResults } from "../../src/patterns/core/fanOut.js";
import { buildOrchestratorWorkers } from "../../src/patterns/workflow/orchestratorWorkers.js";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const State = new StateSchema({
  task: z.string(),
  /** How many subtasks the orchestrator plans: only known once it runs. */
  planSize: z.number().int(),
  subtasks: z.array(z.string()).default(() => []),
  findings: indexedResults(z.string()),
  report: z.string().default(""),
});
type State = typeof State.State;

/**
 * An orchestrator-workers graph whose workers sleep longer the earlier their
 * subtask is in the plan, so that they finish in reverse plan order.
 */
function makeGraph(opts: { delayStepMs?: number; checkpointer?: boolean } = {}) {
  const log = { finished: [] as string[], workerCalls: 0, synthesizerSaw: [] as string[][], contexts: [] as unknown[] };
  const graph = buildOrchestratorWorkers<State, string, { task: string }, string>({
    state: State,
    orchestrator: {
      name: "plan",
      run: (s) => ({ subtasks: Array.from({ length: s.planSize }, (_, i) => `sub${i}`) }),
    },
    subtasks: (s) => s.subtasks,
    context: (s) => ({ task: s.task }),
    worker: {
      name: "research",
      run: async (subtask, index, context) => {
        log.workerCalls++;
        log.contexts.push(context);
        const n = opts.delayStepMs ?? 0;
        await sleep(n * (20 - index));
        log.finished.push(subtask);
        return `${context.task}/${subtask}#${index}`;
      },
    },
    resultsKey: "findings",
    synthesizer: {
      name: "synthesize",
      run: (_s, results) => {
        log.synthesizerSaw.push(results);
        return { report: results.join(",") };
      },
    },
  });
  return { graph: opts.checkpointer ? graph.compile({ checkpointer: new MemorySaver() }) : graph.compile(), log };
}

describe("buildOrchestratorWorkers", () => {
  it.each([1, 7])("runs as many workers as the orchestrator plans at run time (%i)", async (n) => {
    const { graph, log } = makeGraph();
    const out = await graph.invoke({ task: "T", planSize: n });
    expect(log.workerCalls).toBe(n);
    expect(out.report.split(",")).toEqual(Array.from({ length: n }, (_, i) => `T/sub${i}#${i}`));
  });

  it("gives the synthesizer the results in plan order although workers finish in reverse", async () => {
    const { graph, log } = makeGraph({ delayStepMs: 10 });
    const out = await graph.invoke({ task: "T", planSize: 7 });
    const planned = ["sub0", "sub1", "sub2", "sub3", "sub4", "sub5", "sub6"];
    // The delays did reverse the finishing order ...
    expect(log.finished).toEqual([...planned].reverse());
    // ... and the synthesizer still got plan order.
    expect(log.synthesizerSaw).toEqual([planned.map((p, i) => `T/${p}#${i}`)]);
    expect(out.report).toBe(planned.map((p, i) => `T/${p}#${i}`).join(","));
  });

  it("goes straight to the synthesizer when there are no subtasks", async () => {
    const { graph, log } = makeGraph();
    const out = await graph.invoke({ task: "T", planSize: 0 });
    expect(log.workerCalls).toBe(0);
    expect(log.synthesizerSaw).toEqual([[]]);
    expect(out.report).toBe("");
  });

  it("passes the context to every worker", async () => {
    const { graph, log } = makeGraph();
    await graph.invoke({ task: "the task", planSize: 3 });
    expect(log.contexts).toEqual([{ task: "the task" }, { task: "the task" }, { task: "the task" }]);
  });

  it("starts each run on a thread with no results from the previous one", async () => {
    const { graph, log } = makeGraph({ checkpointer: true });
    const config = { configurable: { thread_id: "ow-1" } };
    await graph.invoke({ task: "A", planSize: 4 }, config);
    const second = await graph.invoke({ task: "B", planSize: 2 }, config);
    expect(second.report).toBe("B/sub0#0,B/sub1#1");
    const third = await graph.invoke({ task: "C", planSize: 0 }, config);
    expect(third.report).toBe("");
    expect(log.synthesizerSaw.at(-1)).toEqual([]);
  });

  it("fails the run when a worker's result is missing from the channel", async () => {
    // A subtasks() that disagrees with what was fanned out: the synthesizer expects
    // more results than came back, which must not pass silently.
    let calls = 0;
    const graph = buildOrchestratorWorkers<State, string, undefined, string>({
      state: State,
      orchestrator: { name: "plan", run: () => ({ subtasks: ["a", "b"] }) },
      subtasks: (s) => (calls++ === 0 ? s.subtasks : [...s.subtasks, "c"]),
      worker: { name: "w", run: (t) => t },
      resultsKey: "findings",
      synthesizer: { name: "synth", run: () => ({}) },
    }).compile();
    await expect(graph.invoke({ task: "T", planSize: 0 })).rejects.toThrow(FanOutIncompleteError);
  });

  it("rejects duplicate or reserved node names", () => {
    const base = {
      state: State,
      orchestrator: { name: "plan", run: () => ({}) },
      subtasks: () => [],
      worker: { name: "w", run: () => "" },
      resultsKey: "findings",
      synthesizer: { name: "synth", run: () => ({}) },
    };
    expect(() => buildOrchestratorWorkers<State, string>({ ...base, worker: { name: "plan", run: () => "" } })).toThrow(
      GraphDefinitionError,
    );
    expect(() => buildOrchestratorWorkers<State, string>({ ...base, synthesizer: { name: "__end__", run: () => ({}) } })).toThrow(
      GraphDefinitionError,
    );
  });
});
