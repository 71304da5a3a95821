import { AIMessage } from "@langchain/core/messages";
import { describe, expect, it, vi } from "vitest";
import {
  buildGraph,
  definition,
  ENTITY_TYPES,
  entityKey,
  extractEntities,
  graph,
  mapRelations,
  occursIn,
  proposeMentions,
  RELATION_TYPES,
  summarizeDocument,
  type Entity,
  type Relation,
} from "../../graphs/knowledgeGraph.js";
import { dagGenerations } from "../../src/patterns/composition/dag.js";
import { InvalidInputError, parseInput } from "../../src/runtime/errors.js";
import { UsageTracker } from "../../src/runtime/usage.js";

/*
 * A run whose `configurable.scripted` holds a fake model gets that model from
 * getChatModel; every other run gets the real factory (the offline model).
 */
vi.mock("../../src/models/factory.js", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../src/models/factory.js")>();
  return {
    ...real,
    getChatModel: (role: any, config?: any) => config?.configurable?.scripted ?? real.getChatModel(role, config),
  };
});

/** A fake chat model: structured answers by schema name, a fixed free-text answer, and the prompts it got. */
function scriptedModel(answers: Record<string, unknown>, text = "A port opened a terminal.") {
  const prompts: Record<string, string> = {};
  return {
    prompts,
    withStructuredOutput: (_schema: unknown, options: { name: string }) => ({
      invoke: async (prompt: string) => {
        prompts[options.name] = prompt;
        return answers[options.name];
      },
    }),
    invoke: async (prompt: string) => {
      prompts.free = prompt;
      return new AIMessage(text);
    },
  };
}

const TEXT =
  "The Harbour Authority of Velmont opened the Eastbridge Terminal in March 2019. Its director, Mara Quint, met the Ostrian delegation in Velmont. The terminal handles 40,000 containers a month.";

describe("helpers", () => {
  it("proposeMentions finds names, dates and quantities, in order, each once, within a sentence", () => {
    expect(proposeMentions(TEXT)).toEqual([
      "The Harbour Authority of Velmont",
      "Eastbridge Terminal",
      "March 2019",
      "Mara Quint",
      "Ostrian",
      "Velmont",
      "40,000 containers",
    ]);
    expect(proposeMentions("In 2006 he left Tarvik. It was late. On December 7, 2006, U.N.-led forces arrived, 8 km (5.0 mi) away.")).toEqual([
      "2006",
      "Tarvik",
      "December 7, 2006",
      "U.N.-led",
      "8 km",
      "5.0 mi",
    ]);
    expect(proposeMentions("no capitals here at all")).toEqual([]);
  });

  it("entityKey merges spellings of one mention; occursIn ignores case and spacing", () => {
    expect(entityKey("The Eastbridge  Terminal.")).toBe(entityKey("eastbridge terminal"));
    expect(entityKey("“Velmont”")).toBe("velmont");
    expect(entityKey("Theodor")).toBe("theodor");
    expect(occursIn("harbour   authority", TEXT)).toBe(true);
    expect(occursIn("Paris", TEXT)).toBe(false);
    expect(occursIn("  ", TEXT)).toBe(false);
  });
});

