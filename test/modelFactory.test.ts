import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChatOpenAI } from "@langchain/openai";
import { z } from "zod";
import { resolveModelSettings, LOCAL_SERVER_API_KEY, DEFAULT_MODEL, DEFAULT_STRONG_MODEL } from "../src/models/configuration.js";
import { getChatModel, USAGE_HANDLER_KEY } from "../src/models/factory.js";
import { UsageTracker } from "../src/runtime/usage.js";
import { START, StateGraph, StateSchema, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { OfflineChatModel } from "../src/models/offline/model.js";
import { invokeStructured } from "../src/models/structured.js";
import { ConfigurationError, StructuredOutputError } from "../src/runtime/errors.js";
import { runWorkflow } from "../src/facade.js";
import "../graphs/index.js"; // registers the ready workflows by name
import type { Logger, LogFields } from "../src/runtime/logger.js";
import { startOpenAIServer, type Answer, type ChatRequest, type OpenAIServer } from "./helpers/openaiServer.js";

describe("resolveModelSettings", () => {
  it("selects the offline model without a key or base URL", () => {
    expect(resolveModelSettings("default", undefined, {})).toMatchObject({ provider: "offline", model: "offline" });
  });

  it("selects OpenAI with a key, with a model per role", () => {
    const env = { OPENAI_API_KEY: "sk-test" };
    expect(resolveModelSettings("default", undefined, env)).toMatchObject({ provider: "openai", model: DEFAULT_MODEL, apiKey: "sk-test" });
    expect(resolveModelSettings("strong", undefined, env)).toMatchObject({ provider: "openai", model: DEFAULT_STRONG_MODEL });
  });

  it("lets the run config override the environment", () => {
    const env = { OPENAI_API_KEY: "sk-test", LLM_WORKFLOWS_MODEL: "from-env", LLM_WORKFLOWS_TEMPERATURE: "0.5" };
    const settings = resolveModelSettings("default", { configurable: { model: "from-config", temperature: 0.2, timeoutMs: 1234, maxRetries: 0 } }, env);
    expect(settings).toMatchObject({ model: "from-config", temperature: 0.2, timeoutMs: 1234, maxRetries: 0 });
    expect(resolveModelSettings("default", undefined, env)).toMatchObject({ model: "from-env", temperature: 0.5 });
  });

  it("sends a placeholder key to an OpenAI-compatible server given only its base URL", () => {
    expect(resolveModelSettings("default", undefined, { OPENAI_BASE_URL: "http://127.0.0.1:11434/v1" })).toMatchObject({
      provider: "openai",
      baseURL: "http://127.0.0.1:11434/v1",
      apiKey: LOCAL_SERVER_API_KEY,
    });
  });

  it("uses the offline model when the model name is `offline`, whatever else is set", () => {
    expect(resolveModelSettings("default", { configurable: { model: "offline" } }, { OPENAI_API_KEY: "sk" }).provider).toBe("offline");
  });

  it("rejects bad settings with an error naming the setting", () => {
    expect(() => resolveModelSettings("default", { configurable: { temperature: 7 } }, {})).toThrow(/temperature/);
    expect(() => resolveModelSettings("default", { configurable: { temperature: 7 } }, {})).toThrow(ConfigurationError);
    expect(() => resolveModelSettings("default", undefined, { LLM_WORKFLOWS_PROVIDER: "anthropic" })).toThrow(/provider/);
    expect(() => resolveModelSettings("default", undefined, { LLM_WORKFLOWS_PROVIDER: "openai" })).toThrow(/OPENAI_API_KEY/);
    expect(() => resolveModelSettings("default", { configurable: { timeoutMs: "soon" } }, {})).toThrow(/timeoutMs/);
  });
});

describe("getChatModel", () => {
  it("returns the offline model by default and reuses instances", () => {
    const a = getChatModel("default");
    expect(a).toBeInstanceOf(OfflineChatModel);
    expect(getChatModel("default")).toBe(a);
  });

  it("tells the run's logger once that the offline model stands in, and writes nothing to stderr itself", async () => {
    const notices: Array<[string, LogFields | undefined]> = [];
    const logger: Logger = { warn: (message, fields) => void notices.push([message, fields]) };
    const writes: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string | Uint8Array) => (writes.push(String(chunk)), true)) as typeof process.stderr.write;
    try {
      new OfflineChatModel();
      await runWorkflow("supportRouting", { query: "I was charged twice" }, { configurable: { logger } });
      await runWorkflow("supportRouting", { query: "The app crashes" }, { configurable: { logger } });
      await runWorkflow("supportRouting", { query: "The app crashes" }); // no logger: nobody is told
    } finally {
      process.stderr.write = write;
    }
    expect(writes.join("")).not.toMatch(/offline model/);
    expect(notices).toHaveLength(1);
    expect(notices[0][0]).toMatch(/embedded offline model/);
    expect(notices[0][1]).toEqual({ code: "OFFLINE_MODEL" });
    const other: Logger = { warn: (message) => void notices.push([message, undefined]) };
    getChatModel("default", { configurable: { logger: other } });
    expect(notices).toHaveLength(2); // once per logger
  });

  it("refuses a logger without warn, naming the key", () => {
    expect(() => getChatModel("default", { configurable: { logger: "console" } })).toThrow(/configurable\.logger/);
  });

  it("returns ChatOpenAI configured for the server and role", () => {
    const model = getChatModel("strong", { configurable: { baseURL: "http://127.0.0.1:9/v1", apiKey: "k", strongModel: "big" } });
    expect(model).toBeInstanceOf(ChatOpenAI);
    expect((model as ChatOpenAI).model).toBe("big");
  });
});

