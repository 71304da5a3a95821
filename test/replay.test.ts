/**
 * Record and replay of model calls (src/models/replay.ts): the wrapper on its
 * own (the offline model, a scripted model), then whole workflows recorded
 * against the loopback OpenAI-protocol server and replayed with the server
 * stopped and no key.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { BaseChatModel } from "@langchain/core/language_models/chat_models";
import { AIMessage, AIMessageChunk, type BaseMessage } from "@langchain/core/messages";
import type { ChatResult } from "@langchain/core/outputs";
import { tool } from "@langchain/core/tools";
import { OfflineChatModel } from "../src/models/offline/model.js";
import { invokeStructured } from "../src/models/structured.js";
import {
  canonicalJson,
  ModelCallRecorder,
  RECORDER_KEY,
  recorderForOptions,
  ReplayMissError,
  requestHash,
  type RecordedRequest,
} from "../src/models/replay.js";
import { ConfigurationError, DataFileError } from "../src/runtime/errors.js";
import { lastResult, runWorkflow, streamWorkflow } from "../src/facade.js";
import { definition as supportRouting } from "../graphs/supportRouting.js";
import { definition as researchAssistant } from "../graphs/researchAssistant.js";
import { definition as bulkClassification } from "../graphs/bulkClassification.js";
import { startOpenAIServer, type ChatRequest } from "./helpers/openaiServer.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "replay-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A model that answers from a script, in order, and counts its calls (a second call of the same prompt gets the next answer). */
class ScriptedModel extends BaseChatModel {
  calls = 0;
  constructor(private readonly answers: string[]) {
    super({});
  }
  _llmType() {
    return "scripted";
  }
  async _generate(_messages: BaseMessage[]): Promise<ChatResult> {
    const text = this.answers[this.calls++ % this.answers.length];
    return { generations: [{ text, message: new AIMessage({ content: text, usage_metadata: { input_tokens: 3, output_tokens: 2, total_tokens: 5 } }) }] };
  }
}

/** The offline model, counting the calls that reach it. */
class CountingOffline extends OfflineChatModel {
  calls = 0;
  override async _generate(messages: BaseMessage[], options: this["ParsedCallOptions"]) {
    this.calls++;
    return super._generate(messages, options);
  }
}

/** A model that fails the test if a call reaches it. */
class NoCalls extends BaseChatModel {
  constructor() {
    super({});
  }
  _llmType() {
    return "no-calls";
  }
  async _generate(): Promise<ChatResult> {
    throw new Error("a replayed call reached the model");
  }
}

const Route = z.object({ category: z.enum(["billing", "technical"]), confidence: z.number().min(0).max(1) });
const ROUTE_PROMPT = "- billing: charges, refunds\n- technical: errors, crashes\n<user_query>I was charged twice</user_query>";

describe("the key", () => {
  const request: RecordedRequest = { model: "m", temperature: 0, messages: [{ role: "human", content: "hi" }], output: { name: "X", schema: { type: "object", properties: { a: { type: "string" } } } } };

  it("is the same for the same request whatever the order of its keys, and differs when what determines the answer does", () => {
    const reordered = { output: { schema: { properties: { a: { type: "string" } }, type: "object" }, name: "X" }, messages: [{ content: "hi", role: "human" }], temperature: 0, model: "m" };
    expect(canonicalJson(reordered)).toBe(canonicalJson(request));
    expect(requestHash(reordered as RecordedRequest)).toBe(requestHash(request));
    expect(requestHash(request)).toMatch(/^[0-9a-f]{32}$/);
    for (const changed of [
      { ...request, model: "other" },
      { ...request, temperature: 0.7 },
      { ...request, messages: [{ role: "human", content: "hi!" }] },
      { ...request, messages: [{ role: "system", content: "hi" }] },
      { ...request, output: { name: "Y", schema: request.output!.schema } },
    ]) {
      expect(requestHash(changed)).not.toBe(requestHash(request));
    }
  });
});

