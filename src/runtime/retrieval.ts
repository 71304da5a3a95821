/**
 * Retrieval over a small local knowledge base: documents are split into
 * passages with `@langchain/textsplitters` and ranked for a query with Okapi
 * BM25 (`okapibm25`) over stemmed content words. No embeddings, no network.
 *
 * @module
 */
import { RecursiveCharacterTextSplitter } from "@langchain/textsplitters";
import okapi from "okapibm25";
import { terms } from "./text.js";

// okapibm25 is CommonJS with `exports.default`: under ESM the function is on `.default`.
const BM25 = ((okapi as unknown as { default?: typeof okapi }).default ?? okapi) as unknown as (documents: string[], keywords: string[]) => number[];

/** A document of the knowledge base. */
export interface KnowledgeDocument {
  title: string;
  content: string;
}

/** A passage found for a query. */
export interface Passage {
  /** Title of the document it comes from. */
  title: string;
  text: string;
  /** BM25 score (higher is more relevant). */
  score: number;
}

/** Passage size in characters. */
export const PASSAGE_CHARS = 800;
/** Overlap between passages in characters. */
export const PASSAGE_OVERLAP = 100;

/**
 * The `k` passages of `documents` most relevant to `query` (BM25 over stems),
 * best first; passages that share no term with the query are left out.
 */
export async function retrieve(query: string, documents: readonly KnowledgeDocument[], k = 4): Promise<Passage[]> {
  const splitter = new RecursiveCharacterTextSplitter({ chunkSize: PASSAGE_CHARS, chunkOverlap: PASSAGE_OVERLAP });
  const passages: Array<{ title: string; text: string }> = [];
  for (const doc of documents) {
    for (const text of await splitter.splitText(doc.content)) passages.push({ title: doc.title, text });
  }
  const keywords = [...new Set(terms(query))];
  if (passages.length === 0 || keywords.length === 0) return [];
  // BM25 works on raw strings: give it the stems, space-separated and padded so that whole words match.
  const corpus = passages.map((p) => ` ${terms(`${p.title} ${p.text}`).join(" ")} `);
  const scores = BM25(corpus, keywords.map((k) => ` ${k} `));
  return passages
    .map((p, i) => ({ ...p, score: scores[i] }))
    .filter((p) => p.score > 0)
    .sort((a, b) => b.score - a.score)
    .slice(0, k);
}
