/**
 * faqGeneration: *LLM Workflow Patterns*'s FAQ pipeline as orchestrator-workers, in its two
 * variants. `generate_questions` writes N questions from the documents (one
 * structured call); then, for each question, one call answers it from the
 * documents and one call names the documents the answer came from.
 *
 * - `mode: "parallel"` (default): `Send` fans out one `answer_question` task
 *   per question, all in one superstep; each task answers, then finds the
 *   sources, in order. 1 + 2N calls, 3 deep.
 * - `mode: "sequential"`: the loop node `answer_next_question` does the same
 *   for question `nextQuestion` (the index in state), then the next, one
 *   superstep per question. 1 + 2N calls, 1 + 2N deep.
 *
 * Both write the same results channel and end in the same `collect_faq`, so
 * the output `{ faq: [{ question, answer, sources }] }` has the same shape
 * and, for a deterministic model, the same content. Sources are the titles of
 * given documents only: a title the model names that no document has is
 * dropped and reported in `droppedSources`, never kept or invented.
 *
 * Reported, not dropped: fewer questions than asked, duplicate questions, a
 * question whose model answer could not be parsed (`failed`), no questions at
 * all (an empty `faq` with a note). Invalid input (no documents, an empty
 * title or text, a repeated title, `questions` out of 1-20) is refused before
 * anything runs with an error naming the field.
 */
