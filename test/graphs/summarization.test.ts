import { describe, expect, it } from "vitest";
import {
  CONDENSE_PROMPT,
  DEFAULT_CHUNK_OVERLAP,
  DEFAULT_CHUNK_SIZE,
  DEFAULT_TOKEN_BUDGET,
  definition,
  graph,
  reduceSummaries,
  splitText,
  summarizeChunk,
} from "../../graphs/summarization.js";
import { countTokens, sentences } from "../../src/runtime/text.js";
import { InvalidInputError, parseInput } from "../../src/runtime/errors.js";
import { UsageTracker } from "../../src/runtime/usage.js";

/** A made-up chronicle of six paragraphs (about 3,000 characters), written for these tests. */
const CHRONICLE = [
  "In the spring the lighthouse keeper of Saltmere, Ada Fenwick, found the great lamp cracked after a storm. She wrote to the harbour council in Greyport and asked for a new lens before the autumn gales. The council replied that the money had gone to the new quay, and that the lamp would have to wait a year.",
  "Ada did not wait. She sold her late father's telescope to a collector from the capital and travelled to the glassworks at Dunmore with the money. The glassmaker, an old man named Tobias Reed, told her that a lens of that size took three months to grind and that he had no apprentice to help him.",
  "So Ada stayed in Dunmore and learned to grind glass. Every morning she worked beside Tobias at the wheel, and every evening she wrote to her brother Sam, who kept the light burning with oil lamps and mirrors. Sam's letters said the fishing boats came home later each week, feeling their way along the cliffs.",
  "In midsummer the lens cracked on the wheel, and the work of two months was lost. Tobias wanted to give up, but Ada found a flaw in the cooling shed: a draught from a broken shutter chilled one side of the glass. They mended the shutter, cast the glass again and began a second lens.",
  "The second lens was finished in the first week of October. Ada and Tobias carried it to Saltmere on a hired cart, wrapped in wool and straw, and Sam met them at the foot of the cliff path with six fishermen. It took the whole day to raise the lens into the lamp room.",
  "On the night of the first autumn gale the new light shone twenty miles out to sea. Every boat of the Saltmere fleet came home. The harbour council voted Ada a medal, which she gave to Tobias, and the following spring Tobias took his first apprentice, a girl from Saltmere who had watched the lens go up the cliff.",
].join("\n\n");

describe("nodes", () => {
  it("split uses the recursive splitter: chunks within chunkSize, in order, covering the text", async () => {
    const chunks = await splitText({ text: CHRONICLE, chunkSize: 500, chunkOverlap: 50 });
    expect(chunks.length).toBeGreaterThan(5);
    for (const c of chunks) expect(c.length).toBeLessThanOrEqual(500);
    expect(chunks[0].startsWith("In the spring")).toBe(true);
    expect(chunks[chunks.length - 1].endsWith("go up the cliff.")).toBe(true);
    expect(await splitText({ text: "A short note.", chunkSize: DEFAULT_CHUNK_SIZE, chunkOverlap: DEFAULT_CHUNK_OVERLAP })).toEqual(["A short note."]);
  });

  it("split rejects an overlap not smaller than the chunk size, naming chunkOverlap", async () => {
    await expect(splitText({ text: CHRONICLE, chunkSize: 300, chunkOverlap: 300 })).rejects.toThrow(InvalidInputError);
    await expect(splitText({ text: CHRONICLE, chunkSize: 300, chunkOverlap: 400 })).rejects.toThrow(/chunkOverlap: must be smaller than chunkSize \(300\), got 400/);
  });

  it("summarize_chunk (offline) answers with sentences of its chunk", async () => {
    const chunk = CHRONICLE.split("\n\n").slice(1, 3).join("\n\n"); // five sentences
    const summary = await summarizeChunk(chunk, 0, { tokenBudget: 100 }, {});
    expect(summary.length).toBeGreaterThan(0);
    expect(summary.length).toBeLessThan(chunk.length);
    for (const sentence of sentences(summary)) expect(chunk).toContain(sentence);
  });

  it("reduce_summaries (offline) combines a group; a group of one is condensed", async () => {
    const group = CHRONICLE.split("\n\n").slice(0, 2);
    const combined = await reduceSummaries(group, 0, { tokenBudget: 100 }, {});
    expect(combined.length).toBeGreaterThan(0);
    expect(combined.length).toBeLessThan(group.join(" ").length);
    expect(CONDENSE_PROMPT).toMatch(/too long/);
    expect((await reduceSummaries([group[0]], 0, { tokenBudget: 100 }, {})).length).toBeGreaterThan(0);
  });
});

