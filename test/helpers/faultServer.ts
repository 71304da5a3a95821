/**
 * A fault-injecting server on loopback that speaks the OpenAI Chat Completions
 * protocol well enough for ChatOpenAI: plain answers, `response_format`
 * json_schema answers, forced tool calls, streaming (SSE) and usage. Answers
 * come from the offline model's logic (extractive text; schema-filling JSON),
 * so every workflow runs against it.
 *
 * Faults are drawn per request from a seeded PRNG: 429 with and without
 * Retry-After, 500, 503, connection resets, answers slower than the client's
 * timeout, truncated streams, invalid JSON in a structured answer, and JSON
 * that fails the schema. It can also enforce requests-per-minute and
 * tokens-per-minute limits the way a provider does: every answer announces
 * them (`x-ratelimit-limit-*`, `-remaining-*`, `-reset-*`, as OpenAI does),
 * and a request over them gets a 429 with Retry-After and those headers.
 */
import { AIMessage, HumanMessage, SystemMessage, type BaseMessage } from "@langchain/core/messages";
import { createServer, type IncomingMessage, type ServerResponse, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { compose } from "../../src/models/offline/compose.js";
import { fillSchema, type JsonSchema } from "../../src/models/offline/fill.js";
import { readPrompt } from "../../src/models/offline/prompt.js";
import { countTokens } from "../../src/runtime/text.js";

export type FaultKind =
  | "rate_limit_retry_after"
  | "rate_limit_bare"
  | "server_500"
  | "server_503"
  | "connection_reset"
  | "slow"
  | "truncated_stream"
  | "invalid_json"
  | "schema_mismatch"
  | "bad_request_400"
  | "unauthorized_401"
  | "forbidden_403";

export interface FaultServerOptions {
  /** Probability (0-1) of each fault per request. */
  faults?: Partial<Record<FaultKind, number>>;
  /** Seed of the fault draws. */
  seed?: number;
  /** Delay of a `slow` answer, in ms (make it longer than the client's timeout). */
  slowMs?: number;
  /** Retry-After sent with `rate_limit_retry_after` faults, in seconds. */
  retryAfterSeconds?: number;
  /** Requests per minute the server accepts (sliding 60 s window); excess gets 429. */
  rpm?: number;
  /** Tokens per minute (prompt + completion); excess gets 429. */
  tpm?: number;
  /** Latency added to every answer, in ms. */
  latencyMs?: number;
  /** Faults for the first requests, in order (null: none), before the random draws apply. */
  sequence?: Array<FaultKind | null>;
}

export interface FaultServerStats {
  requests: number;
  succeeded: number;
  faults: Record<string, number>;
  rateLimited: number;
  tokens: number;
  /** Completion times (ms since start) of successful requests, for throughput. */
  successTimes: number[];
}

export interface FaultServer {
  url: string;
  stats: FaultServerStats;
  /** Request bodies and headers received (the last 1,000). */
  requests: Array<{ body: Record<string, unknown>; headers: IncomingMessage["headers"] }>;
  /** Faults for the next requests, in order (null: none), before the random draws apply again. */
  setSequence(sequence: Array<FaultKind | null>): void;
  close(): Promise<void>;
}

/** mulberry32: a small seeded PRNG. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function toMessages(raw: Array<{ role: string; content: unknown }>): BaseMessage[] {
  return raw.map((m) => {
    const content = typeof m.content === "string" ? m.content : JSON.stringify(m.content ?? "");
    return m.role === "system" || m.role === "developer" ? new SystemMessage(content) : m.role === "assistant" ? new AIMessage(content) : new HumanMessage(content);
  });
}

/** A JSON value that violates `schema` (an enum field set to a value not in it, or a required field removed). */
function breakSchema(value: Record<string, unknown>, schema: JsonSchema): Record<string, unknown> {
  for (const [key, child] of Object.entries(schema.properties ?? {})) {
    if (child.enum) return { ...value, [key]: "__not_an_option__" };
    if (child.type === "number" || child.type === "integer") return { ...value, [key]: "NaN" };
  }
  const [first] = Object.keys(value);
  const { [first]: _dropped, ...rest } = value;
  return rest;
}

export async function startFaultServer(options: FaultServerOptions = {}): Promise<FaultServer> {
  const random = prng(options.seed ?? 1);
  const stats: FaultServerStats = { requests: 0, succeeded: 0, faults: {}, rateLimited: 0, tokens: 0, successTimes: [] };
  const requests: FaultServer["requests"] = [];
  const window: Array<{ at: number; tokens: number }> = [];
  const started = Date.now();
  const sockets = new Set<Socket>();

  const sequence = [...(options.sequence ?? [])];
  const draw = (): FaultKind | undefined => {
    if (sequence.length) return sequence.shift() ?? undefined;
    const r = random();
    let acc = 0;
    for (const [kind, p] of Object.entries(options.faults ?? {}) as Array<[FaultKind, number]>) {
      acc += p;
      if (r < acc) return kind;
    }
    return undefined;
  };

  const limitedFor = (tokens: number): number | undefined => {
    const now = Date.now();
    while (window.length && now - window[0].at >= 60_000) window.shift();
    const reqs = window.length;
    const used = window.reduce((n, w) => n + w.tokens, 0);
    if ((options.rpm && reqs + 1 > options.rpm) || (options.tpm && used + tokens > options.tpm)) {
      const oldest = window[0]?.at ?? now;
      return Math.max(1, Math.ceil((oldest + 60_000 - now) / 1000));
    }
    window.push({ at: now, tokens });
    return undefined;
  };
  /** The rate-limit headers of an answer, as OpenAI sends them (only for the limits this server enforces). */
  const limitHeaders = (): Record<string, string> => {
    const now = Date.now();
    const reset = `${Math.max(0, Math.ceil(((window[0]?.at ?? now) + 60_000 - now) / 1000))}s`;
    const used = window.reduce((n, w) => n + w.tokens, 0);
    return {
      ...(options.rpm ? { "x-ratelimit-limit-requests": String(options.rpm), "x-ratelimit-remaining-requests": String(Math.max(0, options.rpm - window.length)), "x-ratelimit-reset-requests": reset } : {}),
      ...(options.tpm ? { "x-ratelimit-limit-tokens": String(options.tpm), "x-ratelimit-remaining-tokens": String(Math.max(0, options.tpm - used)), "x-ratelimit-reset-tokens": reset } : {}),
    };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    let raw = "";
    for await (const chunk of req) raw += chunk;
    if (req.method === "GET" && req.url === "/__stats") {
      // For a server run as a process of its own (see the end of this file).
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ...stats, successTimes: undefined }));
      return;
    }
    if (req.method !== "POST" || !req.url?.endsWith("/chat/completions")) {
      res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: "not found" } }));
      return;
    }
    stats.requests++;
    const body = JSON.parse(raw) as {
      model: string;
      messages: Array<{ role: string; content: unknown }>;
      stream?: boolean;
      response_format?: { type: string; json_schema?: { name: string; schema: JsonSchema } };
      tools?: Array<{ function: { name: string; parameters: JsonSchema } }>;
    };
    requests.push({ body: body as unknown as Record<string, unknown>, headers: req.headers });
    if (requests.length > 1000) requests.shift();

    const messages = toMessages(body.messages);
    const prompt = readPrompt(messages);
    const promptTokens = countTokens(prompt.all);
    const retryIn = limitedFor(promptTokens);
    if (retryIn !== undefined) {
      stats.rateLimited++;
      res
        .writeHead(429, { "content-type": "application/json", "retry-after": String(retryIn), "retry-after-ms": String(retryIn * 1000), ...limitHeaders() })
        .end(JSON.stringify({ error: { message: "Rate limit reached for requests", type: "requests", code: "rate_limit_exceeded" } }));
      return;
    }
    const fault = draw();
    if (fault) stats.faults[fault] = (stats.faults[fault] ?? 0) + 1;
    const error = (status: number, message: string, headers: Record<string, string> = {}) =>
      res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify({ error: { message, type: "server_error" } }));
    switch (fault) {
      case "rate_limit_retry_after":
        return error(429, "Rate limit reached", { "retry-after": String(options.retryAfterSeconds ?? 1) });
      case "rate_limit_bare":
        return error(429, "Rate limit reached");
      case "server_500":
        return error(500, "The server had an error while processing your request.");
      case "server_503":
        return error(503, "The engine is currently overloaded.");
      case "bad_request_400":
        return error(400, "Invalid request: 'messages' is malformed.");
      case "unauthorized_401":
        return error(401, "Incorrect API key provided.");
      case "forbidden_403":
        return error(403, "You are not allowed to use this model.");
      case "connection_reset":
        req.socket.destroy();
        return;
      case "slow":
        await new Promise((r) => setTimeout(r, options.slowMs ?? 5_000));
        break;
      default:
        break;
    }
    if (options.latencyMs) await new Promise((r) => setTimeout(r, options.latencyMs));

    const structuredSchema = body.response_format?.json_schema?.schema;
    const tool = body.tools?.[0]?.function;
    let content: string | null;
    let toolCalls: Array<{ id: string; type: "function"; function: { name: string; arguments: string } }> | undefined;
    if (structuredSchema || tool) {
      let value = fillSchema((structuredSchema ?? tool!.parameters) as JsonSchema, prompt) as Record<string, unknown>;
      if (fault === "schema_mismatch") value = breakSchema(value, (structuredSchema ?? tool!.parameters) as JsonSchema);
      let json = JSON.stringify(value);
      if (fault === "invalid_json") json = json.slice(0, Math.max(1, Math.floor(json.length / 2)));
      if (tool && !structuredSchema) {
        content = null;
        toolCalls = [{ id: `call_${stats.requests}`, type: "function", function: { name: tool.name, arguments: json } }];
      } else content = json;
    } else {
      content = compose(prompt);
    }
    const completionTokens = countTokens(content ?? JSON.stringify(toolCalls));
    const usage = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
    const id = `chatcmpl-${stats.requests}`;
    const finish = toolCalls ? "tool_calls" : "stop";
    if (body.stream) {
      res.writeHead(200, { "content-type": "text/event-stream", ...limitHeaders() });
      const send = (payload: Record<string, unknown>) => res.write(`data: ${JSON.stringify({ id, object: "chat.completion.chunk", created: 0, model: body.model, ...payload })}\n\n`);
      const pieces = toolCalls ? [] : (content ?? "").match(/\S+\s*/g) ?? [""];
      if (toolCalls) send({ choices: [{ index: 0, delta: { role: "assistant", tool_calls: toolCalls.map((t, index) => ({ index, ...t })) }, finish_reason: null }] });
      for (let i = 0; i < pieces.length; i++) {
        if (fault === "truncated_stream" && i >= Math.max(1, Math.floor(pieces.length / 2))) {
          req.socket.destroy();
          return;
        }
        send({ choices: [{ index: 0, delta: { role: "assistant", content: pieces[i] }, finish_reason: null }] });
      }
      send({ choices: [{ index: 0, delta: {}, finish_reason: finish }] });
      send({ choices: [], usage });
      res.end("data: [DONE]\n\n");
    } else {
      if (fault === "truncated_stream") {
        // Not a streaming request: cut the body mid-way instead.
        const full = JSON.stringify({ id, object: "chat.completion", created: 0, model: body.model, choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: finish }], usage });
        res.writeHead(200, { "content-type": "application/json", ...limitHeaders() });
        res.write(full.slice(0, Math.floor(full.length / 2)));
        req.socket.destroy();
        return;
      }
      res.writeHead(200, { "content-type": "application/json", ...limitHeaders() }).end(
        JSON.stringify({
          id,
          object: "chat.completion",
          created: 0,
          model: body.model,
          choices: [{ index: 0, message: { role: "assistant", content, ...(toolCalls ? { tool_calls: toolCalls } : {}) }, finish_reason: finish }],
          usage,
        }),
      );
    }
    stats.succeeded++;
    stats.tokens += usage.total_tokens;
    stats.successTimes.push(Date.now() - started);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      if (!res.headersSent) res.writeHead(500).end(JSON.stringify({ error: { message: String(e) } }));
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    stats,
    requests,
    setSequence: (next) => {
      sequence.splice(0, sequence.length, ...next);
    },
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * Run as a process of its own (`node --import tsx test/helpers/faultServer.ts '<options JSON>'`),
 * so that a benchmark measures its client without the server's work in the same
 * process: prints the URL on the first line of stdout; `GET <origin>/__stats` answers
 * the stats; SIGTERM stops it.
 */
if (process.argv[1] && import.meta.url === (await import("node:url")).pathToFileURL(process.argv[1]).href) {
  const server = await startFaultServer(JSON.parse(process.argv[2] ?? "{}") as FaultServerOptions);
  process.stdout.write(`${server.url}\n`);
  process.on("SIGTERM", () => void server.close().then(() => process.exit(0)));
}
