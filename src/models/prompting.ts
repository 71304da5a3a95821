/**
 * Prompt helpers. Inputs are wrapped in XML-like tags (*LLM Workflow Patterns*'s convention),
 * which keeps instructions apart from user text; the offline model reads the
 * same tags (see `offline/prompt.ts`).
 *
 * @module
 */

/**
 * `<name>text</name>`, with any `<name>`/`</name>` inside `text` defused so that
 * user text cannot close the block and pose as instructions.
 */
export function tagged(name: string, text: string): string {
  const safe = text.replace(new RegExp(`<(/?)${name}>`, "gi"), (_match, slash: string) => `‹${slash}${name}›`);
  return `<${name}>\n${safe}\n</${name}>`;
}

/** Lines `- option: description` for a list of options (how prompts define categories). */
export function optionList(options: Record<string, string>): string {
  return Object.entries(options)
    .map(([name, description]) => (description ? `- ${name}: ${description}` : `- ${name}`))
    .join("\n");
}