describe("the wrapper, on a model of its own", () => {
  it("records calls (structured output, text, tools, a stream) and replays them without calling the model", async () => {
    const file = join(dir, "calls.jsonl");
    const recorder = new ModelCallRecorder({ file, mode: "record" });
    const live = new CountingOffline();
    const model = recorder.wrap(live);
    const lookup = tool(async () => "ok", { name: "lookup_account", description: "Look up an account", schema: z.object({ accountId: z.string() }) });
    const route = await invokeStructured(model, Route, "Route", ROUTE_PROMPT);
    const text = await model.invoke("Summarise: the session keeps cookies. Timeouts are in seconds.");
    const called = await model.bindTools([lookup]).invoke("Look up account 42");
    let streamed = "";
    for await (const chunk of await model.stream("Tell me about sessions and cookies.")) streamed += chunk.content;
    expect(live.calls).toBe(4);
    expect(recorder.stats).toMatchObject({ recorded: 4, replayed: 0 });
    const lines = readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(lines).toHaveLength(4);
    expect(lines[0].request).toMatchObject({ model: "offline", output: { name: "Route" } });
    expect(lines[0].response.toolCalls[0].args).toEqual(route);
    expect(lines[2].request.tools[0]).toMatchObject({ name: "lookup_account" });

    const replay = new ModelCallRecorder({ file, mode: "replay" });
    const replayed = replay.wrap(new NoCalls(), { model: "offline" });
    expect(await invokeStructured(replayed, Route, "Route", ROUTE_PROMPT)).toEqual(route);
    expect((await replayed.invoke("Summarise: the session keeps cookies. Timeouts are in seconds.")).content).toBe(text.content);
    expect((await replayed.bindTools([lookup]).invoke("Look up account 42")).tool_calls).toEqual(called.tool_calls);
    let again = "";
    for await (const chunk of await replayed.stream("Tell me about sessions and cookies.")) again += chunk.content;
    expect(again).toBe(streamed);
    expect(replay.stats).toEqual({ replayed: 4, recorded: 0, loaded: 4 });
    expect(replay.unused()).toEqual([]);
  });

  it("answers the same request made twice with its records in recorded order, and fails a third time", async () => {
    const file = join(dir, "calls.jsonl");
    const model = new ModelCallRecorder({ file, mode: "record" }).wrap(new ScriptedModel(["first", "second"]), { model: "scripted" });
    expect((await model.invoke("same question")).content).toBe("first");
    expect((await model.invoke("same question")).content).toBe("second");

    const replay = new ModelCallRecorder({ file, mode: "replay" });
    const replayed = replay.wrap(new NoCalls(), { model: "scripted" });
    expect((await replayed.invoke("same question")).content).toBe("first");
    expect((await replayed.invoke("same question")).content).toBe("second");
    const third = await replayed.invoke("same question", { metadata: { langgraph_node: "ask" } }).catch((e: unknown) => e);
    expect(third).toBeInstanceOf(ReplayMissError);
    expect((third as ReplayMissError).message).toMatch(/node "ask".*recorded 2 times/);
  });

  it("strict replay names the node and the request's hash of a request that is not in the file", async () => {
    const file = join(dir, "calls.jsonl");
    await new ModelCallRecorder({ file, mode: "record" }).wrap(new OfflineChatModel()).invoke("What is a session?");
    const replayed = new ModelCallRecorder({ file, mode: "replay" }).wrap(new NoCalls(), { model: "offline" });
    const error = (await replayed.invoke("What is a timeout?", { metadata: { langgraph_node: "answer_question" } }).catch((e: unknown) => e)) as ReplayMissError;
    expect(error).toBeInstanceOf(ReplayMissError);
    expect(error.code).toBe("REPLAY_MISS");
    expect(error.node).toBe("answer_question");
    expect(error.hash).toMatch(/^[0-9a-f]{32}$/);
    expect(error.message).toContain(`node "answer_question"`);
    expect(error.message).toContain(error.hash);
    expect(error.message).not.toContain("\n");
    // The same request under another model name or temperature is another request.
    const otherModel = new ModelCallRecorder({ file, mode: "replay" }).wrap(new NoCalls(), { model: "gpt-4o" });
    await expect(otherModel.invoke("What is a session?")).rejects.toBeInstanceOf(ReplayMissError);
    const otherTemperature = new ModelCallRecorder({ file, mode: "replay" }).wrap(new NoCalls(), { model: "offline", temperature: 0.5 });
    await expect(otherTemperature.invoke("What is a session?")).rejects.toBeInstanceOf(ReplayMissError);
  });

  it("record-missing calls the model for what is missing only, and appends it", async () => {
    const file = join(dir, "calls.jsonl");
    await new ModelCallRecorder({ file, mode: "record" }).wrap(new OfflineChatModel()).invoke("What is a session?");
    const live = new CountingOffline();
    const recorder = new ModelCallRecorder({ file, mode: "record-missing" });
    const model = recorder.wrap(live);
    await model.invoke("What is a session?");
    expect(live.calls).toBe(0);
    const added = await model.invoke("What is a timeout?");
    expect(live.calls).toBe(1);
    expect(recorder.stats).toEqual({ replayed: 1, recorded: 1, loaded: 1 });
    expect(readFileSync(file, "utf8").trim().split("\n")).toHaveLength(2);
    const strict = new ModelCallRecorder({ file, mode: "replay" }).wrap(new NoCalls(), { model: "offline" });
    expect((await strict.invoke("What is a timeout?")).content).toBe(added.content);
  });

  it("writes no secret: the configured key and key-like text are redacted, and the call still replays", async () => {
    const file = join(dir, "calls.jsonl");
    const secret = "my-own-provider-key-123";
    const prompt = `Use key ${secret} or sk-abcdefghijklmnop to log in`;
    const recorder = new ModelCallRecorder({ file, mode: "record", secrets: [secret] });
    await recorder.wrap(new ScriptedModel([`logged in with ${secret}`])).invoke(prompt);
    const text = readFileSync(file, "utf8");
    expect(text).not.toContain(secret);
    expect(text).not.toContain("sk-abcdefghijklmnop");
    expect(text).toMatch(/Use key \[redacted\] or \[redacted\] to log in.*logged in with \[redacted\]/);
    // Looked up by the hash of the request as it was asked: the redacted line still answers it (redacted).
    const replayed = new ModelCallRecorder({ file, mode: "replay" }).wrap(new NoCalls(), { model: "scripted" });
    expect((await replayed.invoke(prompt)).content).toBe("logged in with [redacted]");
  });

  it("refuses a missing or malformed recording, and record with replay, naming the file, line or option", () => {
    expect(() => new ModelCallRecorder({ file: join(dir, "none.jsonl"), mode: "replay" })).toThrow(DataFileError);
    const file = join(dir, "bad.jsonl");
    writeFileSync(file, `${JSON.stringify({ hash: "a", node: null, request: {}, response: { content: "x" } })}\n`);
    appendFileSync(file, "{not json\n");
    expect(() => new ModelCallRecorder({ file, mode: "replay" })).toThrow(/bad\.jsonl:2/);
    writeFileSync(file, `${JSON.stringify({ node: null })}\n`);
    expect(() => new ModelCallRecorder({ file, mode: "replay" })).toThrow(/bad\.jsonl:1: expected a record/);
    expect(() => recorderForOptions({ record: "a.jsonl", replay: "b.jsonl" })).toThrow(ConfigurationError);
    expect(() => recorderForOptions({ replay: file, replayMode: "lenient" as never })).toThrow(/replayMode/);
    expect(recorderForOptions({})).toBeUndefined();
    // record-missing starts a recording that does not exist yet.
    expect(recorderForOptions({ replay: join(dir, "new", "calls.jsonl"), replayMode: "record-missing" })?.mode).toBe("record-missing");
  });
});

