/**
 * The FAQ workflow of *LLM Workflow Patterns*, for section 3 of the benchmarks: generate N
 * questions from the sources, then for each question answer it and find the
 * sources of the answer; sequential and parallel, as LangGraph workflows built
 * with the project's pattern builders and as plain async code.
 *
 * - sequential: a prompt chain (`buildPromptChain`) `generate_questions` ->
 *   `answer_questions`, the second step answering one question after the
 *   other (the source's `sequential_workflow` for loop): 1 + 2N calls in sequence;
 * - parallel: orchestrator-workers (`buildOrchestratorWorkers`)
 *   `generate_questions` -> one `answer_question` Send task per question
 *   (answer, then sources) -> `assemble`: 3 calls deep (the source's
 *   `parallel_workflow` with `asyncio.gather`).
 *
 * It lives in bench/ until the project has a faqGeneration workflow of its own.
 *
 * @module
 */
import { StateSchema, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import { getChatModel } from "../src/models/factory.js";
import { tagged } from "../src/models/prompting.js";
import { invokeStructured } from "../src/models/structured.js";
import { chainFields, buildPromptChain } from "../src/patterns/workflow/promptChain.js";
import { indexedResults } from "../src/patterns/core/fanOut.js";
import { buildOrchestratorWorkers } from "../src/patterns/workflow/orchestratorWorkers.js";
import { defineWorkflow, inputSchema } from "../src/workflow.js";

/** The source's three (mock) web pages. */
export const FAQ_SOURCES = [
  { title: "The Benefits of Solar Energy", content: "Content about environmental and economic benefits of solar power..." },
  { title: "Understanding Wind Turbines", content: "Content about how wind turbines work, and their challenges like intermittency..." },
  { title: "Energy Storage Solutions", content: "Content about the importance of energy storage like batteries for renewables..." },
];

/** The sources as one text, as the source combines them. */
export const FAQ_CONTENT = FAQ_SOURCES.map((s) => `Source Title: ${s.title}\nContent: ${s.content}`).join("\n\n");

export const Faq = z.object({
  question: z.string().describe("The question to be answered"),
  answer: z.string().describe("The answer to the question"),
  sources: z.array(z.string()).describe("The sources used to answer the question"),
});
export type Faq = z.infer<typeof Faq>;

const SourceList = z.object({ sources: z.array(z.string()).describe("A list of source titles that were used to answer the question") });

/** Step 1: N questions about the content (structured output; exactly N). */
export async function generateQuestions(content: string, n: number, config: LangGraphRunnableConfig): Promise<string[]> {
  const QuestionList = z.object({ questions: z.array(z.string()).min(n).max(n).describe("A list of questions") });
  const prompt = `Based on the content below, generate a list of ${n} relevant and distinct questions that a user might have.\n\n${tagged("provided_content", content)}`;
  return (await invokeStructured(getChatModel("default", config), QuestionList, "QuestionList", prompt, config)).questions;
}

/** Step 2: the answer to one question, from the content only. */
export async function answerQuestion(question: string, content: string, config: LangGraphRunnableConfig): Promise<string> {
  const prompt = [
    "Using ONLY the provided content below, answer the following question.\nThe answer should be concise and directly address the question.",
    tagged("question", question),
    tagged("provided_content", content),
  ].join("\n\n");
  const answer = await getChatModel("default", config).invoke(prompt, config);
  return typeof answer.content === "string" ? answer.content : JSON.stringify(answer.content);
}

/** Step 3: the source titles an answer was made from. */
export async function findSources(question: string, answer: string, content: string, config: LangGraphRunnableConfig): Promise<string[]> {
  const prompt = [
    "You will be given a question and an answer that was generated from a set of documents.\nYour task is to identify which of the original documents were used to create the answer.",
    tagged("question", question),
    tagged("answer", answer),
    tagged("provided_content", content),
  ].join("\n\n");
  return (await invokeStructured(getChatModel("default", config), SourceList, "SourceList", prompt, config)).sources;
}

/** Steps 2 and 3 for one question (the source's `process_question_parallel`). */
export async function processQuestion(question: string, content: string, config: LangGraphRunnableConfig): Promise<Faq> {
  const answer = await answerQuestion(question, content, config);
  const sources = await findSources(question, answer, content, config);
  return { question, answer, sources };
}

const inputFields = {
  content: z.string().min(1).describe("The source content"),
  nQuestions: z.number().int().min(1).max(1_000).describe("How many questions to generate"),
};
export const FaqInput = inputSchema(inputFields);
const FaqOutput = new StateSchema({ faqs: z.array(Faq).default(() => []) });

const SequentialState = new StateSchema({ ...inputFields, questions: z.array(z.string()).default(() => []), faqs: z.array(Faq).default(() => []), ...chainFields });
type SequentialState = typeof SequentialState.State;

const ParallelState = new StateSchema({
  ...inputFields,
  questions: z.array(z.string()).default(() => []),
  faqs: z.array(Faq).default(() => []),
  answered: indexedResults(Faq),
});
type ParallelState = typeof ParallelState.State;

/** Sequential FAQ workflow: 1 + 2N calls one after the other. */
export const sequentialFaq = defineWorkflow({
  name: "faqSequential",
  description: "FAQ generation (*LLM Workflow Patterns*), sequential: questions, then answer and sources for one question after the other",
  pattern: "prompt chaining",
  input: FaqInput,
  builder: buildPromptChain<SequentialState>({
    state: SequentialState,
    input: FaqInput,
    output: FaqOutput,
    steps: [
      { name: "generate_questions", run: async (s, config) => ({ questions: await generateQuestions(s.content, s.nQuestions, config) }) },
      {
        name: "answer_questions",
        run: async (s, config) => {
          const faqs: Faq[] = [];
          for (const question of s.questions) faqs.push(await processQuestion(question, s.content, config));
          return { faqs };
        },
      },
    ],
  }),
  example: { content: FAQ_CONTENT, nQuestions: 4 },
});

/** Parallel FAQ workflow: questions, then one Send task per question, 3 calls deep. */
export const parallelFaq = defineWorkflow({
  name: "faqParallel",
  description: "FAQ generation (*LLM Workflow Patterns*), parallel: questions, then answer and sources of every question at once (Send)",
  pattern: "orchestrator-workers",
  input: FaqInput,
  builder: buildOrchestratorWorkers<ParallelState, string, { content: string }, Faq>({
    state: ParallelState,
    input: FaqInput,
    output: FaqOutput,
    orchestrator: { name: "generate_questions", run: async (s, config) => ({ questions: await generateQuestions(s.content, s.nQuestions, config) }) },
    subtasks: (s) => s.questions,
    context: (s) => ({ content: s.content }),
    worker: { name: "answer_question", run: (question, _index, context, config) => processQuestion(question, context.content, config) },
    resultsKey: "answered",
    synthesizer: { name: "assemble", run: (_s, faqs) => ({ faqs }) },
  }),
  example: { content: FAQ_CONTENT, nQuestions: 4 },
});

/** The source's `sequential_workflow` as plain async code. */
export async function sequentialFaqPlain(content: string, n: number, config: LangGraphRunnableConfig): Promise<Faq[]> {
  const questions = await generateQuestions(content, n, config);
  const faqs: Faq[] = [];
  for (const question of questions) faqs.push(await processQuestion(question, content, config));
  return faqs;
}

/** The source's `parallel_workflow` (asyncio.gather) as plain async code. */
export async function parallelFaqPlain(content: string, n: number, config: LangGraphRunnableConfig): Promise<Faq[]> {
  const questions = await generateQuestions(content, n, config);
  return Promise.all(questions.map((question) => processQuestion(question, content, config)));
}
