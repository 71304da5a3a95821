import { BaseChatModel, type BindToolsInput } from "@langchain/core/language_models/chat_models";
import { AIMessageChunk, type BaseMessage } from "@langchain/core/messages";
import type { ChatResult } from "@langchain/core/outputs";
import { convertToOpenAITool } from "@langchain/core/utils/function_calling";
import { describe, expect, it } from "vitest";
import {
  answerAndSource,
  answerQuestion,
  cleanQuestions,
  collectFaq,
  definition,
  FaqInput,
  findSources,
  generateQuestions,
  validateSources,
  type FaqDocument,
  type FaqState,
} from "../../graphs/faqGeneration.js";
import { SimulatedChatModel } from "../../src/models/simulated.js";
import { parseInput } from "../../src/runtime/errors.js";

const graph = definition.graph;

const DOCS: FaqDocument[] = [
  {
    title: "Sessions",
    content:
      "A Session object persists cookies across requests. Sessions reuse the TCP connection to the same host, which makes repeated requests faster. Method-level parameters are not persisted across requests.",
  },
  {
    title: "Timeouts",
    content:
      "Requests do not time out unless a timeout is set. The connect timeout is how long to wait for a connection. The read timeout is how long to wait for the server to send a response.",
  },
  {
    title: "Authentication",
    content: "Basic authentication takes a user name and a password. Custom authentication classes subclass AuthBase.",
  },
];
const TITLES = DOCS.map((d) => d.title);
const sentencesOf = (text: string) => [...new Intl.Segmenter("en", { granularity: "sentence" }).segment(text)].map((s) => s.segment.trim());

/**
 * A scripted chat model: structured calls (a forced tool) get `tools[name](prompt)`,
 * free-text calls get `text(prompt)`. What the offline model cannot be made to do:
 * invent titles, repeat questions, answer garbage.
 */
class ScriptedModel extends BaseChatModel<any, AIMessageChunk> {
  constructor(private readonly script: { tools: Record<string, (prompt: string) => unknown>; text?: (prompt: string) => string }) {
    super({});
  }
  _llmType() {
    return "scripted";
  }
  override bindTools(tools: BindToolsInput[], kwargs?: Record<string, unknown>) {
    return this.withConfig({ ...kwargs, tools: tools.map((t) => convertToOpenAITool(t)) } as any) as any;
  }
  async _generate(messages: BaseMessage[], options: any): Promise<ChatResult> {
    const prompt = messages.map((m) => String(m.content)).join("\n");
    const tool = options.tools?.[0]?.function?.name as string | undefined;
    const message = tool
      ? new AIMessageChunk({ content: "", tool_calls: [{ name: tool, args: this.script.tools[tool](prompt) as Record<string, unknown>, id: `call_${tool}`, type: "tool_call" }] })
      : new AIMessageChunk({ content: this.script.text?.(prompt) ?? "An answer." });
    return { generations: [{ text: typeof message.content === "string" ? message.content : "", message }] };
  }
}

/**
 * A scripted model that counts the calls in flight at once, without timing anything:
 * each free-text (answer) call waits until `width` of them are waiting, then all go on
 * together. A run that never has `width` answers in flight at once is released by a
 * safety timer instead (and then shows a smaller `maxInFlight`), so a wrong
 * implementation fails the assertion rather than hanging.
 */
class GatedModel extends ScriptedModel {
  calls = 0;
  inFlight = 0;
  maxInFlight = 0;
  private waiting: Array<() => void> = [];
  private safety: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly width: number) {
    super({
      tools: {
        QuestionList: () => ({ questions: ["What is a session?", "When do requests time out?", "What is the read timeout?", "How does basic authentication work?"] }),
        SourceList: () => ({ sources: ["Sessions"] }),
      },
      text: (prompt) => `The answer to: ${prompt.match(/<question>\s*([^<]*?)\s*<\/question>/)?.[1]}`,
    });
  }

  private releaseAll() {
    clearTimeout(this.safety);
    const waiting = this.waiting;
    this.waiting = [];
    for (const release of waiting) release();
  }

  private gate(): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      if (this.waiting.length >= this.width) this.releaseAll();
      else {
        clearTimeout(this.safety);
        this.safety = setTimeout(() => this.releaseAll(), 2000);
      }
    });
  }

  override async _generate(messages: BaseMessage[], options: any): Promise<ChatResult> {
    this.calls += 1;
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (!options.tools?.length) await this.gate();
      // Leave the call in flight for one more turn of the event loop, so that calls
      // started in the same superstep are seen overlapping even when they are not held.
      await new Promise((resolve) => setImmediate(resolve));
      return await super._generate(messages, options);
    } finally {
      this.inFlight -= 1;
    }
  }
}

