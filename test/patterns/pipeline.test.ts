import { NodeTimeoutError, StateSchema } from "@langchain/langgraph";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { examples } from "../../graphs/examples/resilienceAndState.js";
import { buildPipeline, filterItems, mapItems, PipelineStageError, streamPipeline, type PipelineOptions, type Transform } from "../../src/patterns/composition/pipeline.js";
import { withRetry } from "../../src/patterns/resilience/retry.js";
import { GraphDefinitionError } from "../../src/runtime/errors.js";

const State = new StateSchema({ numbers: z.array(z.number()).default(() => []), results: z.array(z.number()).default(() => []) });
type State = typeof State.State;

const tick = () => new Promise<void>((r) => setImmediate(r));

const SEED_TRANSFORMS = [
  { name: "double", run: mapItems((x: number) => x * 2) },
  { name: "addOne", run: mapItems((x: number) => x + 1) },
  { name: "keepLarge", run: filterItems((x: number) => x > 5) },
];

function build(overrides: Partial<PipelineOptions<State, number, number>> = {}) {
  return buildPipeline<State, number, number>({
    state: State,
    source: (s) => s.numbers,
    transforms: SEED_TRANSFORMS,
    collect: (items) => ({ results: items }),
    retryPolicy: withRetry({ maxAttempts: 2, initialIntervalMs: 1, jitter: false }),
    ...overrides,
  }).compile();
}

async function collectChunks(graph: ReturnType<typeof build>, input: Partial<State>) {
  const chunks = [];
  for await (const chunk of streamPipeline<number>(graph, input)) chunks.push(chunk);
  return chunks;
}

