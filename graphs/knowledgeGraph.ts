/**
 * knowledgeGraph: knowledge-graph extraction as a DAG (*Advanced Workflows*'s
 * `EntityExtractor -> RelationshipMapper -> KnowledgeGraphBuilder` run by its
 * `WorkflowEngine`). The dependencies are declared once, in `buildDag`'s map:
 *
 * - `extract_entities` (model, structured): the named mentions of the text,
 *   typed with the re3d entity schema. The prompt carries the text and
 *   candidate mentions found by rules ({@link proposeMentions}: capitalised
 *   names, dates, numbers with units), as re3d's own annotation started from
 *   an automated extractor's cues; the model keeps, types and completes them;
 * - `summarize_document` (model): a one-sentence caption of the document; it
 *   depends on nothing else, so it runs in the same superstep as
 *   `extract_entities`;
 * - `map_relations` (model, structured, after `extract_entities`): relations
 *   between the extracted entities, typed with the re3d relation schema;
 * - `build_graph` (deterministic, no model; after all three, a join edge):
 *   keeps the entities found in the text, merges duplicates, keeps the
 *   relations whose two ends are known entities, and writes nodes, edges, an
 *   adjacency list and a Mermaid diagram.
 *
 * The types are the most frequent of the re3d corpus (Dstl's "gold standard"
 * for defence and security analysis, Wikipedia part: 615 of its 641 entity
 * annotations and 164 of its 168 relations), with the definitions of its
 * README. `scripts/evalKnowledgeGraph.ts` scores the workflow against it.
 *
 * Input: `{ text, documentId? }` (text: 1 to 100,000 characters after
 * trimming; an empty text is an `InvalidInputError` naming `text`). Output:
 * `entities` [{ text, type }], `relations` [{ source, relation, target }]
 * (ends are entity texts), `graph` ({@link KnowledgeGraph}: nodes, edges,
 * adjacency, Mermaid, counts of what was dropped) and `summary`. Model calls:
 * three per document (two when fewer than two entities are found).
 */