const withModel = (model: BaseChatModel) => ({ configurable: { modelOverride: model } });

function state(over: Partial<FaqState> = {}): FaqState {
  return {
    documents: DOCS, questions: 3, mode: "parallel", maxConcurrency: undefined, faq: [], droppedSources: [], failed: [], notes: [],
    generatedQuestions: [], nextQuestion: 0, answered: [], ...over,
  } as FaqState;
}

/** Node names in the order the run's supersteps wrote them. */
async function nodesRun(input: Record<string, unknown>, config: Record<string, unknown> = {}): Promise<string[]> {
  const nodes: string[] = [];
  for await (const chunk of await graph.stream(input, { ...config, streamMode: "updates" })) nodes.push(...Object.keys(chunk));
  return nodes;
}

describe("faqGeneration: nodes", () => {
  it("generate_questions asks for N questions and keeps N", async () => {
    const out = await generateQuestions(state({ questions: 3 }), {});
    expect(out.generatedQuestions).toHaveLength(3);
    expect(new Set(out.generatedQuestions).size).toBe(3);
    expect(out.notes).toEqual([]);
  });

  it("cleanQuestions removes empty and repeated questions and reports a shortfall or excess", () => {
    expect(cleanQuestions(["What is a session?", " what is a  SESSION? ", "", "How long is the timeout?"], 3)).toEqual({
      questions: ["What is a session?", "How long is the timeout?"],
      notes: ["2 empty or repeated question(s) from the model removed", "3 questions asked for, the model wrote 2 distinct ones"],
    });
    expect(cleanQuestions(["A?", "B?", "C?"], 2)).toEqual({ questions: ["A?", "B?"], notes: ["the model wrote 3 distinct questions; the first 2 are kept"] });
  });

  it("answer_question answers from the documents only (offline: the sentences on the question's topic)", async () => {
    const answer = await answerQuestion("How long does the read timeout wait?", DOCS, {});
    expect(answer).toContain("The read timeout is how long to wait for the server to send a response.");
    expect(answer).not.toContain("cookies");
  });

  it("find_sources returns titles of the given documents only (offline)", async () => {
    const { sources, dropped } = await findSources("What does a session keep?", "A Session object persists cookies across requests.", DOCS, {});
    expect(sources.length).toBeGreaterThan(0);
    for (const s of sources) expect(TITLES).toContain(s);
    expect(dropped).toEqual([]);
  });

  it("validateSources keeps known titles in the documents' spelling, once, and drops the rest", () => {
    expect(validateSources(["timeouts", "Sessions", "Made-up Guide", " sessions ", "Made-up Guide", ""], DOCS)).toEqual({
      sources: ["Timeouts", "Sessions"],
      dropped: ["Made-up Guide"],
    });
  });

  it("find_sources drops and reports a title the model invents", async () => {
    const model = new ScriptedModel({ tools: { SourceList: () => ({ sources: ["Timeouts", "The Requests Book", "authentication"] }) } });
    expect(await findSources("q", "a", DOCS, withModel(model))).toEqual({ sources: ["Timeouts", "Authentication"], dropped: ["The Requests Book"] });
  });

  it("the worker answers, then finds sources; an unusable model answer is reported, not thrown", async () => {
    const ok = await answerAndSource("How long does the read timeout wait?", 0, { documents: DOCS }, {});
    expect(ok.error).toBeNull();
    expect(ok.answer.length).toBeGreaterThan(0);
    const garbage = new ScriptedModel({ tools: { SourceList: () => ({ sources: "not a list" }) } });
    const bad = await answerAndSource("q?", 0, { documents: DOCS }, withModel(garbage));
    expect(bad).toMatchObject({ question: "q?", answer: "", sources: [], error: expect.stringMatching(/SourceList.*sources/) });
  });

  it("collect_faq keeps question order and reports dropped titles and failures", () => {
    const out = collectFaq(state({ notes: ["earlier note"] }), [
      { question: "Q1?", answer: "A1", sources: ["Sessions"], dropped: ["Nope"], error: null },
      { question: "Q2?", answer: "", sources: [], dropped: [], error: "bad answer" },
      { question: "Q3?", answer: "A3", sources: [], dropped: [], error: null },
    ]);
    expect(out.faq).toEqual([
      { question: "Q1?", answer: "A1", sources: ["Sessions"] },
      { question: "Q3?", answer: "A3", sources: [] },
    ]);
    expect(out.droppedSources).toEqual([{ question: "Q1?", title: "Nope" }]);
    expect(out.failed).toEqual([{ question: "Q2?", error: "bad answer" }]);
    expect(out.notes[0]).toBe("earlier note");
    expect(out.notes).toHaveLength(3);
  });
});

