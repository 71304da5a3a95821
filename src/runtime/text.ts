/**
 * Text primitives of the offline model: sentence and word segmentation from the
 * platform's `Intl.Segmenter` (ICU), stop words from `stopword`, Porter stems
 * from `stemmer`, and token counts from `js-tiktoken` with the o200k_base
 * encoding bundled in the package (no download).
 *
 * @module
 */
import { stemmer } from "stemmer";
import { eng } from "stopword";
import { Tiktoken } from "js-tiktoken/lite";
import o200kBase from "js-tiktoken/ranks/o200k_base";

const sentenceSegmenter = new Intl.Segmenter("en", { granularity: "sentence" });
const wordSegmenter = new Intl.Segmenter("en", { granularity: "word" });
const STOP_WORDS = new Set<string>(eng);
let encoder: Tiktoken | undefined;

/** Number of o200k_base tokens in `text` (the encoding of gpt-4o and gpt-4o-mini). */
export function countTokens(text: string): number {
  if (!text) return 0;
  encoder ??= new Tiktoken(o200kBase);
  return encoder.encode(text, "all").length;
}

const LIST_ITEM = /^\s*(?:[-*•]|\d+[.)])\s+/;

/**
 * Splits text into trimmed, non-empty sentences. Paragraphs (separated by blank
 * lines) have their wrapped lines joined first; list items (`- x`, `1. x`)
 * count as sentences of their own.
 */
export function sentences(text: string): string[] {
  const out: string[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const units: string[] = [];
    for (const line of block.split("\n")) {
      if (LIST_ITEM.test(line) || units.length === 0) units.push(line.replace(LIST_ITEM, ""));
      else units[units.length - 1] += ` ${line.trim()}`;
    }
    for (const unit of units) {
      const clean = unit.replace(/\s+/g, " ").trim();
      if (!clean) continue;
      for (const { segment } of sentenceSegmenter.segment(clean)) {
        const s = segment.trim();
        if (s) out.push(s);
      }
    }
  }
  return out;
}

/** The words of `text` in order, as written (no punctuation). */
export function surfaceWords(text: string): string[] {
  const out: string[] = [];
  for (const { segment, isWordLike } of wordSegmenter.segment(text)) if (isWordLike) out.push(segment);
  return out;
}

/** Stem of one word, lower-cased; undefined for stop words and one-letter words. */
export function stemOf(word: string): string | undefined {
  const lower = word.toLowerCase();
  if (lower.length < 2 || STOP_WORDS.has(lower)) return undefined;
  return /^[a-z]+$/.test(lower) ? stemmer(lower) : lower;
}

/** Content-word stems of `text`, in order, with repeats. */
export function terms(text: string): string[] {
  const out: string[] = [];
  for (const w of surfaceWords(text)) {
    const s = stemOf(w);
    if (s) out.push(s);
  }
  return out;
}

/** Distinct content-word stems of `text`. */
export function termSet(text: string): Set<string> {
  return new Set(terms(text));
}

/**
 * Splits one sentence into clauses at `;`, `,` and the conjunctions `and`/`or`,
 * keeping clauses of at least two words: how the offline model turns "X, Y and Z"
 * into a list.
 */
export function clauses(text: string): string[] {
  return text
    .split(/\s*(?:;|,|\band\b|\bor\b|\bthen\b)\s*/i)
    .map((c) => c.replace(/[.?!:]+$/, "").trim())
    .filter((c) => surfaceWords(c).length >= 1);
}

/** Truncates to at most `max` characters on a word boundary. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max);
  const space = cut.lastIndexOf(" ");
  return (space > max / 2 ? cut.slice(0, space) : cut).trim();
}
