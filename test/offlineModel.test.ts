import { describe, expect, it, vi } from "vitest";
import { HumanMessage, SystemMessage } from "@langchain/core/messages";
import { z } from "zod";
import { OfflineChatModel } from "../src/models/offline/model.js";
import { fillSchema, NO_MATCH_CONFIDENCE } from "../src/models/offline/fill.js";
import { readPrompt } from "../src/models/offline/prompt.js";
import { compose, NO_MATERIAL_ANSWER } from "../src/models/offline/compose.js";
import { countTokens, sentences } from "../src/runtime/text.js";
import { StructuredOutputError } from "../src/runtime/errors.js";

const model = new OfflineChatModel();
const ROUTER_SYSTEM = [
  "Classify the user's query into one of:",
  "- billing: charges, fees, refunds, payments",
  "- technical: errors, crashes, login, PIN",
  "- general: anything else, opening hours, information",
].join("\n");
const Route = z.object({
  category: z.enum(["billing", "technical", "general"]),
  confidence: z.number().min(0).max(1),
});

async function route(query: string) {
  return model.withStructuredOutput(Route).invoke([new SystemMessage(ROUTER_SYSTEM), new HumanMessage(`<user_query>${query}</user_query>`)]);
}

describe("OfflineChatModel", () => {
  it("is a chat model whose answer is the same for the same input", async () => {
    const prompt = "Summarise briefly. <topic>cats</topic><notes>Cats sleep a lot. Cats purr. Dogs bark.</notes>";
    const a = await model.invoke(prompt);
    const b = await new OfflineChatModel().invoke(prompt);
    expect(a.content).toBe(b.content);
    expect(a.content).toContain("Cats sleep a lot.");
    expect(a.content).not.toContain("Dogs bark");
  });

  it("answers from the material, and says so when there is none", async () => {
    const empty = await model.invoke("Answer the question. <question>What is the capital?</question><documents> </documents>");
    expect(empty.content).toBe(NO_MATERIAL_ANSWER);
    // With only the request given, the request is the material.
    expect(compose(readPrompt([new HumanMessage("Create an outline for the topic. <topic>Solar power</topic>")]))).toBe("- Solar power"); // "outline for" asks for a list
    expect(compose(readPrompt([new HumanMessage("   ")]))).toBe(NO_MATERIAL_ANSWER);
  });

  it("reports usage metadata counted with the tokenizer", async () => {
    const answer = await model.invoke("Repeat. <text>hello world</text>");
    expect(answer.usage_metadata?.input_tokens).toBe(countTokens("Repeat. <text>hello world</text>"));
    expect(answer.usage_metadata?.output_tokens).toBe(countTokens(String(answer.content)));
    expect(answer.usage_metadata?.total_tokens).toBe((answer.usage_metadata?.input_tokens ?? 0) + (answer.usage_metadata?.output_tokens ?? 0));
  });

  it("streams the same text as invoke, in several chunks, with usage on the stream", async () => {
    const prompt = "Write it out. <notes>One two three. Four five six. Seven eight nine.</notes>";
    const full = await model.invoke(prompt);
    const chunks: string[] = [];
    let usage = 0;
    for await (const chunk of await model.stream(prompt)) {
      chunks.push(String(chunk.content));
      usage += chunk.usage_metadata?.output_tokens ?? 0;
    }
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.join("")).toBe(full.content);
    expect(usage).toBe(full.usage_metadata?.output_tokens);
  });

  it("chooses enum options by how well the input matches each option's definition", async () => {
    expect((await route("I was charged a fee twice")).category).toBe("billing");
    expect((await route("The app crashes at login")).category).toBe("technical");
    expect((await route("What are your opening hours?")).category).toBe("general");
  });

  it("derives confidence from the margin of the decision, inside the schema's bounds", async () => {
    const clear = await route("refund the fees and charges on my payment");
    const none = await route("zzz qqq");
    expect(clear.confidence).toBeGreaterThan(0.7);
    expect(clear.confidence).toBeLessThanOrEqual(1);
    expect(none.confidence).toBe(NO_MATCH_CONFIDENCE);
  });

  it("keeps numbers in bounds, lists within min/max items, and strings extractive", async () => {
    const Schema = z.object({
      score: z.number().int().min(1).max(10),
      points: z.array(z.string()).min(1).max(2),
      summary: z.string().max(40),
      invoice_number: z.string(),
    });
    const out = await model
      .withStructuredOutput(Schema)
      .invoke("Assess. <task>Explain sessions and cookies</task><draft>Sessions keep cookies. Invoice INV-20931 was paid. Timeouts matter a lot.</draft>");
    expect(out.score).toBeGreaterThanOrEqual(1);
    expect(out.score).toBeLessThanOrEqual(10);
    expect(out.points.length).toBeGreaterThanOrEqual(1);
    expect(out.points.length).toBeLessThanOrEqual(2);
    for (const p of out.points) expect("Sessions keep cookies. Invoice INV-20931 was paid. Timeouts matter a lot.").toContain(p);
    expect(out.summary.length).toBeLessThanOrEqual(40);
    expect(out.invoice_number).toBe("INV-20931");
  });

  it("scores higher the more of the task the draft covers, and names what is missing", async () => {
    const Evaluation = z.object({ score: z.number().int().min(1).max(10), feedback: z.string() });
    const judge = (draft: string) =>
      model.withStructuredOutput(Evaluation).invoke(`Score it. <task>Explain sessions, cookies and timeouts</task><draft>${draft}</draft>`);
    const partial = await judge("Sessions exist.");
    const full = await judge("Sessions keep cookies. Timeouts stop hangs. This explains them.");
    expect(full.score).toBeGreaterThan(partial.score);
    expect(partial.feedback).toMatch(/cookies/);
    expect(partial.feedback).toMatch(/timeouts/);
  });

  it("splits a one-sentence request into clauses when a list needs several items", () => {
    const schema = z.toJSONSchema(z.object({ subtasks: z.array(z.string()).min(1).max(5) })) as any;
    const out = fillSchema(schema, readPrompt([new HumanMessage("<task>Compare sessions, authentication and timeouts</task>")])) as { subtasks: string[] };
    expect(out.subtasks).toEqual(["Compare sessions", "authentication", "timeouts"]);
  });

  it("fills arrays of objects one item per sentence", async () => {
    const Schema = z.object({ tasks: z.array(z.object({ kind: z.enum(["billing", "shipping"]), text: z.string() })).max(5) });
    const out = await model
      .withStructuredOutput(Schema)
      .invoke("Split the message.\n- billing: invoice, charge, refund\n- shipping: delivery, parcel, order status\n<message>Where is my parcel? My invoice has a wrong charge.</message>");
    expect(out.tasks.map((t) => t.kind)).toEqual(["shipping", "billing"]);
  });

  it("validates structured answers against the zod schema", async () => {
    const Impossible = z.object({ label: z.string().refine((s) => s === "never", "must be never") });
    await expect(model.withStructuredOutput(Impossible, { name: "Impossible" }).invoke("<text>anything</text>")).rejects.toBeInstanceOf(
      StructuredOutputError,
    );
  });

  it("binds tools and answers with a tool call of the first tool", async () => {
    const bound = model.bindTools([{ type: "function", function: { name: "lookup", description: "Look up", parameters: { type: "object", properties: { order_id: { type: "string" } }, required: ["order_id"] } } }]);
    const message = await bound.invoke("<text>Where is order 12345678?</text>");
    expect(message.tool_calls?.[0]).toMatchObject({ name: "lookup", args: { order_id: "12345678" } });
  });

  it("reads an option's definition as whole sentences: e.g. does not end it", async () => {
    const Kind = z.object({ category: z.enum(["technical", "billing"]), confidence: z.number().min(0).max(1) });
    const system = "Classify the query into one of:\n- technical: errors, crashes, login problems\n- billing: card charges, e.g. refunds and chargebacks";
    const answer = await model.withStructuredOutput(Kind).invoke([new SystemMessage(system), new HumanMessage("<user_query>Where are my refunds?</user_query>")]);
    expect(answer.category).toBe("billing");
    expect(answer.confidence).toBeGreaterThan(NO_MATCH_CONFIDENCE);
  });

  it("does not cut an extract after Mr. or Dr.", async () => {
    const answer = await model.invoke(
      "Summarize briefly. <text>The estate passed to Mr. Collins after the death of Mr. Bennet. Dr. Phillips attended him in his last illness. The daughters moved to Meryton.</text>",
    );
    const text = String(answer.content);
    expect(text).toContain("Mr. Collins after the death of Mr. Bennet.");
    expect(text).not.toMatch(/(?:^|\s)(?:Mr|Dr)\.$/);
    expect(sentences(text).every((s) => /[.!?]$/.test(s))).toBe(true);
  });

  it("lets the event loop run while it answers from 1 MB of material (counted turns of the loop)", async () => {
    const paragraph =
      "The keeper of the light at Saltmere wrote to the harbour council in Greyport about the cracked lens. The council replied that the money had gone to the new quay. ";
    const material = paragraph.repeat(Math.ceil(1_000_000 / paragraph.length));
    let turns = 0;
    let running = true;
    const tick = () => {
      turns++;
      if (running) setImmediate(tick);
    };
    setImmediate(tick);
    const started = performance.now();
    const answer = await model.invoke(`Summarize the notes about the lens. <topic>the lens</topic><notes>${material}</notes>`);
    const elapsedMs = performance.now() - started;
    running = false;
    expect(String(answer.content)).toContain("cracked lens");
    expect(answer.usage_metadata?.input_tokens).toBe(countTokens(`Summarize the notes about the lens. <topic>the lens</topic><notes>${material}</notes>`));
    // Synchronous text work gives 0-1 turns. In slices of 10 ms the loop turns
    // about once per slice, however fast the machine: at least once per 40 ms
    // of the answer (a quarter of the slices, for GC pauses and a busy CI), and
    // more than a handful in all. A ratio of counts to the run's own length, so
    // a faster machine (fewer slices) does not fail it.
    expect(turns).toBeGreaterThan(5);
    expect(turns).toBeGreaterThanOrEqual(Math.floor(elapsedMs / (4 * 10)));
  }, 120_000);

  it("still answers when the caller's test fakes the timers", async () => {
    vi.useFakeTimers();
    try {
      const material = "The lens cracked in the storm. The council refused the money. ".repeat(2_000);
      const answer = await model.invoke(`Summarize the notes. <topic>the lens</topic><notes>${material}</notes>`);
      expect(String(answer.content)).toContain("The lens cracked in the storm.");
    } finally {
      vi.useRealTimers();
    }
  });

  it("joins wrapped lines of a paragraph into one sentence", () => {
    expect(sentences("This sentence wraps\nonto a second line. Next one.\n\n- item one\n- item two")).toEqual([
      "This sentence wraps onto a second line.",
      "Next one.",
      "item one",
      "item two",
    ]);
  });
});