import { StateSchema, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { eng } from "stopword";
import { z } from "zod";
import { getChatModel } from "../src/models/factory.js";
import { optionList, tagged } from "../src/models/prompting.js";
import { invokeStructured } from "../src/models/structured.js";
import { buildDag } from "../src/patterns/composition/dag.js";
import { defineWorkflow, inputSchema } from "../src/workflow.js";

/**
 * re3d entity types this workflow extracts: the seven most frequent in
 * re3d/Wikipedia, in that order, with the definitions of re3d's README
 * (verbatim). An answer the model cannot place goes to the first.
 */
export const ENTITY_TYPES = {
  Location: "A specific point, area or feature on earth. May be named (e.g. a city name) or referenced (e.g. with a coordinate system).",
  Organisation:
    'A group of people, a government, a company, or a family. May be referenced by name (e.g. "the British Army") or in relying on context (e.g. "the Army"). May also be indicated by an abstract class (e.g. "rebels").',
  Person:
    'A specific person. May be a name (e.g. Barack Obama); by title, (e.g. "President of the United States"); a combination of title and name (e.g. "President Obama"); or by reference to some other entity (e.g. "The US\'s head of state").',
  Nationality: "Description of nationality, religious or ethnic identity.",
  Temporal: 'A specific date, or time or range of time (e.g. 10:30 PST; 12/09/2016; "Next week"; "Wednesday").',
  DocumentReference: "A unique (or semi unique) identifier for a document.",
  Quantity: 'A quantity or amount of something (e.g. "1 kg").',
} as const;
export type EntityType = keyof typeof ENTITY_TYPES;
const ENTITY_TYPE_NAMES = Object.keys(ENTITY_TYPES) as [EntityType, ...EntityType[]];

/**
 * re3d relation types this workflow maps: the seven most frequent in
 * re3d/Wikipedia (the codes of relations.json), with the names and
 * definitions of re3d's README (verbatim).
 */
export const RELATION_TYPES = {
  CoLocated: "Co-located: Two or more entities in the same place at a given time (e.g. two vehicles being co-located).",
  IsSynonymOf: "Is the same as: One entity being used to mean the same thing as another entity (e.g. multiple names for the same person).",
  BelongsTo:
    "Belongs to: One entity being owned by another entity (e.g. one vehicle belonging to a person); or an entity being a member of another entity (e.g. a person being a member of an organisation).",
  FightingAgainst: "Fighting against: One entity being in armed conflict against another entity (e.g. an organisation is fighting against another organisation).",
  InChargeOf: "In charge of: One entity controlling or having responsibility for another entity (e.g. an organisation being in charge of a building).",
  HasAttrOf:
    "Has the attribute of: One entity being an attribute or associated quality of another entity (e.g. a type of weapon having the attribute of a quantity or a person having the attribute of a nationality).",
  CommWith: "Communicated with: An entity has had direct or indirect contact with another entity (e.g. met, spoken with, communicated remotely with, messaged, emailed).",
} as const;
export type RelationType = keyof typeof RELATION_TYPES;
const RELATION_TYPE_NAMES = Object.keys(RELATION_TYPES) as [RelationType, ...RelationType[]];

/** Most entities one extraction returns. */
export const MAX_ENTITIES = 80;
/** Most relations one mapping returns. */
export const MAX_RELATIONS = 80;
/** Longest text accepted, in characters. */
export const MAX_TEXT_CHARS = 100_000;

export const Entity = z.object({
  text: z.string().min(1).describe("The mention exactly as written in the text"),
  type: z.enum(ENTITY_TYPE_NAMES).describe("The entity type"),
});
export type Entity = z.infer<typeof Entity>;

export const Relation = z.object({
  source: z.string().min(1).describe("The first entity, copied exactly from the entity list"),
  relation: z.enum(RELATION_TYPE_NAMES).describe("The relation type"),
  target: z.string().min(1).describe("The second entity, copied exactly from the entity list"),
});
export type Relation = z.infer<typeof Relation>;

export const GraphNode = z.object({
  id: z.string().describe("Node id: n0, n1, … in order of first mention"),
  label: z.string().describe("The entity's text as first extracted"),
  type: z.enum(ENTITY_TYPE_NAMES),
  mentions: z.number().int().min(1).describe("How many extracted mentions merged into this node"),
});
export const GraphEdge = z.object({
  source: z.string().describe("Source node id"),
  relation: z.enum(RELATION_TYPE_NAMES),
  target: z.string().describe("Target node id"),
});
export const KnowledgeGraph = z.object({
  documentId: z.string().nullable().describe("The input's documentId, if any"),
  caption: z.string().describe("One sentence on what the document is about"),
  nodes: z.array(GraphNode),
  edges: z.array(GraphEdge),
  adjacency: z.record(z.string(), z.array(z.object({ relation: z.enum(RELATION_TYPE_NAMES), target: z.string() }))).describe("Node id -> outgoing edges"),
  mermaid: z.string().describe("The graph as a Mermaid flowchart"),
  stats: z.object({
    extractedEntities: z.number().int().describe("Entities the model returned"),
    ungroundedEntities: z.number().int().describe("Of those, not found in the text (dropped)"),
    extractedRelations: z.number().int().describe("Relations the model returned"),
    danglingRelations: z.number().int().describe("Of those, with an end that is no kept entity, or a self-loop (dropped)"),
  }),
});
export type KnowledgeGraph = z.infer<typeof KnowledgeGraph>;

const EMPTY_GRAPH: KnowledgeGraph = {
  documentId: null,
  caption: "",
  nodes: [],
  edges: [],
  adjacency: {},
  mermaid: "",
  stats: { extractedEntities: 0, ungroundedEntities: 0, extractedRelations: 0, danglingRelations: 0 },
};

const inputFields = {
  text: z.string().trim().min(1, "the text to extract a knowledge graph from is empty").max(MAX_TEXT_CHARS).describe("The document"),
  documentId: z.string().max(200).optional().describe("An id of the document, carried into the output (optional)"),
};
const outputFields = {
  entities: z.array(Entity).default(() => []).describe("The entities found in the text, duplicates merged, in order of first mention"),
  relations: z.array(Relation).default(() => []).describe("The relations between those entities, duplicates merged"),
  graph: KnowledgeGraph.default(() => EMPTY_GRAPH).describe("Nodes, edges, adjacency list and Mermaid diagram"),
  summary: z.string().default("").describe("One sentence on what the document is about"),
};

/** The input: checked whole (required fields too) by the facade, LangGraph and the server. */
export const KnowledgeGraphInput = inputSchema(inputFields);
export const KnowledgeGraphOutput = new StateSchema(outputFields);
export const KnowledgeGraphState = new StateSchema({
  ...inputFields,
  ...outputFields,
  candidates: z.array(z.string()).default(() => []).describe("The rule-based candidate mentions given to extract_entities as hints"),
  extractedEntities: z.array(Entity).default(() => []).describe("extract_entities' answer, as returned"),
  extractedRelations: z.array(Relation).default(() => []).describe("map_relations' answer, as returned"),
});
export type KnowledgeGraphState = typeof KnowledgeGraphState.State;

// ----------------------------------------------------------------- helpers

const EDGE_PUNCTUATION = /^[\s"'“”‘’`.,;:!?()[\]{}]+|[\s"'“”‘’`.,;:!?()[\]{}]+$/g;

/**
 * The key two mentions of one entity share: Unicode-normalised (NFKC), lower
 * case, whitespace collapsed, quotes and punctuation at either end and a
 * leading article (the/a/an) dropped. "The Eastbridge Terminal" and
 * "eastbridge terminal." have the same key.
 */
export function entityKey(text: string): string {
  return text
    .normalize("NFKC")
    .toLowerCase()
    .replace(/\s+/g, " ")
    .replace(EDGE_PUNCTUATION, "")
    .replace(/^(?:the|a|an) /, "")
    .trim();
}

/** Whether `mention` occurs in `text`, ignoring case and differences in whitespace. */
export function occursIn(mention: string, text: string): boolean {
  const squash = (s: string) => s.normalize("NFKC").toLowerCase().replace(/\s+/g, " ").trim();
  const needle = squash(mention);
  return needle.length > 0 && squash(text).includes(needle);
}

function mermaidLabel(text: string): string {
  return text.replace(/"/g, "#quot;").replace(/[\r\n]+/g, " ");
}

const MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December";
/** Dates: "December 7, 2006", "7 December 2006", "November 2006", "February 13". */
const DATE = new RegExp(`\\b(?:\\d{1,2} (?:${MONTHS})(?:,? \\d{4})?|(?:${MONTHS})(?: \\d{1,2}(?:st|nd|rd|th)?)?(?:,? \\d{4})?)\\b`, "g");
/** Years and year ranges: "2006", "1980-88", "1990–91". */
const YEAR = /(?<![\d.,])(?:1[5-9]\d\d|20\d\d)(?:[-–](?:\d{4}|\d{2}))?(?![\d.,]*\d)/g;
/** A number with a unit or counted noun: "8 km", "5.0 mi", "9,000 m3/s", "700 domains", "84 MW". */
const QUANTITY = /(?<![\w.,])\d[\d,]*(?:\.\d+)?\s?(?:%|[A-Za-z][A-Za-z0-9·]*(?:\/[A-Za-z0-9]+)?(?:\s[A-Za-z]+\/[A-Za-z0-9]+)?)/g;
/**
 * A run of capitalised words, with name particles between them ("Omar
 * al-Mukhtar", "Bank of England"). A full stop
 * belongs to a word only before a letter or hyphen ("U.N.-led"), so that a run
 * ends with its sentence.
 */
const WORD = String.raw`(?:(?:al|el|ad|ash|as|an|at|ar|az)-)?\p{Lu}(?:[\p{L}\p{M}'’\-]|\.(?=[\p{L}\-]))*`;
const PARTICLES = "of|the|al|el|bin|ibn|bint|de|du|da|la|le|von|van|der";
const NAME = new RegExp(`${WORD}(?:[ \\t]+(?:(?:${PARTICLES})[ \\t]+)*${WORD})*`, "gu");
/** Words that start a sentence with a capital without naming anything. */
const NOT_A_NAME = new Set(
  eng.map((w) => w.toLowerCase()).concat(["its", "she", "when", "however", "although", "according", "after", "before", "during", "since", "while", "today"]),
);
/** Words after a number that are not its unit or counted noun ("2006 he", "17 of"); ordinal suffixes ("3rd") are not units either. */
const NOT_A_UNIT = new Set(eng.map((w) => w.toLowerCase()));

/**
 * Candidate mentions found by rules, in order of first occurrence, each once
 * (by {@link entityKey}), at most `max`: dates ("December 7, 2006"), years
 * and year ranges, numbers with a unit or counted noun ("8 km", "700
 * domains"), and runs of capitalised words with name particles ("Omar
 * al-Mukhtar"). Leading function words are cut from a run ("In Tarvik" ->
 * "Tarvik") except "The", which is kept as written; a run that is only a
 * function word ("It", "The") or a single letter is dropped; spans do not
 * overlap (dates first, then years, quantities, names). No model, no gazetteer.
 *
 * They play the part of re3d's own first annotation step (Baleen's automated
 * extraction, "an initial cue for a human annotator"): `extract_entities`
 * gets them as hints to keep, type, or complete. They miss lower-case
 * mentions ("the Army", "rebels"), which the model has to add.
 *
 * @param max - Most candidates returned (default {@link MAX_ENTITIES}).
 */
export function proposeMentions(text: string, max = MAX_ENTITIES): string[] {
  const found: Array<{ at: number; end: number; text: string }> = [];
  const taken: Array<[number, number]> = [];
  const overlaps = (a: number, b: number) => taken.some(([x, y]) => a < y && x < b);
  const add = (at: number, raw: string) => {
    const mention = raw.replace(/[\s.,;:'’-]+$/u, "");
    const end = at + mention.length;
    if (!mention || overlaps(at, end)) return;
    taken.push([at, end]);
    found.push({ at, end, text: mention });
  };
  for (const m of text.matchAll(DATE)) if (/\d|\s/.test(m[0]) || m[0].length > 3) add(m.index ?? 0, m[0]);
  for (const m of text.matchAll(YEAR)) add(m.index ?? 0, m[0]);
  for (const m of text.matchAll(QUANTITY)) {
    const unit = m[0].replace(/^[\d,.]+\s?/, "");
    if (unit && (NOT_A_UNIT.has(unit.toLowerCase()) || /^(?:st|nd|rd|th)$/i.test(unit))) continue; // "2006 he", "3rd"
    add(m.index ?? 0, m[0]);
  }
  for (const m of text.matchAll(NAME)) {
    // Word positions inside the match; leading function words ("In Tarvik", "His Majesty") are not part of the name, "The" is.
    const words = [...m[0].matchAll(/\S+/g)].map((w) => ({ at: (m.index ?? 0) + (w.index ?? 0), text: w[0] }));
    while (words.length > 1 && words[0].text !== "The" && NOT_A_NAME.has(words[0].text.toLowerCase())) words.shift();
    const first = words[0];
    const last = words[words.length - 1];
    const name = text.slice(first.at, last.at + last.text.length);
    if (words.length === 1 && (name.length < 2 || NOT_A_NAME.has(name.toLowerCase().replace(/[.’']+$/u, "")))) continue;
    add(first.at, name);
  }
  const out: string[] = [];
  const seen = new Set<string>();
  for (const f of found.sort((a, b) => a.at - b.at)) {
    const key = entityKey(f.text);
    if (!key || seen.has(key)) continue;
    seen.add(key);
    out.push(f.text);
    if (out.length >= max) break;
  }
  return out;
}

// ------------------------------------------------------------------- nodes

export const ENTITY_PROMPT = [
  "Extract the named entities of the text: every mention of one of these types, copied exactly as it is written in the text (no paraphrase, no entity that is not in the text).",
  "A mention that occurs several times is listed once.",
  'The candidates were found by simple rules (capitalised names, dates, numbers): keep those that are entities of these types, with their type, and add the mentions the rules missed, such as lower-case ones ("the Army", "rebels", "a tank").',
].join(" ");

/** Node extract_entities: the typed mentions of the text (structured output), with {@link proposeMentions}' candidates as hints. */
export async function extractEntities(state: Pick<KnowledgeGraphState, "text">, config: LangGraphRunnableConfig) {
  const schema = z.object({
    entities: z.array(Entity).max(MAX_ENTITIES).describe("The entities, in order of appearance"),
  });
  const candidates = proposeMentions(state.text);
  const prompt = [
    `${ENTITY_PROMPT}\nEntity types:\n${optionList(ENTITY_TYPES)}`,
    tagged("text", state.text),
    tagged("candidates", candidates.length ? candidates.map((c) => `- ${c}`).join("\n") : "(none)"),
  ].join("\n\n");
  const { entities } = await invokeStructured(getChatModel("default", config), schema, "EntityExtraction", prompt, config);
  return { candidates, extractedEntities: entities };
}

export const SUMMARY_PROMPT = "Say in one sentence what the document is about.";

/** Node summarize_document: a one-sentence caption of the document (free text). */
export async function summarizeDocument(state: Pick<KnowledgeGraphState, "text">, config: LangGraphRunnableConfig) {
  const answer = await getChatModel("default", config).invoke(`${SUMMARY_PROMPT}\n\n${tagged("document", state.text)}`, config);
  const summary = answer.text;
  return { summary: summary.trim() };
}

export const RELATION_PROMPT = [
  "Given the entities extracted from the text, list the relations the text states between two of them.",
  "Copy source and target exactly from the entity list; the relation reads source -> target.",
  "Use only relations the text supports.",
].join(" ");

/** Node map_relations: typed relations between the extracted entities (structured output); none without two entities. */
export async function mapRelations(state: Pick<KnowledgeGraphState, "text" | "extractedEntities">, config: LangGraphRunnableConfig) {
  const known = new Set(state.extractedEntities.map((e) => entityKey(e.text)));
  if (known.size < 2) return { extractedRelations: [] };
  const schema = z.object({
    relations: z.array(Relation).max(MAX_RELATIONS).describe("The relations, in order of appearance"),
  });
  const list = state.extractedEntities.map((e) => `- ${e.text} (${e.type})`).join("\n");
  const prompt = `${RELATION_PROMPT}\nRelation types:\n${optionList(RELATION_TYPES)}\n\n${tagged("entities", list)}\n\n${tagged("text", state.text)}`;
  const { relations } = await invokeStructured(getChatModel("default", config), schema, "RelationMapping", prompt, config);
  return { extractedRelations: relations };
}

/** What build_graph reads from the state. */
export interface BuildGraphInput {
  text: string;
  documentId?: string;
  /** summarize_document's caption ("" or absent: no title). */
  summary?: string;
  extractedEntities: Entity[];
  extractedRelations: Relation[];
}

/**
 * Node build_graph, deterministic (no model): keeps the extracted entities
 * that occur in the text, merges mentions with the same {@link entityKey} and
 * type (first spelling kept), keeps the relations whose two ends are kept
 * entities (matched by key; a self-loop is dropped), merges duplicate
 * relations, and draws the graph.
 */
export function buildGraph(state: BuildGraphInput): { entities: Entity[]; relations: Relation[]; graph: KnowledgeGraph } {
  const nodes: KnowledgeGraph["nodes"] = [];
  const entities: Entity[] = [];
  const byKeyAndType = new Map<string, number>();
  const byKey = new Map<string, number>();
  let ungrounded = 0;
  for (const e of state.extractedEntities) {
    const key = entityKey(e.text);
    if (!key || !occursIn(e.text, state.text)) {
      ungrounded++;
      continue;
    }
    const seen = byKeyAndType.get(`${e.type}\u0000${key}`);
    if (seen !== undefined) {
      nodes[seen].mentions++;
      continue;
    }
    const index = nodes.length;
    byKeyAndType.set(`${e.type}\u0000${key}`, index);
    if (!byKey.has(key)) byKey.set(key, index);
    nodes.push({ id: `n${index}`, label: e.text.trim(), type: e.type, mentions: 1 });
    entities.push({ text: e.text.trim(), type: e.type });
  }
  const edges: KnowledgeGraph["edges"] = [];
  const relations: Relation[] = [];
  const seenEdges = new Set<string>();
  let dangling = 0;
  for (const r of state.extractedRelations) {
    const from = byKey.get(entityKey(r.source));
    const to = byKey.get(entityKey(r.target));
    if (from === undefined || to === undefined || from === to) {
      dangling++;
      continue;
    }
    const id = `${from}\u0000${r.relation}\u0000${to}`;
    if (seenEdges.has(id)) continue;
    seenEdges.add(id);
    edges.push({ source: nodes[from].id, relation: r.relation, target: nodes[to].id });
    relations.push({ source: nodes[from].label, relation: r.relation, target: nodes[to].label });
  }
  const adjacency: KnowledgeGraph["adjacency"] = {};
  for (const n of nodes) adjacency[n.id] = [];
  for (const e of edges) adjacency[e.source].push({ relation: e.relation, target: e.target });
  const caption = state.summary ?? "";
  const mermaid = [
    ...(caption ? ["---", `title: ${JSON.stringify(caption.slice(0, 200))}`, "---"] : []),
    "graph LR",
    ...nodes.map((n) => `  ${n.id}["${mermaidLabel(n.label)}<br/><i>${n.type}</i>"]`),
    ...edges.map((e) => `  ${e.source} -->|${e.relation}| ${e.target}`),
  ].join("\n");
  return {
    entities,
    relations,
    graph: {
      documentId: state.documentId ?? null,
      caption,
      nodes,
      edges,
      adjacency,
      mermaid,
      stats: {
        extractedEntities: state.extractedEntities.length,
        ungroundedEntities: ungrounded,
        extractedRelations: state.extractedRelations.length,
        danglingRelations: dangling,
      },
    },
  };
}

export const definition = defineWorkflow({
  name: "knowledgeGraph",
  description: "DAG: extract entities and caption in one superstep, map relations, then build the graph deterministically",
  pattern: "DAG (dependency map)",
  input: KnowledgeGraphInput,
  builder: buildDag<KnowledgeGraphState>({
    state: KnowledgeGraphState,
    input: KnowledgeGraphInput,
    output: KnowledgeGraphOutput,
    nodes: {
      extract_entities: { run: extractEntities },
      summarize_document: { run: summarizeDocument },
      map_relations: { run: mapRelations, dependsOn: ["extract_entities"] },
      build_graph: { run: buildGraph, dependsOn: ["extract_entities", "map_relations", "summarize_document"], retryPolicy: false },
    },
  }),
  example: {
    documentId: "example",
    text:
      "The Harbour Authority of Velmont opened the Eastbridge Terminal in March 2019. Its director, Mara Quint, met the Ostrian delegation in Velmont. The terminal handles 40,000 containers a month.",
  },
});

export const graph = definition.graph;