describe("faqGeneration: end to end", () => {
  it("gives the same output, in the same shape, in both modes", async () => {
    const parallel = await graph.invoke({ documents: DOCS, questions: 3, mode: "parallel" });
    const sequential = await graph.invoke({ documents: DOCS, questions: 3, mode: "sequential" });
    expect(Object.keys(parallel).sort()).toEqual(["droppedSources", "failed", "faq", "notes"]);
    expect(sequential).toEqual(parallel);
    expect(parallel.faq).toHaveLength(3);
    expect(new Set(parallel.faq.map((e: { question: string }) => e.question)).size).toBe(3);
    expect(parallel).toMatchObject({ droppedSources: [], failed: [], notes: [] });
    for (const entry of parallel.faq) {
      expect(Object.keys(entry).sort()).toEqual(["answer", "question", "sources"]);
      // Offline answers are extractive: sentences of the documents. The sources name
      // given titles only, and at least one document the answer quotes.
      const quoted = DOCS.filter((d) => sentencesOf(d.content).some((s) => entry.answer.includes(s))).map((d) => d.title);
      expect(quoted.length).toBeGreaterThan(0);
      for (const s of entry.sources) expect(TITLES).toContain(s);
      expect(entry.sources.some((s: string) => quoted.includes(s))).toBe(true);
    }
  });

  it("parallel fans out one answer_question per question in one superstep; sequential loops answer_next_question", async () => {
    expect(await nodesRun({ documents: DOCS, questions: 3 })).toEqual([
      "generate_questions",
      "answer_question",
      "answer_question",
      "answer_question",
      "collect_faq",
    ]);
    expect(await nodesRun({ documents: DOCS, questions: 3, mode: "sequential" })).toEqual([
      "generate_questions",
      "answer_next_question",
      "answer_next_question",
      "answer_next_question",
      "collect_faq",
    ]);
  });

  it("makes 1 + 2N calls in both modes; parallel has the N answer calls in flight at once, sequential one at a time", async () => {
    const run = async (mode: string, width: number) => {
      const model = new GatedModel(width);
      const out = await graph.invoke({ documents: DOCS, questions: 4, mode }, withModel(model));
      return { calls: model.calls, maxInFlight: model.maxInFlight, out };
    };
    const sequential = await run("sequential", 1);
    const parallel = await run("parallel", 4);
    expect(sequential.calls).toBe(9);
    expect(parallel.calls).toBe(9);
    expect(parallel.out.faq).toHaveLength(4);
    expect(parallel.out).toEqual(sequential.out);
    expect(sequential.maxInFlight).toBe(1);
    expect(parallel.maxInFlight).toBe(4);
  });

  it("maxConcurrency 1 still answers every question", async () => {
    const out = await graph.invoke({ documents: DOCS, questions: 3, maxConcurrency: 1 });
    expect(out.faq).toHaveLength(3);
  });

  it("answers a single question (N = 1) in both modes", async () => {
    for (const mode of ["parallel", "sequential"]) {
      const out = await graph.invoke({ documents: [DOCS[0]], questions: 1, mode });
      expect(out.faq).toHaveLength(1);
      expect(out.faq[0].sources).toEqual(out.faq[0].sources.length ? ["Sessions"] : []);
    }
  });

  it("runs 20 questions in sequence inside LangGraph's default recursion limit", async () => {
    const model = new SimulatedChatModel({ meanMs: 0, content: "fixed" });
    const out = await graph.invoke({ documents: DOCS, questions: 20, mode: "sequential" }, withModel(model));
    expect(out.faq).toHaveLength(20);
    expect(model.stats.calls).toBe(41);
  });

  it("reports no questions, repeated questions and invented titles instead of dropping them silently", async () => {
    const none = new ScriptedModel({ tools: { QuestionList: () => ({ questions: [] }) } });
    for (const mode of ["parallel", "sequential"]) {
      const out = await graph.invoke({ documents: DOCS, questions: 3, mode }, withModel(none));
      expect(out.faq).toEqual([]);
      expect(out.notes).toEqual(["3 questions asked for, the model wrote 0 distinct ones", "the model wrote no questions: the FAQ is empty"]);
    }
    const sloppy = new ScriptedModel({
      tools: {
        QuestionList: () => ({ questions: ["What is a session?", "what is a session?", "When do requests time out?"] }),
        SourceList: (prompt) => ({ sources: prompt.includes("session?") ? ["Sessions", "Cookies 101"] : ["timeouts"] }),
      },
    });
    for (const mode of ["parallel", "sequential"]) {
      const out = await graph.invoke({ documents: DOCS, questions: 3, mode }, withModel(sloppy));
      expect(out.faq.map((e: { question: string; sources: string[] }) => [e.question, e.sources])).toEqual([
        ["What is a session?", ["Sessions"]],
        ["When do requests time out?", ["Timeouts"]],
      ]);
      expect(out.droppedSources).toEqual([{ question: "What is a session?", title: "Cookies 101" }]);
      expect(out.notes).toEqual([
        "1 empty or repeated question(s) from the model removed",
        "3 questions asked for, the model wrote 2 distinct ones",
        "1 source title(s) named by the model are not titles of the documents: dropped (see droppedSources)",
      ]);
    }
  });
});

