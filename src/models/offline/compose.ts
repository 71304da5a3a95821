/**
 * Free-text answers of the offline model: an extract of the prompt's material.
 * Sentences are ranked by how many focus, guidance and instruction terms they
 * contain and the best ones are returned in their original order; the
 * instruction sets the length and whether the answer is a list.
 *
 * Sections tagged `feedback`, `guidance`, `instructions` or `criteria` steer the
 * ranking but are never copied into the answer; nor are later sections tagged
 * `task`, `subtask`, `topic`, `question` or `query` (the request, not material).
 *
 * @module
 */
import { rank } from "./fill.js";
import type { ReadPrompt } from "./prompt.js";
import { PAUSE_EVERY_CHARS, runToEnd, sentencesInSteps, termSet, termSetInSteps } from "../../runtime/text.js";

/** Sentences in a free-text answer unless the instruction asks otherwise. */
export const DEFAULT_ANSWER_SENTENCES = 6;
/** Sentences when the instruction asks for something brief, concise or a summary. */
export const BRIEF_ANSWER_SENTENCES = 3;
/** What the offline model says when the prompt gives it nothing to draw from. */
export const NO_MATERIAL_ANSWER = "There is no material in the request to answer from.";

const GUIDANCE_TAG = /feedback|guidance|instruction|criteria/i;
/** Tags of sections that pose the request; they steer the ranking and are copied only when nothing else is given. */
const REQUEST_TAG = /^(task|subtask|topic|question|query|user_query)$/i;

/** The offline model's free-text answer to `prompt`. */
export function compose(prompt: ReadPrompt): string {
  return runToEnd(composeInSteps(prompt));
}

/**
 * {@link compose} as a generator that pauses (`yield`) every
 * {@link PAUSE_EVERY_CHARS} characters of material it reads, so that the
 * model can let the event loop turn during a long answer.
 */
export function* composeInSteps(prompt: ReadPrompt): Generator<void, string, void> {
  const guidance = prompt.sections.filter((s) => GUIDANCE_TAG.test(s.tag)).map((s) => s.text);
  const materialSections = prompt.sections.slice(1).filter((s) => !GUIDANCE_TAG.test(s.tag) && !REQUEST_TAG.test(s.tag));
  const material = materialSections.length ? materialSections.map((s) => s.text).join("\n") : prompt.focus;
  yield;
  const candidates = yield* sentencesInSteps(material);
  if (candidates.length === 0) return NO_MATERIAL_ANSWER;
  // Each candidate's terms, read once (the most expensive part), pausing as the material is read.
  const termsOf = new Map<string, Set<string>>();
  let read = 0;
  for (const c of candidates) {
    if (termsOf.has(c)) continue;
    termsOf.set(c, termSet(c));
    read += c.length;
    if (read >= PAUSE_EVERY_CHARS) {
      read = 0;
      yield;
    }
  }
  const instruction = prompt.instruction.toLowerCase();
  const asList = /\boutline for\b|\bbullet|\bper line\b|\bas a (?:numbered |bulleted )?list\b|\blist (?:the|of)\b/.test(instruction);
  const count = /\b(one|single) sentence\b/.test(instruction)
    ? 1
    : /\b(brief|concise|short|summar\w*)\b/.test(instruction)
      ? BRIEF_ANSWER_SENTENCES
      : DEFAULT_ANSWER_SENTENCES;
  // When some sentences share words with the request (focus and guidance), the others are off-topic.
  const asked = yield* termSetInSteps(`${prompt.focus}\n${guidance.join("\n")}`);
  const relevant = new Set([...asked, ...termSet(prompt.instruction)]);
  const onTopic = materialSections.length ? candidates.filter((c) => [...termsOf.get(c)!].some((t) => asked.has(t))) : [];
  const pool = onTopic.length ? onTopic : candidates;
  const chosen = new Set(rank(pool, relevant, termsOf).slice(0, count));
  const picked = candidates.filter((c) => chosen.has(c) && (chosen.delete(c) || true));
  return asList ? picked.map((s) => `- ${s}`).join("\n") : picked.join(" ");
}
