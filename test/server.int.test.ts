/**
 * The workflows served by the LangGraph dev server (`langgraphjs dev`, what
 * LangGraph Studio talks to), driven through `@langchain/langgraph-sdk`: one
 * assistant per workflow, schemas and graphs, runs (wait and stream), human
 * review through interrupt/resume (an invalid answer asked again), bad input,
 * and a clean stop.
 *
 * One server for the whole file, on the offline model (no OPENAI_API_KEY).
 */
import { Client, type Assistant } from "@langchain/langgraph-sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getWorkflow, workflowNames } from "../graphs/index.js";
import { startDevServer, type DevServer } from "./helpers/devServer.js";

type Values = Record<string, unknown>;

let server: DevServer | undefined;
let client: Client;
let stopped = false;
const assistants = new Map<string, Assistant>();

async function stopServer(): Promise<void> {
  if (!server || stopped) return;
  stopped = true;
  await server.stop();
}

/** The example input of `name`, made not to pause at a human review. */
function exampleInput(name: string): Values {
  const example = { ...(getWorkflow(name).example as Values) };
  if (name === "iterativeRefinement") example.humanReview = false;
  if (name === "multiIntentSupport") example.reviewBeforeSend = false;
  return example;
}

/** Whether a process group still has a member. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** What a failed SDK call threw, as text (never resolves: a resolved call is a failure). */
async function failureOf(promise: Promise<unknown>): Promise<string> {
  let result: unknown;
  try {
    result = await promise;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
  throw new Error(`expected the call to fail, it returned ${JSON.stringify(result).slice(0, 500)}`);
}

const withLog = (message: string) => `${message}\n--- dev server log (tail) ---\n${server?.log().slice(-4000) ?? ""}`;

beforeAll(async () => {
  server = await startDevServer(120_000);
  client = new Client({ apiUrl: server.url });
  for (const a of await client.assistants.search({ limit: 100 })) {
    if (!assistants.has(a.graph_id)) assistants.set(a.graph_id, a);
  }
}, 150_000);

afterAll(async () => {
  await stopServer();
}, 30_000);

function assistantOf(name: string): Assistant {
  const a = assistants.get(name);
  if (!a) throw new Error(withLog(`no assistant for ${name}; assistants: ${[...assistants.keys()].join(", ")}`));
  return a;
}

describe("assistants", () => {
  it("lists one assistant per registered workflow", async () => {
    const found = await client.assistants.search({ limit: 100 });
    const graphIds = found.map((a) => a.graph_id);
    expect(new Set(graphIds)).toEqual(new Set(workflowNames));
    expect(graphIds).toHaveLength(workflowNames.length);
  });

  // The first getSchemas call makes the server extract every graph's schemas (about 5 s).
  describe.each([...workflowNames])("%s", (name) => {
    it("has input and output schemas with the workflow's fields and descriptions", async () => {
      const workflow = getWorkflow(name);
      const schemas = await client.assistants.getSchemas(assistantOf(name).assistant_id);
      const inputProps = (schemas.input_schema as { properties?: Record<string, { description?: string }> } | null)?.properties ?? {};
      const outputProps = (schemas.output_schema as { properties?: Record<string, unknown> } | null)?.properties ?? {};

      const shape = workflow.input.shape as Record<string, { description?: string }>;
      for (const [key, field] of Object.entries(shape)) {
        expect(inputProps, `input_schema of ${name} lacks ${key}`).toHaveProperty([key]);
        if (field.description) expect(inputProps[key].description, `description of ${name}.${key}`).toBe(field.description);
      }
      // A field whose zod schema has no JSON Schema form (e.g. z.custom) is silently left out by LangGraph.
      const missing = (workflow.graph.outputChannels as string[]).filter((key) => !Object.hasOwn(outputProps, key));
      expect(missing, `output channels of ${name} missing from output_schema`).toEqual([]);
    }, 60_000);

    it("has a graph with the workflow's nodes", async () => {
      const graph = await client.assistants.getGraph(assistantOf(name).assistant_id);
      const ids = graph.nodes.map((n) => String(n.id));
      expect(ids).toEqual(expect.arrayContaining(Object.keys(getWorkflow(name).builder.nodes)));
      expect(ids).toEqual(expect.arrayContaining(["__start__", "__end__"]));
    });
  });
});

describe("runs", () => {
  describe.each([...workflowNames])("%s", (name) => {
    it("runs.wait on the example returns every output channel", async () => {
      const thread = await client.threads.create();
      const values = (await client.runs.wait(thread.thread_id, assistantOf(name).assistant_id, { input: exampleInput(name) })) as Values;
      const outputs = getWorkflow(name).graph.outputChannels as string[];
      expect(Object.keys(values ?? {}), withLog(`values of ${name}: ${JSON.stringify(values).slice(0, 1000)}`)).toEqual(
        expect.arrayContaining(outputs),
      );
      expect(values).not.toHaveProperty("__interrupt__");
      const state = await client.threads.getState(thread.thread_id);
      expect(state.next).toEqual([]);
      expect((await client.threads.get(thread.thread_id)).status).toBe("idle");
    });

    it("runs.stream (updates) names the graph's nodes and ends without an error", async () => {
      const thread = await client.threads.create();
      const nodes = new Set(Object.keys(getWorkflow(name).builder.nodes));
      const events: string[] = [];
      const updated: string[] = [];
      for await (const chunk of client.runs.stream(thread.thread_id, assistantOf(name).assistant_id, {
        input: exampleInput(name),
        streamMode: "updates",
      })) {
        events.push(chunk.event);
        if (chunk.event === "error") throw new Error(withLog(`error event from ${name}: ${JSON.stringify(chunk.data)}`));
        if (chunk.event === "updates") updated.push(...Object.keys(chunk.data as Values));
      }
      expect(events[0]).toBe("metadata");
      expect(updated.length).toBeGreaterThan(0);
      for (const node of updated) expect(nodes, `update from ${node}, not a node of ${name}`).toContain(node);
      const state = await client.threads.getState(thread.thread_id);
      expect(state.next).toEqual([]);
    });
  });
});

describe("human review through the server", () => {
  /**
   * Checks that `paused` (what runs.wait returned: only `__interrupt__` for a
   * paused run) and the thread show an approval request at human_review;
   * returns the request and the thread's values.
   */
  async function expectPausedForApproval(threadId: string, paused: Values): Promise<{ request: Values; values: Values }> {
    expect(paused, JSON.stringify(paused).slice(0, 500)).toHaveProperty("__interrupt__");
    const returned = paused.__interrupt__ as Array<{ value: Values }>;
    expect(returned[0].value).toMatchObject({ kind: "approval" });
    const state = await client.threads.getState(threadId);
    expect(state.next).toContain("human_review");
    const interrupts = state.tasks.flatMap((t) => t.interrupts ?? []);
    expect(interrupts.length).toBeGreaterThan(0);
    const request = interrupts[0].value as Values;
    expect(request).toMatchObject({ kind: "approval", actions: ["approve", "edit", "reject"] });
    expect(request).toEqual(returned[0].value);
    expect((await client.threads.get(threadId)).status).toBe("interrupted");
    return { request, values: state.values as Values };
  }

  it("multiIntentSupport pauses before sending and sends once approved", async () => {
    const id = assistantOf("multiIntentSupport").assistant_id;
    const input: Values = { ...exampleInput("multiIntentSupport"), reviewBeforeSend: true };
    const thread = await client.threads.create();
    const paused = (await client.runs.wait(thread.thread_id, id, { input })) as Values;
    const { request, values } = await expectPausedForApproval(thread.thread_id, paused);
    expect(values.sent).toBeNull();
    expect(values.email).not.toBe("");
    expect(request.draft).toMatchObject({ to: input.customerEmail, email: values.email });

    const done = (await client.runs.wait(thread.thread_id, id, { command: { resume: { action: "approve" } } })) as Values;
    expect(done.sent).toMatchObject({ to: input.customerEmail, messageId: expect.any(String) });
    expect(done.review).toMatchObject({ status: "approved", decidedBy: "reviewer" });
    const state = await client.threads.getState(thread.thread_id);
    expect(state.next).toEqual([]);
    expect((state.values as Values).sent).toEqual(done.sent);
  });

  it("iterativeRefinement pauses for review and an edit becomes the final text", async () => {
    const id = assistantOf("iterativeRefinement").assistant_id;
    const thread = await client.threads.create();
    const paused = (await client.runs.wait(thread.thread_id, id, { input: { ...exampleInput("iterativeRefinement"), humanReview: true } })) as Values;
    const { request, values } = await expectPausedForApproval(thread.thread_id, paused);
    expect(values.final).not.toBe("");
    expect((request.draft as Values).draft).toBe(values.final);

    const edited = "Edited by the reviewer: always set a timeout on requests.";
    const done = (await client.runs.wait(thread.thread_id, id, { command: { resume: { action: "edit", value: edited } } })) as Values;
    expect(done.final).toBe(edited);
    expect(done.review).toMatchObject({ status: "edited", decidedBy: "reviewer" });
    expect((await client.threads.getState(thread.thread_id)).next).toEqual([]);
  });
});

describe("an invalid review answer through the server", () => {
  it("is asked again with the error (the thread stays interrupted), and a valid answer then finishes the thread", async () => {
    const id = assistantOf("iterativeRefinement").assistant_id;
    const thread = await client.threads.create();
    const paused = (await client.runs.wait(thread.thread_id, id, { input: { ...exampleInput("iterativeRefinement"), humanReview: true } })) as Values;
    const [first] = paused.__interrupt__ as Array<{ id: string; value: Values }>;
    expect(first.value).toMatchObject({ kind: "approval", error: null });

    // The answer of the issue: a rejection without a reason.
    const again = (await client.runs.wait(thread.thread_id, id, { command: { resume: { action: "reject" } } })) as Values;
    expect(again, withLog(JSON.stringify(again).slice(0, 500))).toHaveProperty("__interrupt__");
    const [asked] = again.__interrupt__ as Array<{ id: string; value: Values }>;
    expect(asked.value).toMatchObject({ kind: "approval", error: "reason: a rejection needs a reason", draft: first.value.draft });
    expect((await client.threads.get(thread.thread_id)).status).toBe("interrupted");
    const state = await client.threads.getState(thread.thread_id);
    expect(state.next).toEqual(["human_review"]);
    expect((state.values as Values).review).toMatchObject({ status: "pending", error: "reason: a rejection needs a reason" });

    // A valid answer, by the id of the question asked again.
    const done = (await client.runs.wait(thread.thread_id, id, { command: { resume: { [asked.id]: { action: "approve" } } } })) as Values;
    expect(done, withLog(JSON.stringify(done).slice(0, 500))).not.toHaveProperty("__interrupt__");
    expect(done.review).toMatchObject({ status: "approved", decidedBy: "reviewer", error: null });
    expect(done.final).toBe((first.value.draft as Values).draft);
    expect((await client.threads.getState(thread.thread_id)).next).toEqual([]);
    expect((await client.threads.get(thread.thread_id)).status).toBe("idle");
  });
});

describe("re-deciding an answered review through the server", () => {
  it("re-opened with updateState as request_review, the new answer is applied and sent; a new answer at the old checkpoint replays the old decision", async () => {
    const id = assistantOf("multiIntentSupport").assistant_id;
    const thread = await client.threads.create();
    const input: Values = { ...exampleInput("multiIntentSupport"), reviewBeforeSend: true };
    await client.runs.wait(thread.thread_id, id, { input });
    const approved = (await client.runs.wait(thread.thread_id, id, { command: { resume: { action: "approve" } } })) as Values;
    expect(approved.sent, withLog(JSON.stringify(approved).slice(0, 500))).toMatchObject({ messageId: expect.any(String) });
    const history = await client.threads.getHistory(thread.thread_id, { limit: 50 });
    const checkpointId = history.find((s) => s.next.includes("human_review"))!.checkpoint.checkpoint_id!;

    // Re-open the review at that checkpoint, then answer it: the edit is applied and sent (a new decision).
    await client.threads.updateState(thread.thread_id, { values: { review: null }, asNode: "request_review", checkpointId });
    expect((await client.threads.getState(thread.thread_id)).next).toEqual(["human_review"]);
    const edited = "Dear Jane, a corrected reply.";
    const done = (await client.runs.wait(thread.thread_id, id, { command: { resume: { action: "edit", value: edited } } })) as Values;
    expect(done.review, withLog(JSON.stringify(done).slice(0, 500))).toMatchObject({ status: "edited", decidedBy: "reviewer" });
    expect(done.email).toBe(edited);
    expect((done.sent as Values).messageId).not.toBe((approved.sent as Values).messageId);

    // A new answer given at the old checkpoint: LangGraph replays the answer stored there (the approval),
    // and the send of that decision is not repeated (the server's one support desk issues no new id).
    const replayed = (await client.runs.wait(thread.thread_id, id, { checkpointId, command: { resume: { action: "reject", reason: "be shorter" } } })) as Values;
    expect(replayed.review).toMatchObject({ status: "approved", decisionId: (approved.review as Values).decisionId });
    expect(replayed.sent).toEqual(approved.sent);
  });
});

describe("bad input", () => {
  const supportRouting = () => assistantOf("supportRouting").assistant_id;

  async function expectNoQueryWritten(threadId: string): Promise<void> {
    const state = await client.threads.getState(threadId);
    expect(state.values ?? {}).not.toHaveProperty("query");
  }

  async function expectStillServing(): Promise<void> {
    const thread = await client.threads.create();
    const values = (await client.runs.wait(thread.thread_id, supportRouting(), { input: { query: "I was charged twice for my card" } })) as Values;
    expect(typeof values.response).toBe("string");
    expect(values.response).not.toBe("");
  }

  it("a query of the wrong type fails naming `query`, writes nothing, and the server keeps serving", async () => {
    const thread = await client.threads.create();
    const message = await failureOf(client.runs.wait(thread.thread_id, supportRouting(), { input: { query: 42 } }));
    expect(message).toMatch(/\bquery\b/);
    const state = await client.threads.getState(thread.thread_id);
    expect(state.values ?? {}).toEqual({});
    expect(state.next).toEqual([]);
    expect((await client.threads.get(thread.thread_id)).status).toBe("error");
    await expectStillServing();
  });

  // Sensible behaviour: a missing required field is rejected like a mistyped one,
  // before any node runs, with a message naming it.
  it("a missing query fails naming `query`, writes no query, and the server keeps serving", async () => {
    const thread = await client.threads.create();
    const message = await failureOf(client.runs.wait(thread.thread_id, supportRouting(), { input: {} }));
    await expectNoQueryWritten(thread.thread_id);
    await expectStillServing();
    expect(message, "the error for input {} does not name the missing field").toMatch(/\bquery\b/);
    const state = await client.threads.getState(thread.thread_id);
    const started = state.tasks.filter((t) => t.error);
    expect(started, "a node ran on input {} and crashed instead of the input being rejected").toEqual([]);
  });
});

describe("stopping the server", () => {
  it("ends the whole process group", async () => {
    const child = server!.process;
    const pgid = child.pid!;
    expect(groupAlive(pgid)).toBe(true);
    await stopServer();
    expect(child.exitCode !== null || child.signalCode !== null).toBe(true);
    const deadline = Date.now() + 5000;
    while (groupAlive(pgid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(groupAlive(pgid)).toBe(false);
    await expect(fetch(`${server!.url}/ok`)).rejects.toThrow();
  });
});