describe("faqGeneration: input", () => {
  const parse = (input: unknown) => parseInput("faqGeneration", FaqInput, input);

  it("refuses missing, empty or blank documents, naming the field", () => {
    expect(() => parse({})).toThrow(/documents: /);
    expect(() => parse({ documents: [] })).toThrow(/documents: give at least one document/);
    expect(() => parse({ documents: [{ title: "A", content: "   " }] })).toThrow(/documents\.0\.content: a document needs non-empty text/);
    expect(() => parse({ documents: [{ title: "", content: "x" }] })).toThrow(/documents\.0\.title: a document needs a non-empty title/);
    expect(() => parse({ documents: [{ title: "A" }] })).toThrow(/documents\.0\.content/);
  });

  it("refuses repeated titles (they identify sources)", () => {
    expect(() => parse({ documents: [DOCS[0], { title: "sessions", content: "x" }] })).toThrow(/documents\.1\.title: repeats the title of document 0/);
  });

  it("allows 1 to 20 questions, 4 by default, and the two modes", () => {
    expect(parse({ documents: DOCS })).toMatchObject({ questions: 4, mode: "parallel" });
    expect(parse({ documents: DOCS, questions: 1 }).questions).toBe(1);
    expect(() => parse({ documents: DOCS, questions: 0 })).toThrow(/questions: /);
    expect(() => parse({ documents: DOCS, questions: 21 })).toThrow(/questions: /);
    expect(() => parse({ documents: DOCS, questions: 2.5 })).toThrow(/questions: /);
    expect(() => parse({ documents: DOCS, mode: "batch" })).toThrow(/mode: /);
  });

  it("the graph itself refuses bad input before any node runs", async () => {
    await expect(graph.invoke({ documents: [] })).rejects.toThrow(/documents/);
    await expect(graph.invoke({ documents: DOCS, questions: 0 })).rejects.toThrow(/questions/);
  });
});
