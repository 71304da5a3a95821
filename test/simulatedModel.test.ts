import { describe, expect, it } from "vitest";
import { HumanMessage } from "@langchain/core/messages";
import { z } from "zod";
import { classifyItem, DEFAULT_LABELS } from "../graphs/bulkClassification.js";
import { runWorkflow } from "../src/facade.js";
// The ready workflows, registered in the default registry that runs by name use.
import "../graphs/index.js";
import { getChatModel, MODEL_OVERRIDE_KEY } from "../src/models/factory.js";
import { OfflineChatModel } from "../src/models/offline/model.js";
import { drawDelay, FIXED_TEXT, fixedValue, SimulatedChatModel, type SimulatedModelOptions } from "../src/models/simulated.js";
import { invokeStructured } from "../src/models/structured.js";
import { ConfigurationError } from "../src/runtime/errors.js";

/** A model whose waits are recorded instead of slept (no wall clock in these tests). */
function recorded(options: SimulatedModelOptions = {}) {
  const waited: number[] = [];
  const model = new SimulatedChatModel({ ...options, sleep: async (ms) => void waited.push(ms) });
  return { model, waited };
}

const prompts = Array.from({ length: 50 }, (_, i) => `Prompt number ${i}: classify this text`);

describe("SimulatedChatModel latency", () => {
  it("draws the same delays for the same seed and prompts, different ones for another seed", async () => {
    const a = recorded({ seed: 7 });
    const b = recorded({ seed: 7 });
    const c = recorded({ seed: 8 });
    for (const p of prompts) {
      await a.model.invoke(p);
      await b.model.invoke(p);
      await c.model.invoke(p);
    }
    expect(a.waited).toEqual(b.waited);
    expect(a.waited).not.toEqual(c.waited);
    expect(a.model.stats.delays).toEqual(a.waited);
  });

  it("keys a delay by the prompt, not by call order, so that any schedule sees the same latencies", async () => {
    const forward = recorded({ seed: 3 });
    const backward = recorded({ seed: 3 });
    for (const p of prompts) await forward.model.invoke(p);
    for (const p of [...prompts].reverse()) await backward.model.invoke(p);
    expect([...backward.waited].reverse()).toEqual(forward.waited);
  });

  it("gives a repeated prompt its own delay each time, and the same sequence again after reset()", async () => {
    const { model, waited } = recorded({ seed: 5 });
    for (let i = 0; i < 10; i++) await model.invoke("the same prompt");
    const first = [...waited];
    expect(new Set(first).size).toBeGreaterThan(1);
    model.reset();
    expect(model.stats.calls).toBe(0);
    waited.length = 0;
    for (let i = 0; i < 10; i++) await model.invoke("the same prompt");
    expect(waited).toEqual(first);
  });

  it("draws whole milliseconds uniformly within mean +/- spread", () => {
    const delays = Array.from({ length: 5000 }, (_, i) => drawDelay(1, i * 2654435761, 0, 100, 30));
    expect(delays.every((d) => Number.isInteger(d) && d >= 70 && d <= 130)).toBe(true);
    const mean = delays.reduce((x, y) => x + y, 0) / delays.length;
    expect(Math.abs(mean - 100)).toBeLessThan(2);
    expect(Math.min(...delays)).toBeLessThanOrEqual(72);
    expect(Math.max(...delays)).toBeGreaterThanOrEqual(128);
    // Each tenth of the range gets a fair share (uniform, not clustered).
    const buckets = new Array(10).fill(0);
    for (const d of delays) buckets[Math.min(9, Math.floor((d - 70) / 6))]++;
    expect(Math.min(...buckets)).toBeGreaterThan(350);
  });

  it("uses the configured mean and spread, and never a negative delay", async () => {
    const { model, waited } = recorded({ seed: 2, meanMs: 20, spreadMs: 5 });
    for (const p of prompts) await model.invoke(p);
    expect(waited.every((d) => d >= 15 && d <= 25)).toBe(true);
    expect(prompts.map((_, i) => drawDelay(2, i, 0, 5, 30)).every((d) => d >= 0)).toBe(true);
  });

  it("does not wait at all with zero latency", async () => {
    const { model, waited } = recorded({ meanMs: 0 });
    for (const p of prompts.slice(0, 5)) await model.invoke(p);
    expect(waited).toEqual([]);
    expect(model.stats).toMatchObject({ calls: 5, totalDelayMs: 0, maxDelayMs: 0 });
  });

  it("refuses a call whose signal is already aborted", async () => {
    const { model } = recorded();
    const controller = new AbortController();
    controller.abort(new Error("stop"));
    await expect(model.invoke("x", { signal: controller.signal })).rejects.toThrow();
  });
});

