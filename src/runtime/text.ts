/**
 * Text primitives of the offline model and the map-reduce: sentence and word
 * segmentation from the platform's `Intl.Segmenter` (ICU), stop words from
 * `stopword`, Porter stems from `stemmer`, and token counts from `js-tiktoken`
 * with the o200k_base encoding bundled in the package (no download).
 *
 * Long text work (hundreds of kilobytes) is written as generators that
 * `yield` at points where it may pause; {@link runToEnd} runs one at once and
 * {@link EventLoopSlicer} runs it in slices, letting the event loop turn in
 * between (so that a server running it keeps answering).
 *
 * @module
 */
import { performance } from "node:perf_hooks";
import { setImmediate as nextTurn } from "node:timers/promises";
import { stemmer } from "stemmer";
import { eng } from "stopword";
import { Tiktoken } from "js-tiktoken/lite";
import o200kBase from "js-tiktoken/ranks/o200k_base";

const sentenceSegmenter = new Intl.Segmenter("en", { granularity: "sentence" });
const wordSegmenter = new Intl.Segmenter("en", { granularity: "word" });

/**
 * Characters given to `Intl.Segmenter` at once. V8's segment iterator is
 * quadratic in the length of the string it walks (measured on Node 20.20: by
 * words, 50 KB of prose in 0.6 s and 200 KB in 50 s; by sentences, 200 KB in
 * 2-5 s), so {@link wordSegments} and {@link sentenceSegments} walk a long
 * text in windows of this size (1 MB by words in about 0.9 s).
 */
export const SEGMENT_WINDOW_CHARS = 1_000;
/** How far past {@link SEGMENT_WINDOW_CHARS} a window may grow to end at a good place. */
const WINDOW_SLACK = 200;
const LETTER = /\p{L}/u;
const SPACE = /\s/;

/** One segment of a text, with its offset in the whole text. */
interface Segment {
  segment: string;
  index: number;
  isWordLike?: boolean;
}

/**
 * The word segments of `text` (`Intl.Segmenter`, granularity `word`), walked
 * in windows of about {@link SEGMENT_WINDOW_CHARS} that end before a space
 * (a word boundary in any case), so the segments are those of the whole text.
 */
function* wordSegments(text: string): Generator<Segment, void, void> {
  let pos = 0;
  while (pos < text.length) {
    let end = Math.min(text.length, pos + SEGMENT_WINDOW_CHARS);
    const limit = Math.min(text.length, end + WINDOW_SLACK);
    while (end < limit && !SPACE.test(text[end])) end++;
    if (end < text.length && /[\uD800-\uDBFF]/.test(text[end - 1])) end++; // never between the halves of a surrogate pair
    for (const { segment, index, isWordLike } of wordSegmenter.segment(text.slice(pos, end))) yield { segment, index: pos + index, isWordLike };
    pos = end;
  }
}

/**
 * The sentence segments of `text` (`Intl.Segmenter`, granularity
 * `sentence`), walked in windows of about {@link SEGMENT_WINDOW_CHARS}. A
 * window ends after a letter (where ICU's look-ahead past a full stop stops)
 * and its last segment, which the window may have cut, is walked again at
 * the start of the next window; a sentence longer than a window doubles it.
 */
function* sentenceSegments(text: string): Generator<Segment, void, void> {
  let pos = 0;
  let size = SEGMENT_WINDOW_CHARS;
  while (pos < text.length) {
    let end = Math.min(text.length, pos + size);
    const limit = Math.min(text.length, end + WINDOW_SLACK);
    while (end < limit && !LETTER.test(text[end - 1])) end++;
    const slice = text.slice(pos, end);
    const segments = Array.from(sentenceSegmenter.segment(slice));
    const final = end === text.length;
    const keep = final ? segments.length : segments.length - 1;
    if (keep <= 0) {
      size *= 2;
      continue;
    }
    for (let i = 0; i < keep; i++) yield { segment: segments[i].segment, index: pos + segments[i].index };
    pos += final ? slice.length : segments[keep].index;
    size = SEGMENT_WINDOW_CHARS;
  }
}
const STOP_WORDS = new Set<string>(eng);
let encoder: Tiktoken | undefined;

/**
 * Number of o200k_base tokens in `text` (the encoding of gpt-4o and
 * gpt-4o-mini). A long text is encoded in pieces (see
 * {@link countTokensInSteps}; same count, and about twice as fast on 1 MB).
 * The first call in a process builds the encoder (about 0.8 s).
 */
export function countTokens(text: string): number {
  return runToEnd(countTokensInSteps(text));
}

