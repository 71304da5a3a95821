/**
 * Structured answers of the offline model: a value for a JSON schema, derived
 * from the prompt by lexical matching (no knowledge, no generation).
 *
 * - enum: the option whose gloss best matches the material. An option's gloss is
 *   its own words plus every instruction line (or schema description line) that
 *   names that option and no other, e.g. `- billing: charges, refunds, fees`.
 * - number named like `confidence`: the margin of the last enum decision
 *   (0.2 when nothing matched, 0.5 on a tie); other numbers: the share of the
 *   focus's terms that the material covers, scaled into the schema's bounds.
 * - string: an id-like token for id/number/code fields; the focus terms the
 *   material misses for feedback-like fields; otherwise the material sentence
 *   that best matches the field's name and description.
 * - array: one item per material sentence (or clause, when there are too few
 *   sentences), ranked by relevance, kept in text order, within min/maxItems.
 * - boolean: whether the field's words occur in the material.
 *
 * @module
 */
import type { ReadPrompt } from "./prompt.js";
import { clauses, PAUSE_EVERY_CHARS, runToEnd, sentencesInSteps, splitSentences, stemOf, surfaceWords, termSet, termSetInSteps, terms, truncate } from "../../runtime/text.js";

/** A JSON schema node as produced by zod 4's `toJSONSchema` (the subset used here). */
export interface JsonSchema {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  description?: string;
  default?: unknown;
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  definitions?: Record<string, JsonSchema>;
}

/** Confidence when no option's gloss matched anything in the material. */
export const NO_MATCH_CONFIDENCE = 0.2;
/** Items in an array when the schema sets no `maxItems`. */
export const DEFAULT_MAX_ITEMS = 5;

const FEEDBACK_FIELD = /feedback|critique|suggestion|improv|missing/i;
const ID_FIELD = /(?:^|_|\b)(?:id|number|no|code|reference|ref)$|(?:Id|Number|Code)$/;
const CONFIDENCE_FIELD = /confidence|certainty|probability/i;
const ID_TOKEN = /\b(?=[A-Za-z0-9-]*\d)[A-Za-z0-9][A-Za-z0-9-]{3,}\b/g;

interface FillContext {
  prompt: ReadPrompt;
  root: JsonSchema;
  /** Confidence of the most recent enum decision. */
  lastConfidence?: number;
}

/** Pause points of the generators below (see `runToEnd` and `EventLoopSlicer` in runtime/text.ts). */
type Steps<T> = Generator<void, T, void>;

/** Fills `schema` from the prompt (see the module doc). */
export function fillSchema(schema: JsonSchema, prompt: ReadPrompt): unknown {
  return runToEnd(fillSchemaInSteps(schema, prompt));
}

/**
 * {@link fillSchema} as a generator that pauses (`yield`) every
 * {@link PAUSE_EVERY_CHARS} characters of material it reads, so that the
 * model can let the event loop turn while it fills a schema from a long text.
 */
export function* fillSchemaInSteps(schema: JsonSchema, prompt: ReadPrompt): Steps<unknown> {
  const ctx: FillContext = { prompt, root: schema };
  return yield* fill(schema, "", prompt.material, ctx);
}

function resolve(schema: JsonSchema, ctx: FillContext): JsonSchema {
  if (!schema.$ref) return schema;
  const name = schema.$ref.replace(/^#\/(?:\$defs|definitions)\//, "");
  return ctx.root.$defs?.[name] ?? ctx.root.definitions?.[name] ?? {};
}

function typeOf(schema: JsonSchema): string | undefined {
  if (Array.isArray(schema.type)) return schema.type.find((t) => t !== "null");
  if (schema.type) return schema.type;
  if (schema.properties) return "object";
  if (schema.items) return "array";
  if (schema.enum) return typeof schema.enum[0];
  return undefined;
}

function* fill(raw: JsonSchema, field: string, subject: string, ctx: FillContext): Steps<unknown> {
  const schema = resolve(raw, ctx);
  if (schema.const !== undefined) return schema.const;
  const variants = schema.anyOf ?? schema.oneOf;
  if (variants) {
    const chosen = variants.find((v) => typeOf(resolve(v, ctx)) !== "null") ?? variants[0];
    return yield* fill({ description: schema.description, ...chosen }, field, subject, ctx);
  }
  if (schema.allOf?.length) return yield* fill(Object.assign({}, ...schema.allOf, { description: schema.description }), field, subject, ctx);
  if (schema.enum) return yield* chooseOption(schema.enum, field, schema.description, subject, ctx);
  switch (typeOf(schema)) {
    case "object": {
      const out: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(schema.properties ?? {})) out[key] = yield* fill(child, key, subject, ctx);
      return out;
    }
    case "array":
      return yield* fillArray(schema, field, subject, ctx);
    case "integer":
    case "number":
      return yield* fillNumber(schema, field, subject, ctx);
    case "boolean": {
      const gloss = termSet(`${humanize(field)} ${schema.description ?? ""}`);
      const have = yield* termSetInSteps(subject);
      return [...gloss].some((t) => have.has(t));
    }
    case "null":
      return null;
    default:
      return yield* fillString(schema, field, subject, ctx);
  }
}