describe("SimulatedChatModel answers and usage", () => {
  it("reports the fixed token counts on every call, whatever the prompt", async () => {
    const { model } = recorded({ inputTokens: 321, outputTokens: 12 });
    const short = await model.invoke("hi");
    const long = await model.invoke("a much longer prompt ".repeat(100));
    for (const answer of [short, long]) expect(answer.usage_metadata).toEqual({ input_tokens: 321, output_tokens: 12, total_tokens: 333 });
    expect(model.stats).toMatchObject({ calls: 2, inputTokens: 642, outputTokens: 24 });
    const defaults = recorded().model;
    expect((await defaults.invoke("x")).usage_metadata).toMatchObject({ input_tokens: 500, output_tokens: 50 });
  });

  it("answers free text with the fixed text in fixed mode", async () => {
    const { model } = recorded({ content: "fixed" });
    expect((await model.invoke("Write something")).content).toBe(FIXED_TEXT);
  });

  it("answers structured output through a tool call, validated by the schema, in fixed mode", async () => {
    const { model } = recorded({ content: "fixed" });
    const schema = z.object({
      label: z.enum(["urgent", "spam", "normal"]),
      confidence: z.number().min(0).max(1),
      questions: z.array(z.string()).min(3).max(3),
      note: z.string().nullable(),
      done: z.boolean(),
    });
    const value = await invokeStructured(model, schema, "Answer", "Classify this");
    expect(value).toMatchObject({ label: "urgent", confidence: 1, done: true });
    expect(value.questions).toHaveLength(3);
    expect(fixedValue({ type: "integer", minimum: 1, maximum: 10 })).toBe(10);
  });

  it("answers like the offline model in offline mode, free text and structured", async () => {
    const { model } = recorded({ content: "offline" });
    const offline = new OfflineChatModel();
    const text = "Summarize.\n<text>The server is down. Customers cannot log in. The team is on it.</text>";
    expect((await model.invoke(text)).content).toBe((await offline.invoke(text)).content);
    const Route = z.object({ category: z.enum(["billing", "technical"]), confidence: z.number().min(0).max(1) });
    const prompt = "- billing: charges, refunds, fees\n- technical: errors, crashes, login\n<user_query>I was charged twice, I want a refund</user_query>";
    expect(await invokeStructured(model, Route, "Route", prompt)).toEqual(await invokeStructured(offline, Route, "Route", prompt));
  });

  it("keys structured calls by the tool too: the same prompt as text and as a tool call draws separately", async () => {
    const { model } = recorded({ seed: 11 });
    const schema = z.object({ label: z.enum(["a", "b"]) });
    await model.invoke([new HumanMessage("same words")]);
    await invokeStructured(model, schema, "Pick", "same words");
    const key = model.promptKey([new HumanMessage("same words")]);
    expect(model.stats.delays[0]).toBe(drawDelay(11, key, 0, 100, 30));
    expect(model.promptKey([new HumanMessage("same words")], "Pick")).not.toBe(key);
  });
});

describe("the factory's modelOverride hook", () => {
  it("returns the override for every role, and the usual model without it", () => {
    const { model } = recorded();
    const config = { configurable: { [MODEL_OVERRIDE_KEY]: model, model: "gpt-4o", apiKey: "sk-test" } };
    expect(getChatModel("default", config)).toBe(model);
    expect(getChatModel("strong", config)).toBe(model);
    expect(getChatModel("default")).toBeInstanceOf(OfflineChatModel);
  });

  it("refuses an override that is not a chat model", () => {
    expect(() => getChatModel("default", { configurable: { modelOverride: "gpt-4o" } })).toThrow(ConfigurationError);
    expect(() => getChatModel("default", { configurable: { modelOverride: { invoke: () => "x" } } })).toThrow(/modelOverride/);
  });

  it("makes a workflow run on the simulated model, with its fixed usage", async () => {
    const { model } = recorded({ content: "offline", inputTokens: 100, outputTokens: 10 });
    const out = await runWorkflow("supportRouting", { query: "I was charged twice for the same payment" }, { configurable: { modelOverride: model } });
    expect(out.route).toBe("billing");
    expect(model.stats.calls).toBe(2);
  });

  it("gives a graph run and plain Promise.all over the same calls the same latencies", async () => {
    const { model, waited } = recorded({ content: "fixed", seed: 9 });
    const items = Array.from({ length: 30 }, (_, i) => `item ${i}`);
    const configurable = { modelOverride: model };
    await runWorkflow("bulkClassification", { items }, { configurable });
    const fromGraph = [...waited].sort((a, b) => a - b);
    model.reset();
    waited.length = 0;
    await Promise.all(items.map((item, i) => classifyItem(item, i, { labels: DEFAULT_LABELS, labelDescriptions: {} }, { configurable } as any)));
    expect([...waited].sort((a, b) => a - b)).toEqual(fromGraph);
    expect(fromGraph).toHaveLength(30);
  });
});