function encodedLength(text: string): number {
  if (!text) return 0;
  encoder ??= new Tiktoken(o200kBase);
  return encoder.encode(text, "all").length;
}

/** Characters of text handled between two pause points of the generators below. */
export const PAUSE_EVERY_CHARS = 8_000;

/**
 * {@link countTokens} in pieces of about {@link PAUSE_EVERY_CHARS}
 * characters, pausing (`yield`) after each. A text is cut only before a
 * space that follows a non-space and precedes a letter: o200k_base's
 * pre-tokenizer starts a piece there in any case, so the sum is the count of
 * the whole text.
 */
export function* countTokensInSteps(text: string): Generator<void, number, void> {
  let total = 0;
  let from = 0;
  while (text.length - from > PAUSE_EVERY_CHARS) {
    let cut = text.indexOf(" ", from + PAUSE_EVERY_CHARS);
    while (cut > 0 && !(/\S/.test(text[cut - 1]) && /\p{L}/u.test(text[cut + 1] ?? ""))) cut = text.indexOf(" ", cut + 1);
    if (cut < 0) break;
    total += encodedLength(text.slice(from, cut));
    from = cut;
    yield;
  }
  return total + encodedLength(text.slice(from));
}

/** Runs a generator of text work to its end at once (its pause points ignored) and returns its value. */
export function runToEnd<T>(steps: Generator<void, T, void>): T {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * Runs CPU-bound text work in slices of about `sliceMs` milliseconds,
 * letting the event loop turn (timers, I/O, other requests) between slices.
 *
 * Node 20 has no `scheduler.yield()`; this is the project's equivalent (own
 * code: LangGraph has nothing for CPU-bound nodes). Waiting one
 * `setImmediate` per pause is not enough on its own: when N tasks of a
 * fan-out pause together, all N resume in the same turn of the loop and each
 * runs its next slice before the loop can poll for I/O. So the slicer keeps
 * one clock for everything it runs: the first task to resume in a turn gets
 * the slice, the others wait for a later turn. One slicer is shared by the
 * work it schedules (the offline model keeps one per instance); it holds only
 * timing, never data, so it does not change any result.
 */
export class EventLoopSlicer {
  /** When the current slice began (`performance.now()`, ms). */
  private sliceStart = -Infinity;
  /** Whether a turn marker (which starts a new slice) is queued. */
  private markerQueued = false;

  /**
   * @param sliceMs - Longest stretch of work between two turns of the event loop (ms, default 10).
   * @param now - The clock (ms; default `performance.now`; tests give a fake one).
   */
  constructor(
    readonly sliceMs = 10,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Whether the current slice is spent. */
  get due(): boolean {
    return this.now() - this.sliceStart >= this.sliceMs;
  }

  /** Waits for a later turn of the event loop, then until this slicer gives the caller a slice. */
  async pause(): Promise<void> {
    do {
      if (!this.markerQueued) {
        this.markerQueued = true;
        // The same timer as the wait below (node:timers/promises, which fake timers leave alone), queued first so it runs first.
        void nextTurn().then(() => {
          this.markerQueued = false;
          this.sliceStart = this.now();
        });
      }
      await nextTurn();
    } while (this.due);
  }

  /** Runs `steps`, pausing at its pause points whenever the slice is spent; returns its value. */
  async run<T>(steps: Generator<void, T, void>): Promise<T> {
    if (this.due) await this.pause();
    for (;;) {
      const step = steps.next();
      if (step.done) return step.value;
      if (this.due) await this.pause();
    }
  }
}

const LIST_ITEM = /^\s*(?:[-*•]|\d+[.)])\s+/;

/**
 * Abbreviations that do not end a sentence (lower case, without their final
 * full stop): titles before a name, Latin and reference abbreviations before
 * what they introduce. ICU can suppress breaks after abbreviations itself
 * (CLDR's "standard" suppressions, locale key `ss`), but V8's
 * `Intl.Segmenter` does not pass that key on: on Node 20.20 (ICU 78.2)
 * `"Mr. Darcy came."` splits after "Mr.", and `"en-u-ss-standard"` changes
 * nothing. So {@link splitSentences} applies this list on top. Words that
 * often do end a sentence ("etc.", "Inc.", "Ltd.", "Co.", "Jr.", "no.",
 * "a.m.") are left out: there a break is the better guess.
 */