describe("nodes", () => {
  it("extract_entities (offline) returns typed mentions, from the candidates it was given", async () => {
    const { candidates, extractedEntities } = await extractEntities({ text: TEXT }, {});
    expect(candidates).toEqual(proposeMentions(TEXT));
    expect(extractedEntities.length).toBeGreaterThan(0);
    for (const e of extractedEntities) {
      expect(candidates).toContain(e.text);
      expect(Object.keys(ENTITY_TYPES)).toContain(e.type);
    }
  });

  it("extract_entities sends the type definitions, the text and the candidates to the model", async () => {
    const model = scriptedModel({ EntityExtraction: { entities: [{ text: "Velmont", type: "Location" }] } });
    const out = await extractEntities({ text: TEXT }, { configurable: { scripted: model } });
    expect(out.extractedEntities).toEqual([{ text: "Velmont", type: "Location" }]);
    const prompt = model.prompts.EntityExtraction;
    expect(prompt).toContain("- Person: A specific person.");
    expect(prompt.indexOf("<text>")).toBeLessThan(prompt.indexOf("<candidates>"));
    expect(prompt).toContain("- Mara Quint");
  });

  it("summarize_document (offline) answers with a sentence of the text", async () => {
    const { summary } = await summarizeDocument({ text: TEXT }, {});
    expect(summary.length).toBeGreaterThan(0);
    expect(TEXT).toContain(summary);
  });

  it("map_relations makes no model call with fewer than two distinct entities", async () => {
    const tracker = new UsageTracker();
    const one = [{ text: "Velmont", type: "Location" as const }, { text: "velmont", type: "Location" as const }];
    expect(await mapRelations({ text: TEXT, extractedEntities: one }, { callbacks: [tracker] })).toEqual({ extractedRelations: [] });
    expect(tracker.total.calls).toBe(0);
  });

  it("map_relations (offline) returns relations of the re3d types", async () => {
    const extractedEntities: Entity[] = [
      { text: "Mara Quint", type: "Person" },
      { text: "Velmont", type: "Location" },
    ];
    const { extractedRelations } = await mapRelations({ text: TEXT, extractedEntities }, {});
    for (const r of extractedRelations) expect(Object.keys(RELATION_TYPES)).toContain(r.relation);
  });

  it("build_graph keeps grounded entities, merges duplicates, drops dangling relations and self-loops", () => {
    const extractedEntities: Entity[] = [
      { text: "The Harbour Authority of Velmont", type: "Organisation" },
      { text: "Eastbridge Terminal", type: "Location" },
      { text: "harbour authority of velmont", type: "Organisation" }, // same entity
      { text: "Paris", type: "Location" }, // not in the text
      { text: "Mara Quint", type: "Person" },
      { text: "Velmont", type: "Location" },
    ];
    const extractedRelations: Relation[] = [
      { source: "Harbour Authority of Velmont", relation: "InChargeOf", target: "Eastbridge Terminal" },
      { source: "the harbour authority of Velmont", relation: "InChargeOf", target: "eastbridge terminal" }, // duplicate
      { source: "Mara Quint", relation: "BelongsTo", target: "The Harbour Authority of Velmont" },
      { source: "Mara Quint", relation: "CoLocated", target: "Paris" }, // dangling: Paris was dropped
      { source: "Velmont", relation: "IsSynonymOf", target: "velmont" }, // self-loop
      { source: "Nobody", relation: "CommWith", target: "Velmont" }, // dangling
    ];
    const { entities, relations, graph: g } = buildGraph({ text: TEXT, documentId: "doc-1", summary: "A port.", extractedEntities, extractedRelations });
    expect(entities).toEqual([
      { text: "The Harbour Authority of Velmont", type: "Organisation" },
      { text: "Eastbridge Terminal", type: "Location" },
      { text: "Mara Quint", type: "Person" },
      { text: "Velmont", type: "Location" },
    ]);
    expect(relations).toEqual([
      { source: "The Harbour Authority of Velmont", relation: "InChargeOf", target: "Eastbridge Terminal" },
      { source: "Mara Quint", relation: "BelongsTo", target: "The Harbour Authority of Velmont" },
    ]);
    expect(g.nodes.map((n) => [n.id, n.label, n.mentions])).toEqual([
      ["n0", "The Harbour Authority of Velmont", 2],
      ["n1", "Eastbridge Terminal", 1],
      ["n2", "Mara Quint", 1],
      ["n3", "Velmont", 1],
    ]);
    expect(g.edges).toEqual([
      { source: "n0", relation: "InChargeOf", target: "n1" },
      { source: "n2", relation: "BelongsTo", target: "n0" },
    ]);
    expect(g.adjacency).toEqual({ n0: [{ relation: "InChargeOf", target: "n1" }], n1: [], n2: [{ relation: "BelongsTo", target: "n0" }], n3: [] });
    expect(g.stats).toEqual({ extractedEntities: 6, ungroundedEntities: 1, extractedRelations: 6, danglingRelations: 3 });
    expect(g.documentId).toBe("doc-1");
    expect(g.mermaid).toContain("graph LR");
    expect(g.mermaid).toContain('n0["The Harbour Authority of Velmont<br/><i>Organisation</i>"]');
    expect(g.mermaid).toContain("n0 -->|InChargeOf| n1");
    expect(g.mermaid).toContain('title: "A port."');
  });

  it("build_graph is deterministic and needs no model", () => {
    const input = { text: TEXT, summary: "", extractedEntities: [{ text: "Velmont", type: "Location" as const }], extractedRelations: [] };
    expect(buildGraph(input)).toEqual(buildGraph(input));
    expect(buildGraph(input).graph.mermaid).toBe('graph LR\n  n0["Velmont<br/><i>Location</i>"]');
  });
});

