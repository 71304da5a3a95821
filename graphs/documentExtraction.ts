/**
 * documentExtraction: document processing with a validation gate (the article *Workflow*,
 * "Example: Document Processing Workflow"): extract company names, dates and
 * amounts -> validate the extraction's completeness -> re-extract with
 * guidance naming what was missed (bounded) -> summarise the findings.
 *
 * Built on the evaluator-optimizer builder: the generator is the extractor,
 * the evaluator is a programmatic completeness check (the dates, amounts and
 * company names detectable in the document by pattern must all be in the
 * extraction), the loop stops when complete or after `maxAttempts`
 * extractions; the best extraction then goes to the summariser. An extraction
 * still incomplete at the bound is reported as such, with what is missing.
 */
import { StateSchema, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import { getChatModel } from "../src/models/factory.js";
import { tagged } from "../src/models/prompting.js";
import { invokeStructured } from "../src/models/structured.js";
import { buildEvaluatorOptimizer, evaluatorOptimizerFields } from "../src/patterns/workflow/evaluatorOptimizer.js";
import { defineWorkflow, inputSchema } from "../src/workflow.js";

/** Extractions allowed unless the input says otherwise: the first and one re-extraction (the article *Workflow*). */
export const DEFAULT_MAX_ATTEMPTS = 2;
/** A complete extraction's score; the loop stops there. */
export const COMPLETE_SCORE = 10;

export const Extraction = z.object({
  companies: z.array(z.string()).max(50).describe("Company and organisation names in the document"),
  dates: z.array(z.string()).max(50).describe("Dates in the document, as written"),
  amounts: z.array(z.string()).max(50).describe("Money amounts and percentages in the document, as written"),
});
export type Extraction = z.infer<typeof Extraction>;

const MONTH = "(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)";
/** Patterns the completeness check looks for. */
export const DETECTORS: Record<keyof Extraction, RegExp> = {
  dates: new RegExp(`\\b(?:\\d{4}-\\d{2}-\\d{2}|\\d{1,2}/\\d{1,2}/\\d{2,4}|${MONTH}\\.? \\d{1,2}(?:st|nd|rd|th)?,? \\d{4}|\\d{1,2} ${MONTH} \\d{4}|${MONTH} \\d{4})\\b`, "g"),
  amounts: /(?:[$€£]\s?\d[\d,]*(?:\.\d+)?(?:\s?(?:million|billion|thousand|[mbk]n?)\b)?|\b\d[\d,]*(?:\.\d+)?(?:\s?%|\s?(?:percent|USD|EUR|GBP|dollars|euros|pounds)\b))/gi,
  companies: /\b(?:[A-Z][\w&.-]*\s){0,3}(?:Inc|Ltd|LLC|Corp|Corporation|GmbH|plc|PLC|AG|SA|Group|Holdings|Company|Co)\b\.?/g,
};

/** Characters an extracted item may differ from a detected one by and still cover it. */
export const ITEM_SLACK = 12;

function normalise(s: string): string {
  return s.toLowerCase().replace(/[^\p{L}\p{N}%$€£.]+/gu, " ").replace(/\s+/g, " ").trim();
}

/** What the detectors find in `document` that `extraction` lacks, per field. */
export function missingItems(document: string, extraction: Extraction): Record<keyof Extraction, string[]> {
  const out = { companies: [] as string[], dates: [] as string[], amounts: [] as string[] };
  for (const field of Object.keys(DETECTORS) as Array<keyof Extraction>) {
    const have = extraction[field].map(normalise).filter(Boolean);
    for (const found of new Set(document.match(DETECTORS[field]) ?? [])) {
      const n = normalise(found);
      // An item covers a detected one when it is that item, give or take a few characters
      // ("$4.5 million" for "$4.5 million."), not when it is a whole sentence containing it.
      if (!have.some((h) => (h.includes(n) && h.length <= n.length + ITEM_SLACK) || (n.includes(h) && h.length >= n.length - ITEM_SLACK))) {
        out[field].push(found.trim());
      }
    }
  }
  return out;
}

const inputFields = {
  document: z.string().trim().min(1).max(500_000).describe("The document to process"),
  maxAttempts: z.number().int().min(1).max(5).default(DEFAULT_MAX_ATTEMPTS).describe("Most extractions (the first included)"),
};
const { threshold, maxIterations, ...loopFields } = evaluatorOptimizerFields;
const outputFields = {
  extraction: Extraction.nullable().default(null).describe("The best extraction"),
  complete: z.boolean().default(false).describe("Whether the best extraction passed the completeness check"),
  missing: z.array(z.string()).default(() => []).describe("What the check found missing from the best extraction"),
  attempts: loopFields.attempts,
  summary: z.string().default("").describe("The summary of the key findings"),
};

/** The input: checked whole (required fields too) by the facade, LangGraph and the server. */
export const DocumentInput = inputSchema(inputFields);
export const DocumentOutput = new StateSchema(outputFields);
export const DocumentState = new StateSchema({ ...inputFields, ...loopFields, threshold, maxIterations, ...outputFields });
export type DocumentState = typeof DocumentState.State;

export const EXTRACT_PROMPT = "Extract all company names, dates and amounts from the document.";
export const REEXTRACT_PROMPT = "Re-extract more carefully: you missed some items. Extract all company names, dates and amounts from the document.";

/** Generator: the extraction; after a failed check, a re-extraction guided by what was missed. */
export async function extractEntities(state: DocumentState, config: LangGraphRunnableConfig) {
  const parts =
    state.iteration === 0
      ? [EXTRACT_PROMPT, tagged("document", state.document)]
      : [REEXTRACT_PROMPT, tagged("document", state.document), tagged("guidance", state.feedback)];
  // The model's answer is kept as it is; the check then says what it missed.
  const extraction = await invokeStructured(getChatModel("default", config), Extraction, "Extraction", parts.join("\n\n"), config);
  return { draft: JSON.stringify(extraction), maxIterations: state.maxAttempts, threshold: COMPLETE_SCORE };
}

/** Evaluator: the completeness check (no model): score 10 when nothing detectable is missing. */
export async function validateExtraction(state: DocumentState) {
  const extraction = Extraction.parse(JSON.parse(state.draft));
  const missing = missingItems(state.document, extraction);
  const all = [...missing.companies, ...missing.dates, ...missing.amounts];
  const detected = Object.values(DETECTORS).reduce((n, re) => n + new Set(state.document.match(re) ?? []).size, 0);
  const score = all.length === 0 ? COMPLETE_SCORE : Math.max(1, Math.floor((COMPLETE_SCORE * (detected - all.length)) / Math.max(1, detected)));
  const feedback = all.length
    ? `You missed: ${[missing.companies.length ? `companies ${missing.companies.join("; ")}` : "", missing.dates.length ? `dates ${missing.dates.join("; ")}` : "", missing.amounts.length ? `amounts ${missing.amounts.join("; ")}` : ""].filter(Boolean).join(". ")}.`
    : "Complete.";
  return { score, feedback };
}

/** Summariser: the key findings of the best extraction. */
export async function summarizeFindings(state: DocumentState, config: LangGraphRunnableConfig) {
  const extraction = Extraction.parse(JSON.parse(state.final || state.draft));
  const missing = missingItems(state.document, extraction);
  const facts = [
    extraction.companies.length ? `Companies: ${extraction.companies.join(", ")}.` : "",
    extraction.dates.length ? `Dates: ${extraction.dates.join(", ")}.` : "",
    extraction.amounts.length ? `Amounts: ${extraction.amounts.join(", ")}.` : "",
  ].filter(Boolean);
  const answer = await getChatModel("default", config).invoke(
    ["Summarise the key findings of the document using the extracted entities.", tagged("document", state.document), tagged("entities", facts.join("\n"))].join("\n\n"),
    config,
  );
  const all = [...missing.companies, ...missing.dates, ...missing.amounts];
  return {
    extraction,
    complete: all.length === 0,
    missing: all,
    summary: answer.text,
  };
}

function buildGraph() {
  const graph: any = buildEvaluatorOptimizer<DocumentState>({
    state: DocumentState,
    input: DocumentInput,
    output: DocumentOutput,
    generate: extractEntities,
    evaluate: validateExtraction,
    then: "summarize",
  });
  graph.addNode("summarize", summarizeFindings);
  graph.addEdge("summarize", "__end__");
  return graph;
}

export const definition = defineWorkflow({
  name: "documentExtraction",
  description: "Document processing with a validation gate: extract -> check completeness -> re-extract with guidance (bounded) -> summarise",
  pattern: "prompt chaining + validation gate",
  input: DocumentInput,
  builder: buildGraph(),
  example: {
    document:
      "On March 3, 2024 Northwind Traders Inc. signed a supply agreement with Contoso Ltd. worth $4.5 million. The first delivery is due on 2024-06-30. Contoso expects margins of 12% in the first year.",
  },
});

export const graph = definition.graph;
