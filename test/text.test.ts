/** Text primitives: sentence splitting (Intl.Segmenter plus the abbreviation list), token counts in pieces, and the event-loop slicer. */
import { afterEach, describe, expect, it, vi } from "vitest";
import { Tiktoken } from "js-tiktoken/lite";
import o200kBase from "js-tiktoken/ranks/o200k_base";
import {
  countTokens,
  countTokensInSteps,
  EventLoopSlicer,
  NON_TERMINAL_ABBREVIATIONS,
  PAUSE_EVERY_CHARS,
  runToEnd,
  SEGMENT_WINDOW_CHARS,
  sentences,
  sentencesInSteps,
  splitSentences,
  surfaceWords,
} from "../src/runtime/text.js";

afterEach(() => {
  vi.restoreAllMocks();
});

/** A long paragraph (no line ends) of varied sentences, about `n` × 75 characters. */
function paragraph(n: number): string {
  const kinds = [
    (i: number) => `Mr. Bennet wrote letter number ${i} to his cousin, e.g. about the entail.`,
    (i: number) => `Did Dr. Jones really charge $${i}.50 for the visit?`,
    (i: number) => `“Stop,” she said. (It was ${i} o'clock...) naïve café owners agreed!`,
    (i: number) => `The estate, i.e. Longbourn, yields ${i * 1000} pounds a year vs. Netherfield's five.`,
  ];
  return Array.from({ length: n }, (_, i) => kinds[i % kinds.length](i)).join(" ");
}

describe("sentences", () => {
  it("does not end a sentence at Mr., Mrs., Dr. or St. before a name", () => {
    expect(sentences("I met Mr. Darcy at the ball. He was rude.")).toEqual(["I met Mr. Darcy at the ball.", "He was rude."]);
    expect(sentences("Mrs. Bennet called Dr. Jones. St. Paul's was full.")).toEqual(["Mrs. Bennet called Dr. Jones.", "St. Paul's was full."]);
    expect(sentences("They spoke of (Mr. Bingley) all evening. Then they left.")).toEqual(["They spoke of (Mr. Bingley) all evening.", "Then they left."]);
  });

  it("does not end a sentence at e.g., i.e., vs. or an initial", () => {
    expect(sentences("Some cities, e.g. Paris, are old. Others are new.")).toEqual(["Some cities, e.g. Paris, are old.", "Others are new."]);
    expect(sentences("Use a timeout, i.e. Always set one. Done.")).toEqual(["Use a timeout, i.e. Always set one.", "Done."]);
    expect(sentences("It was Kramer vs. Kramer. A film.")).toEqual(["It was Kramer vs. Kramer.", "A film."]);
    expect(sentences("J. K. Rowling wrote it. George W. Bush read it.")).toEqual(["J. K. Rowling wrote it.", "George W. Bush read it."]);
  });

  it("keeps decimals and amounts inside a sentence", () => {
    expect(sentences("The lens weighed 3.5 kg. It cost $1,200.50 in 1821. Nobody paid.")).toEqual([
      "The lens weighed 3.5 kg.",
      "It cost $1,200.50 in 1821.",
      "Nobody paid.",
    ]);
  });

  it("still ends sentences at ordinary full stops, question and exclamation marks, and after etc.", () => {
    expect(sentences("He left. She stayed! Did they meet? Bring pens, paper etc. Then go.")).toEqual([
      "He left.",
      "She stayed!",
      "Did they meet?",
      "Bring pens, paper etc.",
      "Then go.",
    ]);
  });

  it("joins an abbreviation across a wrapped line, but not across a paragraph break", () => {
    expect(sentences("the excellent character of Mr.\nDarcy was known. Next.")).toEqual(["the excellent character of Mr. Darcy was known.", "Next."]);
    expect(sentences("A letter from Mr.\n\nDarcy came.")).toEqual(["A letter from Mr.", "Darcy came."]);
  });

  it("splitSentences treats a line end as a sentence end", () => {
    expect(splitSentences("first line\nsecond line. Mr. Smith came.")).toEqual(["first line", "second line.", "Mr. Smith came."]);
  });

  it("matches abbreviations whatever their case (the list is lower case)", () => {
    for (const a of NON_TERMINAL_ABBREVIATIONS) expect(a).toBe(a.toLowerCase());
    expect(sentences("MR. DARCY CAME. HE LEFT.")).toEqual(["MR. DARCY CAME.", "HE LEFT."]);
  });

  it("sentencesInSteps gives the same sentences and pauses on a long text", () => {
    const text = Array.from({ length: 2_000 }, (_, i) => `Sentence ${i} was written by Mr. Smith, e.g. on paper.`).join(" ");
    const steps = sentencesInSteps(text);
    let pauses = 0;
    let step = steps.next();
    while (!step.done) {
      pauses++;
      step = steps.next();
    }
    expect(step.value).toEqual(sentences(text));
    expect(step.value).toHaveLength(2_000);
    expect(pauses).toBeGreaterThanOrEqual(Math.floor(text.length / PAUSE_EVERY_CHARS) - 1);
  });
});