describe("the summarization workflow", () => {
  it("handles a text shorter than one chunk: one chunk, one model call, no reduce round", async () => {
    const tracker = new UsageTracker();
    const text = CHRONICLE.split("\n\n")[0];
    const out = await graph.invoke(definition.input.parse({ text }), { callbacks: [tracker] });
    expect(out).toMatchObject({ chunks: 1, rounds: 0, levels: [1], finishReason: "fits_budget", truncated: false });
    expect(out.summaryTokens).toBe(countTokens(out.summary));
    expect(out.summaryTokens).toBeLessThanOrEqual(DEFAULT_TOKEN_BUDGET);
    expect(tracker.total.calls).toBe(1);
  });

  it("maps the chunks and reduces hierarchically until the summary fits the budget", async () => {
    const tracker = new UsageTracker();
    const input = definition.input.parse({ text: CHRONICLE, chunkSize: 300, chunkOverlap: 30, tokenBudget: 120, groupTokenBudget: 200, maxConcurrency: 2 });
    const out = await graph.invoke(input, { callbacks: [tracker] });
    expect(out.chunks).toBeGreaterThan(6);
    expect(out.levels[0]).toBe(out.chunks);
    expect(out.rounds).toBeGreaterThanOrEqual(2);
    expect(out.levels).toHaveLength(out.rounds + 1);
    expect(out.levels[out.levels.length - 1]).toBe(1);
    for (let i = 1; i < out.levels.length; i++) expect(out.levels[i]).toBeLessThanOrEqual(out.levels[i - 1]);
    expect(out.summaryTokens).toBe(countTokens(out.summary));
    expect(out.summaryTokens).toBeLessThanOrEqual(120);
    expect(out).toMatchObject({ finishReason: "fits_budget", truncated: false });
    // The chunk summaries together exceed groupTokenBudget (200), so one reduce call could not take them all.
    expect(out.levelTokens[0]).toBeGreaterThan(200);
    const calls = tracker.total.calls;
    expect(calls).toBeGreaterThanOrEqual(out.chunks + out.rounds);
    // The summary is drawn from the text (the offline model extracts).
    for (const sentence of sentences(out.summary)) expect(CHRONICLE.replace(/\s+/g, " ")).toContain(sentence);
  });

  it("keeps an over-budget summary whole with overBudget keep, and truncates it by default", async () => {
    const base = { text: CHRONICLE, chunkSize: 400, chunkOverlap: 0, tokenBudget: 20, groupTokenBudget: 400, maxRounds: 2 };
    const kept = await graph.invoke(definition.input.parse({ ...base, overBudget: "keep" }));
    expect(kept.truncated).toBe(false);
    expect(kept.summaryTokens).toBeGreaterThan(20);
    expect(["stalled", "max_rounds"]).toContain(kept.finishReason);
    const cut = await graph.invoke(definition.input.parse(base));
    expect(cut).toMatchObject({ truncated: true, finishReason: kept.finishReason });
    expect(cut.summaryTokens).toBeLessThanOrEqual(20);
    expect(kept.summary.startsWith(cut.summary.split(" ").slice(0, 3).join(" "))).toBe(true);
  });

  it("truncates at sentence ends, never after Mr. or Dr.", async () => {
    // Written for this test, in the manner of a novel with many titled names.
    const story = [
      "Elizabeth heard much of the excellent character of Mr. Darcy from the housekeeper at Pemberley. Mrs. Reynolds had known him since he was four years old.",
      "Mr. Gardiner admired the trout stream, and Dr. Phillips, e.g. the family physician, had fished it as a boy. Mr. Darcy offered the use of his rods.",
      "The party returned to the inn at Lambton before dinner. A letter from Jane waited there, and Mr. Wickham was its subject.",
    ].join("\n\n");
    const endings = new Set<string>();
    for (let tokenBudget = 20; tokenBudget <= 80; tokenBudget += 3) {
      const out = await graph.invoke(definition.input.parse({ text: story, chunkSize: 200, chunkOverlap: 0, tokenBudget, maxRounds: 0 }));
      if (!out.truncated) continue;
      expect(out.summaryTokens).toBeLessThanOrEqual(tokenBudget);
      expect(out.summary).not.toMatch(/\b(?:Mr|Mrs|Dr|e\.g)\.$/);
      for (const sentence of sentences(out.summary)) expect(story.replace(/\s+/g, " ")).toContain(sentence);
      endings.add(out.summary.slice(-12));
    }
    expect(endings.size).toBeGreaterThan(2); // truncated at several different places
  });

  it("lets the event loop run during a 1 MB summarization with the offline model (counted turns of the loop)", async () => {
    const text = `${CHRONICLE}\n\n`.repeat(Math.ceil(1_000_000 / (CHRONICLE.length + 2))).slice(0, 1_000_000);
    let turns = 0;
    let running = true;
    const tick = () => {
      turns++;
      if (running) setImmediate(tick);
    };
    setImmediate(tick);
    const before = turns;
    const out = await graph.invoke(definition.input.parse({ text }));
    running = false;
    expect(out.chunks).toBeGreaterThan(250);
    expect(out.finishReason).toBe("fits_budget");
    expect(out.summary.length).toBeGreaterThan(0);
    // Fully synchronous text work gives 0-1 turns here; in 10 ms slices, hundreds.
    expect(turns - before).toBeGreaterThan(100);
  }, 180_000);

  it("rejects an empty or blank text, naming the field", async () => {
    for (const text of ["", " \n\t "]) {
      try {
        parseInput("summarization", definition.input, { text });
        expect.unreachable("parseInput accepted an empty text");
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidInputError);
        expect((error as InvalidInputError).issues.map((i) => i.path)).toEqual(["text"]);
        expect((error as Error).message).toBe('invalid input for workflow "summarization": text: the text to summarise is empty');
      }
    }
    await expect(graph.invoke({ text: "" })).rejects.toThrow(/text/);
  });

  it("rejects bad sizes by field, and an overlap not smaller than the chunk size when it runs", async () => {
    expect(() => parseInput("summarization", definition.input, { text: "x", chunkSize: 10 })).toThrow(/chunkSize:/);
    expect(() => parseInput("summarization", definition.input, { text: "x", tokenBudget: 0 })).toThrow(/tokenBudget:/);
    expect(() => parseInput("summarization", definition.input, { text: "x", maxRounds: 11 })).toThrow(/maxRounds:/);
    await expect(graph.invoke(definition.input.parse({ text: CHRONICLE, chunkSize: 300, chunkOverlap: 300 }))).rejects.toThrow(/chunkOverlap/);
  });

  it("has a valid example that runs, and a diagram with every node", async () => {
    expect(definition.input.safeParse(definition.example).success).toBe(true);
    const out = await graph.invoke(definition.input.parse(definition.example));
    expect(out.chunks).toBeGreaterThan(1);
    expect(out.summary.length).toBeGreaterThan(0);
    const mermaid = graph.getGraph().drawMermaid();
    for (const node of ["split", "summarize_chunk", "collect", "reduce_summaries", "finish"]) expect(mermaid).toContain(node);
  });
});
