/** Every registered workflow: its registration, diagram, example run, and the schemas it exposes. */
import { describe, expect, it } from "vitest";
import { readFileSync, existsSync } from "node:fs";
import { workflowNames, workflows, getWorkflow } from "../../graphs/index.js";

const langgraphJson = JSON.parse(readFileSync(new URL("../../langgraph.json", import.meta.url), "utf8")) as { graphs: Record<string, string> };

describe.each([...workflowNames])("workflow %s", (name) => {
  const workflow = getWorkflow(name);

  it("is listed in langgraph.json, pointing at graphs/<name>.ts:graph", () => {
    expect(langgraphJson.graphs[name]).toBe(`./graphs/${name}.ts:graph`);
    expect(existsSync(new URL(`../../graphs/${name}.ts`, import.meta.url))).toBe(true);
  });

  it("exports the compiled graph without a checkpointer", async () => {
    const mod = await import(`../../graphs/${name}.ts`);
    expect(mod.graph).toBe(workflow.graph);
    expect(mod.graph.checkpointer).toBeFalsy();
  });

  it("draws a Mermaid diagram with every node", () => {
    const mermaid = workflow.graph.getGraph().drawMermaid();
    expect(mermaid).toMatch(/^%%\{init/);
    for (const node of Object.keys(workflow.builder.nodes)) expect(mermaid).toContain(node);
  });

  it("runs its example input end to end with the offline model", async () => {
    const output = await workflow.graph.invoke(workflow.input.parse(workflow.example));
    expect(Object.keys(output).length).toBeGreaterThan(0);
    for (const channel of workflow.graph.outputChannels as string[]) expect(output).toHaveProperty(channel);
  });

  it("validates input with its zod schema and has a description", () => {
    expect(workflow.input.safeParse(workflow.example).success).toBe(true);
    expect(workflow.input.safeParse({}).success).toBe(false);
    expect(workflow.description.length).toBeGreaterThan(10);
  });
});

it("registers every workflow, one per file in graphs/", () => {
  expect(workflowNames).toEqual(Object.keys(workflows));
  expect([...workflowNames].sort()).toEqual(Object.keys(langgraphJson.graphs).sort());
});