describe("the OpenAI path, against a loopback OpenAI-protocol server", () => {
  let server: OpenAIServer;
  let respond: (req: ChatRequest) => Answer = () => ({ text: "ok" });

  beforeAll(async () => {
    server = await startOpenAIServer((req) => respond(req));
  });
  afterAll(async () => {
    await server.close();
  });

  const config = () => ({ configurable: { baseURL: server.url, apiKey: "test-key", model: "test-model", maxRetries: 0 } });

  it("invokes and streams with usage, sending the model name and the key", async () => {
    respond = () => ({ text: "Hello from the server" });
    const model = getChatModel("default", config());
    const answer = await model.invoke("hi");
    expect(answer.content).toBe("Hello from the server");
    expect(answer.usage_metadata).toMatchObject({ input_tokens: 11, output_tokens: 7 });
    const last = server.requests.at(-1)!;
    expect(last.body.model).toBe("test-model");
    expect(last.headers.authorization).toBe("Bearer test-key");
    let streamed = "";
    for await (const chunk of await model.stream("hi")) streamed += chunk.content;
    expect(streamed).toBe("Hello from the server");
    expect(server.requests.at(-1)!.body.stream).toBe(true);
  });

  it("reports every call to the run's usage tracker: invoke, a stream read in full or stopped early, structured output", async () => {
    respond = (req) => (req.response_format ? { json: { label: "a" } } : { text: "three words here" });
    const tracker = new UsageTracker();
    const tracked = { configurable: { ...config().configurable, [USAGE_HANDLER_KEY]: tracker } };
    const model = getChatModel("default", tracked);
    await model.invoke("hi");
    expect(tracker.total).toMatchObject({ calls: 1, inputTokens: 11, outputTokens: 7 });
    for await (const _ of await model.stream("hi")) void _;
    expect(tracker.total).toMatchObject({ calls: 2, inputTokens: 22, outputTokens: 14 });
    for await (const _ of await model.stream("hi")) break; // the reader stops at the first chunk: still a call,
    expect(tracker.total).toMatchObject({ calls: 3, inputTokens: 22 }); // whose usage (on the last chunk) never came
    // withStructuredOutput builds another ChatOpenAI (withConfig): its calls reach the tracker too.
    expect(await invokeStructured(model, z.object({ label: z.enum(["a", "b"]) }), "Pick", "choose", tracked)).toEqual({ label: "a" });
    expect(tracker.total.calls).toBe(4);
    expect(tracker.total.inputTokens).toBe(33);
  });

  it("attributes a call to the node that made it, from the node's own run context", async () => {
    respond = () => ({ text: "ok" });
    const tracker = new UsageTracker();
    const State = new StateSchema({ question: z.string(), answer: z.string().default("") });
    const graph = new StateGraph(State)
      .addNode("answer_question", async (state: typeof State.State, nodeConfig: LangGraphRunnableConfig) => {
        // The model is called without the node's config: the node is found all the same.
        const reply = await getChatModel("default", nodeConfig).invoke(state.question);
        return { answer: reply.text };
      })
      .addEdge(START, "answer_question")
      .compile();
    await graph.invoke({ question: "hi" }, { configurable: { ...config().configurable, [USAGE_HANDLER_KEY]: tracker } });
    expect(tracker.byNode.get("answer_question")).toMatchObject({ calls: 1, inputTokens: 11, outputTokens: 7 });
    expect(tracker.byTask.size).toBe(1);
  });

  it("gets structured output through response_format json_schema and validates it", async () => {
    respond = (req) => ({ json: req.response_format?.json_schema?.name === "Pick" ? { label: "b" } : {} });
    const Pick = z.object({ label: z.enum(["a", "b"]) });
    const out = await invokeStructured(getChatModel("default", config()), Pick, "Pick", "choose", config());
    expect(out).toEqual({ label: "b" });
    expect(server.requests.at(-1)!.body.response_format?.type).toBe("json_schema");

    respond = () => ({ json: { label: "zzz" } });
    await expect(invokeStructured(getChatModel("default", config()), Pick, "Pick", "choose", config())).rejects.toThrow();
  });

  it("names the schema and field when an answer does not match", async () => {
    respond = () => ({ json: { score: 42 } });
    const Score = z.object({ score: z.number().max(10) });
    const error = await invokeStructured(getChatModel("default", config()), Score, "Score", "rate", config()).catch((e) => e);
    expect(error).toBeInstanceOf(Error);
    expect(String(error.message)).toMatch(/score/);
    if (error instanceof StructuredOutputError) expect(error.issues[0].path).toBe("score");
  });

  it("runs a whole workflow on the server: the server's classification picks the route", async () => {
    respond = (req) =>
      req.response_format ? { json: { category: "technical", confidence: 0.92 } } : { text: "Have you tried reinstalling the app?" };
    const out = await runWorkflow("supportRouting", { query: "it broke" }, config());
    expect(out).toMatchObject({ category: "technical", route: "technical", response: "Have you tried reinstalling the app?" });

    respond = (req) => (req.response_format ? { json: { category: "billing", confidence: 0.31 } } : { text: "Could you tell me more?" });
    const unsure = await runWorkflow("supportRouting", { query: "hmm" }, config());
    expect(unsure).toMatchObject({ route: "fallback", response: "Could you tell me more?" });
    expect(unsure.fallbackReason).toMatch(/0.31 is below the threshold 0.7/);
  });
});
