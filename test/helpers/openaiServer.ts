/**
 * A loopback HTTP server speaking enough of the OpenAI Chat Completions
 * protocol for ChatOpenAI: plain answers, `response_format` json_schema
 * answers, forced tool calls, and SSE streaming with usage. Answers come from
 * a function of the request, so tests decide them.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface ChatRequest {
  model: string;
  messages: Array<{ role: string; content: string }>;
  stream?: boolean;
  response_format?: { type: string; json_schema?: { name: string; schema: Record<string, unknown> } };
  tools?: Array<{ type: "function"; function: { name: string; parameters: Record<string, unknown> } }>;
  tool_choice?: unknown;
}

/** What the test wants answered: text, or JSON (sent as content for json_schema, as tool arguments for tools). */
export type Answer = { text: string } | { json: Record<string, unknown> };

export interface OpenAIServer {
  url: string;
  requests: Array<{ body: ChatRequest; headers: IncomingMessage["headers"] }>;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  let body = "";
  for await (const chunk of req) body += chunk;
  return body;
}

export async function startOpenAIServer(answer: (req: ChatRequest) => Answer): Promise<OpenAIServer> {
  const requests: OpenAIServer["requests"] = [];
  const server: Server = createServer(async (req, res) => {
    if (req.method !== "POST" || !req.url?.endsWith("/chat/completions")) {
      res.writeHead(404).end(JSON.stringify({ error: { message: "not found" } }));
      return;
    }
    const body = JSON.parse(await readBody(req)) as ChatRequest;
    requests.push({ body, headers: req.headers });
    const a = answer(body);
    const tool = body.tools?.[0]?.function.name;
    const content = "text" in a ? a.text : tool ? null : JSON.stringify(a.json);
    const toolCalls =
      "json" in a && tool ? [{ id: `call_${requests.length}`, type: "function", function: { name: tool, arguments: JSON.stringify(a.json) } }] : undefined;
    const usage = { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 };
    const id = `chatcmpl-${requests.length}`;
    if (body.stream) {
      res.writeHead(200, { "content-type": "text/event-stream" });
      const send = (delta: Record<string, unknown>, finish: string | null, withUsage = false) =>
        res.write(
          `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created: 0, model: body.model, choices: [{ index: 0, delta, finish_reason: finish }], ...(withUsage ? { usage } : {}) })}\n\n`,
        );
      if (toolCalls) send({ role: "assistant", tool_calls: toolCalls.map((t, index) => ({ index, ...t })) }, null);
      else for (const word of (content ?? "").match(/\S+\s*/g) ?? [""]) send({ role: "assistant", content: word }, null);
      send({}, toolCalls ? "tool_calls" : "stop");
      res.write(`data: ${JSON.stringify({ id, object: "chat.completion.chunk", created: 0, model: body.model, choices: [], usage })}\n\n`);
      res.end("data: [DONE]\n\n");
      return;
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        id,
        object: "chat.completion",
        created: 0,
        model: body.model,
        choices: [{ index: 0, message: { role: "assistant", content, ...(toolCalls ? { tool_calls: toolCalls } : {}) }, finish_reason: toolCalls ? "tool_calls" : "stop" }],
        usage,
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