export const NON_TERMINAL_ABBREVIATIONS: ReadonlySet<string> = new Set([
  // titles and ranks before a name
  "mr", "mrs", "ms", "messrs", "mme", "mlle", "dr", "prof", "rev", "hon", "fr", "st", "mt", "ft",
  "capt", "col", "gen", "lt", "sgt", "maj", "cmdr", "adm", "gov", "sen", "rep", "pres", "supt", "insp",
  // Latin and reference abbreviations before what they introduce
  "e.g", "i.e", "cf", "vs", "viz", "approx", "ca", "fig", "figs", "eq", "vol", "ch", "sec", "pp", "nr",
  // countries written with stops, usually before a noun ("U.S. Army")
  "u.s", "u.k",
]);

/** The last word of a sentence segment, lower case, without its final stop and opening brackets or quotes; undefined unless it ends with a stop. */
function finalAbbreviation(segment: string): string | undefined {
  const m = /(?:^|\s)[(\["'“‘]*([\p{L}.]+)\.\s*$/u.exec(segment);
  return m?.[1];
}

/** Whether a sentence segment ends with a word after which the full stop is not a sentence end. */
function endsWithoutSentenceEnd(segment: string): boolean {
  const word = finalAbbreviation(segment);
  if (!word) return false;
  // A single capital is an initial ("J. K. Rowling", "George W. Bush").
  return NON_TERMINAL_ABBREVIATIONS.has(word.toLowerCase()) || /^\p{Lu}$/u.test(word);
}

/**
 * Splits one run of text into trimmed, non-empty sentences with
 * `Intl.Segmenter` (granularity `sentence`, ICU's rules: decimals such as
 * "3.5", "..." and closing quotes are handled there), then joins a segment
 * that ends with one of {@link NON_TERMINAL_ABBREVIATIONS} or an initial to
 * the next ("Mr. Darcy", "e.g. Paris", "J. K. Rowling"). Line ends count as
 * sentence ends (ICU's rule); see {@link sentences} for wrapped text.
 */
export function splitSentences(text: string): string[] {
  const out: string[] = [];
  runToEnd(segmentSentences(text, out));
  return out;
}

/** {@link splitSentences} into `out`, pausing (`yield`) every {@link PAUSE_EVERY_CHARS} characters. */
function* segmentSentences(text: string, out: string[]): Generator<void, void, void> {
  let pending = "";
  let mark = 0;
  for (const { segment, index } of sentenceSegments(text)) {
    pending += segment;
    if (/\n/.test(segment) || !endsWithoutSentenceEnd(segment)) {
      const s = pending.trim();
      if (s) out.push(s);
      pending = "";
    }
    if (index - mark >= PAUSE_EVERY_CHARS) {
      mark = index;
      yield;
    }
  }
  const rest = pending.trim();
  if (rest) out.push(rest);
}

/**
 * Splits text into trimmed, non-empty sentences ({@link splitSentences}).
 * Paragraphs (separated by blank lines) have their wrapped lines joined
 * first; list items (`- x`, `1. x`) count as sentences of their own. Linear
 * in the length of the text.
 */
export function sentences(text: string): string[] {
  return runToEnd(sentencesInSteps(text));
}

/** {@link sentences} as a generator that pauses (`yield`) every {@link PAUSE_EVERY_CHARS} characters. */
export function* sentencesInSteps(text: string): Generator<void, string[], void> {
  const out: string[] = [];
  let read = 0;
  for (const block of text.split(/\n\s*\n/)) {
    const units: string[] = [];
    for (const line of block.split("\n")) {
      if (LIST_ITEM.test(line) || units.length === 0) units.push(line.replace(LIST_ITEM, ""));
      else units[units.length - 1] += ` ${line.trim()}`;
    }
    for (const unit of units) {
      const clean = unit.replace(/\s+/g, " ").trim();
      if (clean) yield* segmentSentences(clean, out);
      read += unit.length;
      if (read >= PAUSE_EVERY_CHARS) {
        read = 0;
        yield;
      }
    }
  }
  return out;
}

/** The words of `text` in order, as written (no punctuation). */
export function surfaceWords(text: string): string[] {
  const out: string[] = [];
  for (const { segment, isWordLike } of wordSegments(text)) if (isWordLike) out.push(segment);
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

/** {@link termSet} as a generator that pauses (`yield`) every {@link PAUSE_EVERY_CHARS} characters. */
export function* termSetInSteps(text: string): Generator<void, Set<string>, void> {
  const out = new Set<string>();
  let mark = 0;
  for (const { segment, index, isWordLike } of wordSegments(text)) {
    if (isWordLike) {
      const s = stemOf(segment);
      if (s) out.add(s);
    }
    if (index - mark >= PAUSE_EVERY_CHARS) {
      mark = index;
      yield;
    }
  }
  return out;
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