describe("buildPipeline", () => {
  it("happy path: the source's double / add one / filter, collected in order and streamed item by item", async () => {
    const graph = build();
    expect((await graph.invoke({ numbers: [1, 2, 3, 4, 5] })).results).toEqual([7, 9, 11]);
    const chunks = await collectChunks(graph, { numbers: [1, 2, 3, 4, 5] });
    expect(chunks).toEqual([
      { pipeline: "pipeline", index: 0, item: 7, attempt: 1 },
      { pipeline: "pipeline", index: 1, item: 9, attempt: 1 },
      { pipeline: "pipeline", index: 2, item: 11, attempt: 1 },
    ]);
  });

  it("pulls one item at a time through every stage (backpressure: nothing is read ahead)", async () => {
    const log: string[] = [];
    const source = async function* () {
      for (let i = 0; i < 3; i++) {
        log.push(`produce ${i}`);
        yield i;
      }
    };
    const spy = (name: string): Transform<number, number> => async function* (items) {
      for await (const x of items) {
        log.push(`${name} ${x}`);
        await tick();
        yield x;
      }
    };
    const graph = build({ source: () => source(), transforms: [{ name: "t1", run: spy("t1") }, { name: "t2", run: spy("t2") }] });
    await graph.invoke({});
    expect(log).toEqual(["produce 0", "t1 0", "t2 0", "produce 1", "t1 1", "t2 1", "produce 2", "t1 2", "t2 2"]);
  });

  it("items reach the caller while the source is still producing", async () => {
    const log: string[] = [];
    const source = async function* () {
      for (let i = 0; i < 5; i++) {
        await new Promise((r) => setTimeout(r, 5));
        log.push(`produce ${i}`);
        yield i;
      }
    };
    const graph = build({ source: () => source(), transforms: [] });
    for await (const chunk of streamPipeline<number>(graph, {})) log.push(`got ${chunk.item}`);
    expect(log.indexOf("got 0")).toBeLessThan(log.indexOf("produce 4"));
    expect(log.filter((l) => l.startsWith("got"))).toHaveLength(5);
  });

  it("a throwing transform fails the node with PipelineStageError naming the stage and the item", async () => {
    const boom = mapItems((x: number) => {
      if (x === 3) throw new Error("cannot handle 3");
      return x;
    });
    const error = await build({ transforms: [{ name: "picky", run: boom }, SEED_TRANSFORMS[0]], retryPolicy: false }).invoke({ numbers: [1, 2, 3] }).catch((e) => e);
    expect(error).toBeInstanceOf(PipelineStageError);
    expect(error.stage).toBe("picky");
    expect(error.itemIndex).toBe(2);
    expect(error.cause.message).toBe("cannot handle 3");
    expect(error.message).toBe('pipeline stage "picky" failed after 2 item(s): Error: cannot handle 3');
  });

  it("a throwing source is reported as the source stage", async () => {
    const source = async function* () {
      yield 1;
      throw Object.assign(new Error("file truncated"), { code: "EOF" });
    };
    const error = await build({ source: () => source() }).invoke({}).catch((e) => e);
    expect(error).toBeInstanceOf(PipelineStageError);
    expect(error.stage).toBe("source");
    expect(error.itemIndex).toBe(1);
  });

  it("a transient error inside a stage is retried (the policy judges the cause); chunks carry the attempt", async () => {
    let failures = 1;
    const flaky = mapItems((x: number) => {
      if (x === 2 && failures-- > 0) throw Object.assign(new Error("rate limited"), { status: 429 });
      return x;
    });
    const graph = build({ transforms: [{ name: "flaky", run: flaky }] });
    const chunks = await collectChunks(graph, { numbers: [1, 2, 3] });
    expect(chunks.map((c) => [c.attempt, c.item])).toEqual([[1, 1], [2, 1], [2, 2], [2, 3]]);
    failures = 1;
    expect((await graph.invoke({ numbers: [1, 2, 3] })).results).toEqual([1, 2, 3]);
  });

  it("a timeout: a stalled stage fails the attempt with NodeTimeoutError and stops emitting", async () => {
    const stall: Transform<number, number> = async function* (items) {
      for await (const x of items) {
        if (x === 2) await new Promise((r) => setTimeout(r, 300));
        yield x;
      }
    };
    const graph = build({ transforms: [{ name: "stall", run: stall }], timeoutMs: 30, retryPolicy: false });
    const seen: number[] = [];
    const error = await (async () => {
      for await (const chunk of streamPipeline<number>(graph, { numbers: [1, 2, 3] })) seen.push(chunk.item);
    })().catch((e) => e);
    expect(error).toBeInstanceOf(NodeTimeoutError);
    expect(seen).toEqual([1]);
    // The abandoned attempt does not emit later on.
    await new Promise((r) => setTimeout(r, 350));
    expect(seen).toEqual([1]);
  });

  it("fallback: the node's failure is replaced by the fallback's update", async () => {
    const boom = mapItems((x: number) => {
      if (x === 2) throw new Error("bad item");
      return x;
    });
    const graph = build({ transforms: [{ name: "boom", run: boom }], retryPolicy: false, fallback: (error) => ({ results: [error instanceof PipelineStageError ? -error.itemIndex : 0] }) });
    expect((await graph.invoke({ numbers: [1, 2, 3] })).results).toEqual([-1]);
  });

  it("emit false streams nothing; no transforms passes the source through", async () => {
    expect(await collectChunks(build({ emit: false }), { numbers: [9] })).toEqual([]);
    expect((await build({ transforms: [] }).invoke({ numbers: [4, 5] })).results).toEqual([4, 5]);
  });

  it("rejects duplicate stage names, a transform named source, a reserved node name", () => {
    expect(() => buildPipeline<State>({ state: State, source: () => [], transforms: [SEED_TRANSFORMS[0], SEED_TRANSFORMS[0]] })).toThrow(GraphDefinitionError);
    expect(() => buildPipeline<State>({ state: State, source: () => [], transforms: [{ name: "source", run: mapItems((x) => x) }] })).toThrow(/used twice/);
    expect(() => buildPipeline<State>({ state: State, name: "__end__", source: () => [], transforms: [] })).toThrow(GraphDefinitionError);
  });

  it("the example graph runs the source's example", async () => {
    expect((await examples.pipeline.invoke({ numbers: [1, 2, 3, 4, 5] })).results).toEqual([7, 9, 11]);
    expect(examples.pipeline.getGraph().drawMermaid()).toContain("__start__ --> pipeline");
  });
});
