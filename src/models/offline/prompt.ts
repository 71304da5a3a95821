/**
 * How the offline model reads a prompt. Prompts in this project wrap their
 * inputs in XML-like tags (the convention of *LLM Workflow Patterns*'s prompts:
 * `<user_query>…</user_query>`); the offline model relies on it:
 *
 * - `instruction`: all text outside tags (system and human messages);
 * - `focus`: the first tagged block (the task, question or query);
 * - `material`: the other tagged blocks (what to work on), or the focus when
 *   there is only one block, or the whole last human message when there is none.
 *
 * @module
 */
import type { BaseMessage } from "@langchain/core/messages";

/** One `<tag>…</tag>` block of a prompt. */
export interface PromptSection {
  tag: string;
  text: string;
}

/** A prompt split the way the offline model reads it. */
export interface ReadPrompt {
  /** Every message's text, concatenated (used for token counts and glosses). */
  all: string;
  /** Text outside tags. */
  instruction: string;
  sections: PromptSection[];
  focus: string;
  material: string;
}

const TAG_BLOCK = /<([A-Za-z_][\w-]*)>([\s\S]*?)<\/\1>/g;

/** Splits messages into instruction, sections, focus and material (see the module doc). */
export function readPrompt(messages: BaseMessage[]): ReadPrompt {
  const texts = messages.map((m) => m.text);
  const all = texts.join("\n\n");
  const sections: PromptSection[] = [];
  let instruction = "";
  for (const text of texts) {
    let last = 0;
    for (const m of text.matchAll(TAG_BLOCK)) {
      instruction += text.slice(last, m.index) + "\n";
      sections.push({ tag: m[1], text: m[2].trim() });
      last = (m.index ?? 0) + m[0].length;
    }
    instruction += text.slice(last) + "\n";
  }
  const humans = messages.filter((m) => m.getType() === "human");
  const lastHuman = humans.length ? humans[humans.length - 1].text : texts[texts.length - 1] ?? "";
  const focus = sections.length ? sections[0].text : lastHuman;
  const material = sections.length > 1 ? sections.slice(1).map((s) => s.text).join("\n\n") : focus;
  return { all, instruction: instruction.trim(), sections, focus, material };
}
