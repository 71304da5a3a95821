/**
 * Reading re3d (Dstl's relationship and entity extraction evaluation data
 * set, `mongoexport` JSON files) and scoring the `knowledgeGraph` workflow's
 * entities and relations against its gold annotations, for
 * `scripts/evalKnowledgeGraph.ts` (whose module doc describes the scoring).
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { ENTITY_TYPES, entityKey, type Entity, type Relation } from "../../graphs/knowledgeGraph.js";
import { DataFileError } from "../../src/runtime/errors.js";

/** One re3d document. */
export interface Re3dDocument {
  _id: string;
  title: string;
  text: string;
}
/** One re3d entity annotation. */
export interface Re3dEntity {
  documentId: string;
  type: string;
  value: string;
  confidence: number;
}
/** One re3d relation annotation. */
export interface Re3dRelation {
  documentId: string;
  source: string;
  target: string;
  type: string;
  confidence: number;
}

/**
 * Reads a `mongoexport` file: one JSON object per line (a BOM allowed).
 * @throws {DataFileError} naming the file and line when a line is not JSON.
 */
export function readMongoExport<T>(file: string): T[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    throw new DataFileError(file, "no such file (is the re3d data set in the data directory?)");
  }
  return text
    .replace(/^\uFEFF/, "")
    .split("\n")
    .map((line, i) => ({ line: line.trim(), n: i + 1 }))
    .filter(({ line }) => line)
    .map(({ line, n }) => {
      try {
        return JSON.parse(line) as T;
      } catch (error) {
        throw new DataFileError(`${file}:${n}`, `invalid JSON (${(error as Error).message})`);
      }
    });
}

/** Matched, predicted and gold counts of one measure. */
export interface Score {
  matched: number;
  predicted: number;
  gold: number;
}

/** Adds the overlap of `predicted` with `gold` (both sets) to `score`. */
export function addSets(score: Score, predicted: Set<string>, gold: Set<string>): void {
  score.predicted += predicted.size;
  score.gold += gold.size;
  for (const p of predicted) if (gold.has(p)) score.matched++;
}

/** Precision, recall and F1 of a score (undefined when a denominator is 0). */
export function prf(score: Score): { precision?: number; recall?: number; f1?: number } {
  const precision = score.predicted ? score.matched / score.predicted : undefined;
  const recall = score.gold ? score.matched / score.gold : undefined;
  const f1 = precision !== undefined && recall !== undefined && precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : precision === 0 || recall === 0 ? 0 : undefined;
  return { precision, recall, f1 };
}

const empty = (): Score => ({ matched: 0, predicted: 0, gold: 0 });
const SEP = "\u0000";
const typed = (text: string, type: string) => `${entityKey(text)}${SEP}${type}`;
const labelled = (s: string, type: string, t: string) => `${entityKey(s)}${SEP}${type}${SEP}${entityKey(t)}`;
const unlabelled = (s: string, t: string) => [entityKey(s), entityKey(t)].sort().join(SEP);

/** Scores of one run over a set of documents. */
export interface Evaluation {
  entitiesTyped: Score;
  entitiesText: Score;
  candidatesText: Score;
  relationsLabelled: Score;
  relationsUnlabelled: Score;
  byType: Record<string, Score>;
}

/** A fresh {@link Evaluation}. */
export function newEvaluation(): Evaluation {
  return { entitiesTyped: empty(), entitiesText: empty(), candidatesText: empty(), relationsLabelled: empty(), relationsUnlabelled: empty(), byType: {} };
}

/** Adds one document's predictions and gold annotations to `into`. */
export function scoreDocument(
  into: Evaluation,
  predicted: { entities: Entity[]; relations: Relation[]; candidates: string[] },
  gold: { entities: Re3dEntity[]; relations: Re3dRelation[] },
): void {
  const goldTyped = new Set(gold.entities.map((e) => typed(e.value, e.type)));
  const predTyped = new Set(predicted.entities.map((e) => typed(e.text, e.type)));
  addSets(into.entitiesTyped, predTyped, goldTyped);
  const goldText = new Set(gold.entities.map((e) => entityKey(e.value)));
  addSets(into.entitiesText, new Set(predicted.entities.map((e) => entityKey(e.text))), goldText);
  addSets(into.candidatesText, new Set(predicted.candidates.map(entityKey)), goldText);
  addSets(into.relationsLabelled, new Set(predicted.relations.map((r) => labelled(r.source, r.relation, r.target))), new Set(gold.relations.map((r) => labelled(r.source, r.type, r.target))));
  addSets(into.relationsUnlabelled, new Set(predicted.relations.map((r) => unlabelled(r.source, r.target))), new Set(gold.relations.map((r) => unlabelled(r.source, r.target))));
  const types = new Set([...gold.entities.map((e) => e.type), ...predicted.entities.map((e) => e.type)]);
  for (const type of types) {
    into.byType[type] ??= empty();
    addSets(
      into.byType[type],
      new Set(predicted.entities.filter((e) => e.type === type).map((e) => typed(e.text, e.type))),
      new Set(gold.entities.filter((e) => e.type === type).map((e) => typed(e.value, e.type))),
    );
  }
}

const pct = (x: number | undefined) => (x === undefined ? "n/a" : `${(100 * x).toFixed(1)}%`);

/** The evaluation as a text table (rows of measures, then entities per type). */
export function formatTable(evaluation: Evaluation): string {
  const rows: string[][] = [["measure", "gold", "predicted", "matched", "precision", "recall", "F1"]];
  const add = (name: string, s: Score) => {
    const { precision, recall, f1 } = prf(s);
    rows.push([name, String(s.gold), String(s.predicted), String(s.matched), pct(precision), pct(recall), pct(f1)]);
  };
  add("entities (text + type)", evaluation.entitiesTyped);
  add("entities (text only)", evaluation.entitiesText);
  add("candidates, rules only (text only)", evaluation.candidatesText);
  add("relations (labelled, directed)", evaluation.relationsLabelled);
  add("relations (unlabelled, undirected)", evaluation.relationsUnlabelled);
  rows.push(["", "", "", "", "", "", ""]);
  const inScope = new Set<string>(Object.keys(ENTITY_TYPES));
  const types = Object.entries(evaluation.byType).sort((a, b) => b[1].gold - a[1].gold || a[0].localeCompare(b[0]));
  for (const [type, score] of types) add(`  ${type}${inScope.has(type) ? "" : " (not extracted)"}`, score);
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join("  ").trimEnd();
  return [line(rows[0]), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)].join("\n");
}