import { StateSchema, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import { getChatModel } from "../src/models/factory.js";
import { tagged } from "../src/models/prompting.js";
import { invokeStructured } from "../src/models/structured.js";
import { indexedResults } from "../src/patterns/core/fanOut.js";
import { buildOrchestratorWorkers } from "../src/patterns/workflow/orchestratorWorkers.js";
import { StructuredOutputError } from "../src/runtime/errors.js";
import { defineWorkflow, inputSchema } from "../src/workflow.js";

/** Questions generated unless the input says otherwise (*LLM Workflow Patterns* times N = 4). */
export const DEFAULT_QUESTIONS = 4;
/**
 * Most questions a run may ask for. The sequential variant takes one superstep
 * per question (plus `generate_questions` and `collect_faq`): 22 supersteps at
 * 20, inside LangGraph's default recursion limit of 25.
 */
export const MAX_QUESTIONS = 20;
/** Most documents, and most characters in all of them (every answer and sources call carries them all). */
export const MAX_DOCUMENTS = 50;
export const MAX_TOTAL_CHARS = 1_000_000;

/** A source document: sources are cited by its title. */
export const FaqDocument = z.object({
  title: z.string().trim().min(1, "a document needs a non-empty title").max(300).describe("The document's title; answers cite documents by it"),
  content: z.string().trim().min(1, "a document needs non-empty text").max(500_000).describe("The document's text"),
});
export type FaqDocument = z.infer<typeof FaqDocument>;

/** One FAQ entry: the same shape in both modes. */
export const FaqEntry = z.object({
  question: z.string(),
  answer: z.string(),
  sources: z.array(z.string()).describe("Titles of the given documents the answer draws on"),
});
export type FaqEntry = z.infer<typeof FaqEntry>;

/** What one question's worker returns (in both modes). */
export const QuestionResult = z.object({
  question: z.string(),
  answer: z.string(),
  sources: z.array(z.string()),
  /** Titles the model named that are not titles of the given documents. */
  dropped: z.array(z.string()),
  /** Why the model's answer for this question could not be used; null when it could. */
  error: z.string().nullable(),
});
export type QuestionResult = z.infer<typeof QuestionResult>;

const documentList = z
  .array(FaqDocument)
  .min(1, "give at least one document")
  .max(MAX_DOCUMENTS)
  .superRefine((docs, ctx) => {
    const seen = new Map<string, number>();
    let total = 0;
    docs.forEach((doc, i) => {
      total += doc.content.length;
      const key = doc.title.toLowerCase();
      const first = seen.get(key);
      if (first !== undefined) ctx.addIssue({ code: "custom", path: [i, "title"], message: `repeats the title of document ${first} ("${doc.title}"); titles identify sources and must differ` });
      else seen.set(key, i);
    });
    if (total > MAX_TOTAL_CHARS) ctx.addIssue({ code: "custom", path: [], message: `the documents have ${total} characters in all; at most ${MAX_TOTAL_CHARS}` });
  });

const inputFields = {
  documents: documentList.describe("The source documents: [{ title, content }], at least one, titles distinct"),
  questions: z.number().int().min(1).max(MAX_QUESTIONS).default(DEFAULT_QUESTIONS).describe(`How many questions to generate (1-${MAX_QUESTIONS})`),
  mode: z.enum(["parallel", "sequential"]).default("parallel").describe("parallel: one Send branch per question; sequential: one question after another"),
  maxConcurrency: z.number().int().min(1).max(MAX_QUESTIONS).optional().describe("parallel mode: at most this many questions at once (default: all)"),
};
const outputFields = {
  faq: z.array(FaqEntry).default(() => []).describe("The FAQ, in the order the questions were generated"),
  droppedSources: z
    .array(z.object({ question: z.string(), title: z.string() }))
    .default(() => [])
    .describe("Titles the model named as sources that no given document has (dropped from the FAQ)"),
  failed: z
    .array(z.object({ question: z.string(), error: z.string() }))
    .default(() => [])
    .describe("Questions left out of the FAQ because the model's answer could not be used"),
  notes: z.array(z.string()).default(() => []).describe("What else happened: fewer or repeated questions, no questions"),
};

/**
 * The input `{ documents: [{ title, content }], questions?, mode?, maxConcurrency? }`:
 * checked whole (required fields too) by the facade, LangGraph and the server.
 */
export const FaqInput = inputSchema(inputFields);
/** The output, the same in both modes: `{ faq, droppedSources, failed, notes }`. */
export const FaqOutput = new StateSchema(outputFields);
/** The whole state: input, output, the generated questions, the sequential index and the workers' results. */
export const FaqState = new StateSchema({
  ...inputFields,
  ...outputFields,
  generatedQuestions: z.array(z.string()).default(() => []).describe("The questions generate_questions wrote"),
  nextQuestion: z.number().int().default(0).describe("sequential mode: index of the next question to answer"),
  answered: indexedResults(QuestionResult),
});
export type FaqState = typeof FaqState.State;

/** *LLM Workflow Patterns*'s prompts (step 1: questions), with the question count and the titles made explicit. */
export const GENERATE_QUESTIONS_PROMPT =
  "Based on the documents below, write {n} relevant and distinct questions that a user of these documents might ask. Each question must be answerable from the documents alone.";
/** *LLM Workflow Patterns*'s step 2: answer one question from the documents only. */
export const ANSWER_PROMPT =
  "Using ONLY the provided content below, answer the following question. The answer should be concise and directly address the question.";
/** *LLM Workflow Patterns*'s step 3: the documents the answer came from, followed by the list of titles. */
export const FIND_SOURCES_PROMPT =
  "You will be given a question and an answer that was generated from a set of documents. Identify which of the documents were used to create the answer. Name them by their titles, exactly as in this list, and name no other:";

/** The documents as *LLM Workflow Patterns* gives them to the model: `Source Title: …` then `Content: …`. */
export function combinedContent(documents: readonly FaqDocument[]): string {
  return documents.map((d) => `Source Title: ${d.title}\nContent: ${d.content}`).join("\n\n");
}

function titleList(documents: readonly FaqDocument[]): string {
  return documents.map((d) => `- ${d.title}`).join("\n");
}

/**
 * The questions as kept: trimmed, whitespace collapsed, empty and repeated
 * ones (ignoring case) removed, at most `n`; with notes on what was changed.
 */
export function cleanQuestions(raw: readonly string[], n: number): { questions: string[]; notes: string[] } {
  const seen = new Set<string>();
  const distinct: string[] = [];
  let removed = 0;
  for (const q of raw) {
    const clean = q.replace(/\s+/g, " ").trim();
    const key = clean.toLowerCase();
    if (!clean || seen.has(key)) {
      removed++;
      continue;
    }
    seen.add(key);
    distinct.push(clean);
  }
  const notes: string[] = [];
  if (removed) notes.push(`${removed} empty or repeated question(s) from the model removed`);
  if (distinct.length > n) notes.push(`the model wrote ${distinct.length} distinct questions; the first ${n} are kept`);
  if (distinct.length < n) notes.push(`${n} questions asked for, the model wrote ${distinct.length} distinct ones`);
  return { questions: distinct.slice(0, n), notes };
}

/**
 * Splits the titles a model named into titles of the given documents (in the
 * documents' spelling, each once, in the order named) and the rest. A title
 * matches ignoring case and repeated spaces.
 */
export function validateSources(named: readonly string[], documents: readonly FaqDocument[]): { sources: string[]; dropped: string[] } {
  const norm = (t: string) => t.replace(/\s+/g, " ").trim().toLowerCase();
  const byKey = new Map(documents.map((d) => [norm(d.title), d.title]));
  const sources: string[] = [];
  const dropped: string[] = [];
  for (const title of named) {
    const known = byKey.get(norm(title));
    if (known) {
      if (!sources.includes(known)) sources.push(known);
    } else if (title.trim() && !dropped.includes(title.trim())) dropped.push(title.trim());
  }
  return { sources, dropped };
}

/** Orchestrator (*LLM Workflow Patterns* step 1): N questions from the documents, one structured call. */
export async function generateQuestions(state: FaqState, config: LangGraphRunnableConfig) {
  const n = state.questions;
  // The JSON schema the model sees asks for exactly n; the parse accepts any count, which cleanQuestions reports.
  const QuestionList = z.object({
    questions: z.array(z.string()).meta({ description: `Exactly ${n} distinct questions, each a complete question ending with "?"`, minItems: n, maxItems: n }),
  });
  const out = await invokeStructured(
    getChatModel("default", config),
    QuestionList,
    "QuestionList",
    [
      GENERATE_QUESTIONS_PROMPT.replace("{n}", String(n)),
      tagged("document_titles", state.documents.map((d) => d.title).join("\n")),
      tagged("provided_content", combinedContent(state.documents)),
    ].join("\n\n"),
    config,
  );
  const { questions, notes } = cleanQuestions(out.questions, n);
  if (questions.length === 0) notes.push("the model wrote no questions: the FAQ is empty");
  return { generatedQuestions: questions, notes, faq: [], droppedSources: [], failed: [] };
}

/** *LLM Workflow Patterns* step 2: a concise answer to one question from the documents only. */
export async function answerQuestion(question: string, documents: readonly FaqDocument[], config: LangGraphRunnableConfig): Promise<string> {
  const answer = await getChatModel("default", config).invoke(
    [ANSWER_PROMPT, tagged("question", question), tagged("provided_content", combinedContent(documents))].join("\n\n"),
    config,
  );
  return answer.text.trim();
}

/**
 * *LLM Workflow Patterns* step 3: the documents the answer came from. The model is shown the
 * titles and asked for them exactly; the JSON schema offers each title as an
 * option, and what comes back is checked against the documents
 * ({@link validateSources}): other titles are returned in `dropped`.
 */
export async function findSources(
  question: string,
  answer: string,
  documents: readonly FaqDocument[],
  config: LangGraphRunnableConfig,
): Promise<{ sources: string[]; dropped: string[] }> {
  const titles = documents.map((d) => d.title) as [string, ...string[]];
  const SourceList = z.object({
    sources: z
      .array(z.union([z.enum(titles).describe("A title from the list"), z.string()]))
      .meta({ description: "Titles of the documents used to create the answer", maxItems: titles.length }),
  });
  const out = await invokeStructured(
    getChatModel("default", config),
    SourceList,
    "SourceList",
    [
      `${FIND_SOURCES_PROMPT}\n${titleList(documents)}`,
      tagged("question", question),
      tagged("answer", answer),
      tagged("provided_content", combinedContent(documents)),
    ].join("\n\n"),
    config,
  );
  return validateSources(out.sources, documents);
}

/**
 * The worker, the same in both modes: answer one question, then find its
 * sources (two calls, in order). A model answer that cannot be parsed
 * ({@link StructuredOutputError}) is reported in the result's `error`; other
 * errors (network, configuration) propagate to the node's retry policy.
 */
export async function answerAndSource(
  question: string,
  _index: number,
  context: { documents: FaqDocument[] },
  config: LangGraphRunnableConfig,
): Promise<QuestionResult> {
  try {
    const answer = await answerQuestion(question, context.documents, config);
    const { sources, dropped } = await findSources(question, answer, context.documents, config);
    return { question, answer, sources, dropped, error: null };
  } catch (error) {
    if (!(error instanceof StructuredOutputError)) throw error;
    return { question, answer: "", sources: [], dropped: [], error: error.message };
  }
}

/** Synthesizer: the FAQ in question order, with the dropped titles and the failures reported. */
export function collectFaq(state: FaqState, results: QuestionResult[]) {
  const faq: FaqEntry[] = [];
  const droppedSources: Array<{ question: string; title: string }> = [];
  const failed: Array<{ question: string; error: string }> = [];
  for (const r of results) {
    if (r.error !== null) {
      failed.push({ question: r.question, error: r.error });
      continue;
    }
    faq.push({ question: r.question, answer: r.answer, sources: r.sources });
    for (const title of r.dropped) droppedSources.push({ question: r.question, title });
  }
  const notes = [...state.notes];
  if (droppedSources.length) notes.push(`${droppedSources.length} source title(s) named by the model are not titles of the documents: dropped (see droppedSources)`);
  if (failed.length) notes.push(`${failed.length} question(s) left out: the model's answer could not be used (see failed)`);
  const unanswered = faq.filter((e) => !e.answer).length;
  if (unanswered) notes.push(`${unanswered} question(s) got an empty answer`);
  return { faq, droppedSources, failed, notes };
}

/** The workflow's registration: name, description, pattern, input schema, graph and example. */
export const definition = defineWorkflow({
  name: "faqGeneration",
  description: "Orchestrator-workers: N questions from documents, then answer + sources per question, in parallel (Send) or in sequence",
  pattern: "orchestrator-workers",
  input: FaqInput,
  builder: buildOrchestratorWorkers<FaqState, string, { documents: FaqDocument[] }, QuestionResult>({
    state: FaqState,
    input: FaqInput,
    output: FaqOutput,
    orchestrator: { name: "generate_questions", run: generateQuestions },
    subtasks: (s) => s.generatedQuestions,
    context: (s) => ({ documents: s.documents }),
    worker: { name: "answer_question", run: answerAndSource },
    resultsKey: "answered",
    synthesizer: { name: "collect_faq", run: (s, results) => collectFaq(s, results) },
    maxConcurrency: (s) => s.maxConcurrency,
    sequential: { name: "answer_next_question", when: (s) => s.mode === "sequential", indexKey: "nextQuestion" },
  }),
  example: {
    documents: [
      {
        title: "Sessions",
        content:
          "A Session object persists cookies and some parameters across requests. It reuses the underlying TCP connection when requests go to the same host, which can make them noticeably faster. Method-level parameters are not persisted across requests.",
      },
      {
        title: "Timeouts",
        content:
          "Requests does not time out unless a timeout is set explicitly. The connect timeout is how long to wait for a connection to the server. The read timeout is how long to wait for the server to send a response.",
      },
    ],
    questions: 2,
  },
});

/** The compiled graph (no checkpointer), for `langgraph.json`. */
export const graph = definition.graph;