function humanize(field: string): string {
  return field.replace(/([a-z])([A-Z])/g, "$1 $2").replace(/[_-]+/g, " ");
}

/** Gloss terms per option, from instruction and description lines (sentences, and clauses at ";") naming exactly that option. */
function glosses(options: string[], description: string | undefined, ctx: FillContext): Set<string>[] {
  const lines = `${ctx.prompt.instruction}\n${description ?? ""}`
    .split("\n")
    .flatMap((line) => splitSentences(line))
    .flatMap((sentence) => sentence.split(/;\s*/));
  const patterns = options.map((o) => new RegExp(`(^|[^\\w])${o.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}($|[^\\w])`, "i"));
  const out = options.map((o) => termSet(humanize(o)));
  for (const line of lines) {
    const named = patterns.map((p, i) => (p.test(line) ? i : -1)).filter((i) => i >= 0);
    if (named.length !== 1) continue;
    for (const t of terms(line)) out[named[0]].add(t);
  }
  return out;
}

function* chooseOption(enumValues: unknown[], field: string, description: string | undefined, subject: string, ctx: FillContext): Steps<unknown> {
  const options = enumValues.map(String);
  const gloss = glosses(options, description, ctx);
  const docFreq = new Map<string, number>();
  for (const g of gloss) for (const t of g) docFreq.set(t, (docFreq.get(t) ?? 0) + 1);
  const have = yield* termSetInSteps(subject);
  const scores = gloss.map((g) => {
    let s = 0;
    for (const t of have) if (g.has(t)) s += 1 / (docFreq.get(t) ?? 1);
    return s;
  });
  let best = 0;
  for (let i = 1; i < scores.length; i++) if (scores[i] > scores[best]) best = i;
  const sorted = [...scores].sort((a, b) => b - a);
  const top = sorted[0] ?? 0;
  const second = sorted[1] ?? 0;
  ctx.lastConfidence = top === 0 ? NO_MATCH_CONFIDENCE : 0.5 + (0.5 * (top - second)) / (top + 1);
  return enumValues[best];
}

function bounds(schema: JsonSchema, integer: boolean, fallback: [number, number]): [number, number] {
  const step = integer ? 1 : 1e-6;
  const lo = schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + step : fallback[0]);
  const hi = schema.maximum ?? (schema.exclusiveMaximum !== undefined ? schema.exclusiveMaximum - step : Math.max(lo, fallback[1]));
  return [lo, hi];
}

/** Share of the focus's distinct terms found in `subject` (1 when the focus has none). */
function* coverage(subject: string, ctx: FillContext): Steps<number> {
  const focus = yield* termSetInSteps(ctx.prompt.focus);
  if (focus.size === 0) return 1;
  const have = yield* termSetInSteps(subject);
  let hit = 0;
  for (const t of focus) if (have.has(t)) hit++;
  return hit / focus.size;
}

function* fillNumber(schema: JsonSchema, field: string, subject: string, ctx: FillContext): Steps<number> {
  const integer = typeOf(schema) === "integer";
  const isConfidence = CONFIDENCE_FIELD.test(field);
  const [lo, hi] = bounds(schema, integer, isConfidence || !integer ? [0, 1] : [0, 10]);
  const share = isConfidence && ctx.lastConfidence !== undefined ? ctx.lastConfidence : yield* coverage(subject, ctx);
  const value = lo + share * (hi - lo);
  const rounded = integer ? Math.round(value) : Math.round(value * 1000) / 1000;
  return Math.min(hi, Math.max(lo, rounded));
}