describe("the knowledgeGraph workflow", () => {
  it("is a DAG: entities and caption in one superstep, then relations, then the graph", async () => {
    const steps: Record<string, number> = {};
    for await (const chunk of await graph.stream({ text: TEXT }, { streamMode: "debug" })) {
      const c = chunk as { type: string; step: number; payload: { name: string } };
      if (c.type === "task") steps[c.payload.name] = c.step;
    }
    expect(steps.summarize_document).toBe(steps.extract_entities);
    expect(steps.map_relations).toBe(steps.extract_entities + 1);
    expect(steps.build_graph).toBe(steps.extract_entities + 2);
    const edges = graph.getGraph().edges.map((e) => `${e.source}->${e.target}`).sort();
    expect(edges).toContain("__start__->extract_entities");
    expect(edges).toContain("__start__->summarize_document");
    expect(edges).toContain("summarize_document->build_graph");
    expect(edges).toContain("build_graph->__end__");
    expect(dagGenerations({ extract_entities: [], summarize_document: [], map_relations: ["extract_entities"], build_graph: ["extract_entities", "map_relations", "summarize_document"] })).toEqual([
      ["extract_entities", "summarize_document"],
      ["map_relations"],
      ["build_graph"],
    ]);
  });

  it("runs end to end with the offline model: entities in the text, a graph of them", async () => {
    const out = await graph.invoke({ text: TEXT, documentId: "t1" });
    expect(Object.keys(out).sort()).toEqual(["entities", "graph", "relations", "summary"]);
    expect(out.entities.length).toBeGreaterThan(0);
    for (const e of out.entities) expect(occursIn(e.text, TEXT)).toBe(true);
    expect(out.graph.nodes).toHaveLength(out.entities.length);
    const ids = new Set(out.graph.nodes.map((n: { id: string }) => n.id));
    for (const e of out.graph.edges) expect(ids.has(e.source) && ids.has(e.target)).toBe(true);
    const texts = new Set(out.entities.map((e: Entity) => e.text));
    for (const r of out.relations) expect(texts.has(r.source) && texts.has(r.target)).toBe(true);
    expect(out.graph.documentId).toBe("t1");
    expect(out.graph.caption).toBe(out.summary);
  });

  it("runs end to end with a model that maps relations, and keeps only the grounded ones", async () => {
    const model = scriptedModel({
      EntityExtraction: {
        entities: [
          { text: "Harbour Authority of Velmont", type: "Organisation" },
          { text: "Mara Quint", type: "Person" },
          { text: "Ostrian", type: "Nationality" },
          { text: "Atlantis", type: "Location" },
        ],
      },
      RelationMapping: {
        relations: [
          { source: "Mara Quint", relation: "BelongsTo", target: "Harbour Authority of Velmont" },
          { source: "Mara Quint", relation: "CommWith", target: "Ostrian" },
          { source: "Mara Quint", relation: "CoLocated", target: "Atlantis" },
        ],
      },
    });
    const out = await graph.invoke({ text: TEXT }, { configurable: { scripted: model } });
    expect(out.entities.map((e: Entity) => e.text)).toEqual(["Harbour Authority of Velmont", "Mara Quint", "Ostrian"]);
    expect(out.relations).toEqual([
      { source: "Mara Quint", relation: "BelongsTo", target: "Harbour Authority of Velmont" },
      { source: "Mara Quint", relation: "CommWith", target: "Ostrian" },
    ]);
    expect(out.summary).toBe("A port opened a terminal.");
    expect(out.graph.stats).toEqual({ extractedEntities: 4, ungroundedEntities: 1, extractedRelations: 3, danglingRelations: 1 });
    expect(model.prompts.RelationMapping).toContain("- Mara Quint (Person)");
    expect(model.prompts.RelationMapping).toContain("- BelongsTo: Belongs to:");
  });

  it("rejects an empty or blank text, naming the field", async () => {
    for (const text of ["", "   \n"]) {
      try {
        parseInput("knowledgeGraph", definition.input, { text });
        expect.unreachable("parseInput accepted an empty text");
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidInputError);
        expect((error as InvalidInputError).issues[0].path).toBe("text");
        expect((error as Error).message).toMatch(/invalid input for workflow "knowledgeGraph": text: the text to extract a knowledge graph from is empty/);
      }
    }
    expect(() => parseInput("knowledgeGraph", definition.input, {})).toThrow(/text:/);
    await expect(graph.invoke({ text: "" })).rejects.toThrow(/text/);
  });

  it("has a valid example, a description and a diagram with every node", async () => {
    expect(definition.input.safeParse(definition.example).success).toBe(true);
    expect(definition.name).toBe("knowledgeGraph");
    const mermaid = graph.getGraph().drawMermaid();
    for (const node of ["extract_entities", "summarize_document", "map_relations", "build_graph"]) expect(mermaid).toContain(node);
    const out = await graph.invoke(definition.input.parse(definition.example));
    expect(out.entities.length).toBeGreaterThan(0);
  });
});