describe("segmentation in windows", () => {
  it("gives the sentences and words of one walk over the whole text", () => {
    const text = paragraph(300); // about 20 KB: one walk over it is still affordable
    const whole = (granularity: "sentence" | "word") => Array.from(new Intl.Segmenter("en", { granularity }).segment(text));
    expect(text.length).toBeGreaterThan(15 * SEGMENT_WINDOW_CHARS);
    expect(surfaceWords(text)).toEqual(whole("word").filter((s) => s.isWordLike).map((s) => s.segment));
    // The same sentences as ICU's, joined after abbreviations.
    const icu = whole("sentence").map((s) => s.segment);
    expect(splitSentences(text).join(" ")).toBe(icu.map((s) => s.trim()).join(" "));
    expect(splitSentences(text).length).toBeLessThan(icu.length);
    expect(splitSentences(text).every((s) => !/\b(?:Mr|Dr|e\.g|i\.e|vs)\.$/.test(s))).toBe(true);
  });

  it("keeps a sentence longer than a window whole", () => {
    const long = `Then ${"word ".repeat(3 * SEGMENT_WINDOW_CHARS)}end.`;
    expect(sentences(`Before. ${long} After.`)).toEqual(["Before.", long, "After."]);
  });

  it("never gives Intl.Segmenter a long string (its iterator is quadratic in the string's length)", () => {
    const segment = vi.spyOn(Intl.Segmenter.prototype, "segment");
    const text = paragraph(3_000); // about 200 KB in one paragraph
    expect(sentences(text).length).toBeGreaterThan(3_000);
    expect(surfaceWords(text).length).toBeGreaterThan(30_000);
    const lengths = segment.mock.calls.map(([input]) => input.length);
    expect(lengths.length).toBeGreaterThan(2 * (text.length / SEGMENT_WINDOW_CHARS));
    expect(Math.max(...lengths)).toBeLessThanOrEqual(SEGMENT_WINDOW_CHARS + 200 + 1);
  });
});

describe("countTokens", () => {
  it("counts a long text in pieces to the same total as one encoding of the whole", () => {
    const encoder = new Tiktoken(o200kBase);
    const text = Array.from(
      { length: 1_500 },
      (_, i) => `Line ${i}:  Mr. Darcy paid £${i}.50 — “quoted”   text\twith tabs,\n\nnew paragraphs, naïve café 日本語 and 1234567 numbers!`,
    ).join(" ");
    expect(text.length).toBeGreaterThan(5 * PAUSE_EVERY_CHARS);
    expect(countTokens(text)).toBe(encoder.encode(text, "all").length);
    let pauses = 0;
    const steps = countTokensInSteps(text);
    let step = steps.next();
    while (!step.done) {
      pauses++;
      step = steps.next();
    }
    expect(pauses).toBeGreaterThanOrEqual(4);
    expect(step.value).toBe(encoder.encode(text, "all").length);
  });

  it("counts short and empty texts", () => {
    expect(countTokens("")).toBe(0);
    expect(countTokens("hello world")).toBe(2);
  });
});

describe("EventLoopSlicer", () => {
  /** A generator of `steps` pause points, each advancing the fake clock by `cost` ms. */
  function* work(clock: { now: number }, steps: number, cost: number, done: { steps: number }): Generator<void, number, void> {
    for (let i = 0; i < steps; i++) {
      clock.now += cost;
      done.steps++;
      yield;
    }
    return steps;
  }

  it("lets the event loop turn between slices, also when many tasks run at once", async () => {
    const clock = { now: 0 };
    const slicer = new EventLoopSlicer(10, () => clock.now);
    const done = { steps: 0 };
    const perTurn: number[] = [];
    let finished = false;
    let last = 0;
    const tick = () => {
      perTurn.push(done.steps - last);
      last = done.steps;
      if (!finished) setImmediate(tick);
    };
    setImmediate(tick);
    // 50 tasks × 10 steps × 4 ms = 2,000 ms of (fake) work.
    const results = await Promise.all(Array.from({ length: 50 }, () => slicer.run(work(clock, 10, 4, done))));
    finished = true;
    expect(results).toEqual(Array(50).fill(10));
    expect(done.steps).toBe(500);
    // At most one slice of 10 ms (three 4 ms steps) between two turns of the loop...
    expect(Math.max(...perTurn)).toBeLessThanOrEqual(3);
    // ...so the loop turned at least 2,000 / 12 times. One setImmediate per step for each task would give about 10 turns.
    expect(perTurn.length).toBeGreaterThanOrEqual(150);
  });

  it("runToEnd runs the same work at once", () => {
    const clock = { now: 0 };
    const done = { steps: 0 };
    expect(runToEnd(work(clock, 7, 4, done))).toBe(7);
    expect(done.steps).toBe(7);
  });
});