/** Focus words (as written) whose stems the subject lacks. */
export function missingFocusWords(subject: string, focus: string): string[] {
  const have = termSet(subject);
  const seen = new Set<string>();
  const out: string[] = [];
  for (const w of surfaceWords(focus)) {
    const s = stemOf(w);
    if (!s || have.has(s) || seen.has(s)) continue;
    seen.add(s);
    out.push(w);
  }
  return out;
}

function* fillString(schema: JsonSchema, field: string, subject: string, ctx: FillContext): Steps<string> {
  const max = schema.maxLength ?? Number.POSITIVE_INFINITY;
  let value: string;
  if (ID_FIELD.test(field)) {
    value = subject.match(ID_TOKEN)?.[0] ?? "";
  } else if (FEEDBACK_FIELD.test(`${field} ${schema.description ?? ""}`) && ctx.prompt.focus !== ctx.prompt.material) {
    yield;
    const missing = missingFocusWords(subject, ctx.prompt.focus);
    value = missing.length
      ? `Address these points of the task that the text does not cover: ${missing.join(", ")}.`
      : "The text covers every point of the task.";
  } else {
    const candidates = yield* sentencesInSteps(subject);
    const ranked = yield* rankInSteps(candidates, termSet(`${humanize(field)} ${schema.description ?? ""} ${ctx.prompt.focus}`));
    value = ranked[0] ?? subject.trim();
  }
  value = truncate(value, max);
  if (schema.minLength && value.length < schema.minLength) value = value.padEnd(schema.minLength, ".");
  return value;
}

function* fillArray(schema: JsonSchema, field: string, subject: string, ctx: FillContext): Steps<unknown[]> {
  const itemSchema = resolve(schema.items ?? {}, ctx);
  const min = schema.minItems ?? 0;
  const max = Math.max(min, schema.maxItems ?? DEFAULT_MAX_ITEMS);
  if (itemSchema.enum) {
    const chosen = yield* chooseOption(itemSchema.enum, field, itemSchema.description ?? schema.description, subject, ctx);
    return [chosen];
  }
  let candidates = yield* sentencesInSteps(subject);
  if (candidates.length < Math.max(2, min)) candidates = candidates.flatMap((s) => clauses(s));
  const relevant = termSet(`${humanize(field)} ${schema.description ?? ""} ${ctx.prompt.focus} ${ctx.prompt.instruction}`);
  const chosen = new Set((yield* rankInSteps(candidates, relevant)).slice(0, max));
  const items = candidates.filter((c) => chosen.has(c));
  const out: unknown[] = [];
  for (const item of items) out.push(yield* fill(itemSchema, field, item, ctx));
  return out;
}

/**
 * Orders `candidates` by how many of `relevant`'s terms each contains (ties keep
 * text order); duplicates are dropped.
 *
 * @param termsOf - The candidates' term sets when already known (each is read with `termSet` otherwise).
 */
export function rank(candidates: string[], relevant: Set<string>, termsOf?: ReadonlyMap<string, Set<string>>): string[] {
  return runToEnd(rankInSteps(candidates, relevant, termsOf));
}

/** {@link rank} as a generator that pauses (`yield`) every {@link PAUSE_EVERY_CHARS} characters of candidates it reads. */
export function* rankInSteps(candidates: string[], relevant: Set<string>, termsOf?: ReadonlyMap<string, Set<string>>): Steps<string[]> {
  const seen = new Set<string>();
  const scored: Array<{ text: string; index: number; score: number }> = [];
  let read = 0;
  for (let index = 0; index < candidates.length; index++) {
    const text = candidates[index];
    if (seen.has(text)) continue;
    seen.add(text);
    let score = 0;
    for (const t of termsOf?.get(text) ?? termSet(text)) if (relevant.has(t)) score++;
    scored.push({ text, index, score });
    read += text.length;
    if (read >= PAUSE_EVERY_CHARS) {
      read = 0;
      yield;
    }
  }
  return scored.sort((a, b) => b.score - a.score || a.index - b.index).map((c) => c.text);
}