/** A JSON value for a JSON Schema: the first enum option, 0.9 for numbers, two items for arrays. */
function fill(schema: Record<string, any>): unknown {
  if (schema.enum) return schema.enum[0];
  if (schema.type === "object") return Object.fromEntries(Object.entries(schema.properties ?? {}).map(([k, v]) => [k, fill(v as Record<string, any>)]));
  if (schema.type === "array") return [fill(schema.items), `${fill(schema.items)} (2)`];
  if (schema.type === "number") return 0.9;
  if (schema.type === "integer") return 1;
  if (schema.type === "boolean") return true;
  return "look into it";
}

/** Answers: JSON for structured requests (a json_schema response format or a forced tool), text naming the prompt's length otherwise. */
function answer(req: ChatRequest) {
  const schema = req.response_format?.json_schema?.schema ?? req.tools?.[0]?.function.parameters;
  return schema ? { json: fill(schema) as Record<string, unknown> } : { text: `answer to ${req.messages.length} messages of ${req.messages.map((m) => m.content.length).join("+")} characters` };
}

describe("whole workflows recorded against the OpenAI protocol and replayed with no server and no key", () => {
  const runs = [
    { name: "a structured-output router", workflow: supportRouting, input: { query: "I was charged twice for the same payment" } },
    { name: "an orchestrator with a fan-out of workers", workflow: researchAssistant, input: { task: "Explain how sessions, authentication and timeouts work", maxSubtasks: 3 } },
    { name: "a parallel map", workflow: bulkClassification, input: { items: ["The server is down", "You won a prize", "Minutes attached", "Deadline today"] } },
  ];

  it("replays each run to the same output, the same tokens and no request, and fails strict replay naming the node whose prompt changed", async () => {
    const server = await startOpenAIServer(answer);
    const file = join(dir, "runs.jsonl");
    const recorder = new ModelCallRecorder({ file, mode: "record" });
    const live = { baseURL: server.url, apiKey: "test-key-not-secret", model: "test-model", maxRetries: 0 };
    const recorded = [];
    for (const run of runs) recorded.push(await lastResult(streamWorkflow(run.workflow, run.input, { configurable: { ...live, ...recorder.configurable } })));
    const requests = server.requests.length;
    expect(requests).toBe(recorder.stats.recorded);
    expect(requests).toBe(2 + 4 + 4); // router: classify, handle; orchestrator: plan, 2 workers, synthesis; map: 4 items
    await server.close();
    expect(readFileSync(file, "utf8")).not.toContain("test-key-not-secret");

    // Replayed in another order, with no base URL and no key: the offline model would answer otherwise.
    const replay = new ModelCallRecorder({ file, mode: "replay" });
    for (const i of [2, 0, 1]) {
      const result = await lastResult(streamWorkflow(runs[i].workflow, runs[i].input, { configurable: { model: "test-model", ...replay.configurable } }));
      expect(result.output, runs[i].name).toEqual(recorded[i].output);
      expect(result.usage, runs[i].name).toEqual(recorded[i].usage);
    }
    expect(server.requests.length).toBe(requests);
    expect(replay.stats).toMatchObject({ replayed: requests, recorded: 0 });
    expect(replay.unused()).toEqual([]);

    // One prompt changed: the router's classifier asks something the recording does not have.
    const changedQuery = runWorkflow(supportRouting, { query: "My card was declined at the ATM" }, { configurable: { model: "test-model", [RECORDER_KEY]: new ModelCallRecorder({ file }) } });
    const error = (await changedQuery.catch((e: unknown) => e)) as ReplayMissError;
    expect(error).toBeInstanceOf(ReplayMissError);
    expect(error.node).toBe("classify_query");
    expect(error.message).toMatch(/^node "classify_query": its model request [0-9a-f]{32} is not in the recording/);

    // One item of the fan-out changed: that worker fails, naming its node and the request.
    const changedItem = await runWorkflow(bulkClassification, { items: ["The server is down", "You won a car", "Minutes attached", "Deadline today"] }, { configurable: { model: "test-model", ...new ModelCallRecorder({ file }).configurable } }).catch(
      (e: unknown) => e as Error,
    );
    expect(String((changedItem as Error).message)).toMatch(/#1 "You won a car": ReplayMissError: node "classify_item": its model request [0-9a-f]{32} is not in the recording/);
    expect(String((changedItem as Error).message)).not.toMatch(/#0|#2|#3/);
    expect(server.requests.length).toBe(requests);
  });

  it("replays a recording made with the offline model when the run has no provider either", async () => {
    const file = join(dir, "offline.jsonl");
    const recorded = await runWorkflow(supportRouting, { query: "The app crashes when I log in" }, { configurable: recorderForOptions({ record: file })!.configurable });
    const replayed = await runWorkflow(supportRouting, { query: "The app crashes when I log in" }, { configurable: recorderForOptions({ replay: file })!.configurable });
    expect(replayed).toEqual(recorded);
    const lines = readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((l) => l.node)).toEqual(["classify_query", recorded.route]);
    expect(lines.every((l) => l.response.model === "offline")).toBe(true);
  });
});
