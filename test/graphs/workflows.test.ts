/** Every registered workflow: its registration, diagram, example run, and the schemas it exposes. */
import { describe, expect, it } from "vitest";
import { readFileSync, existsSync } from "node:fs";
import { workflowNames, workflows, getWorkflow } from "../../graphs/index.js";
import { streamWorkflow } from "../../src/facade.js";
import { defaultRegistry } from "../../src/registry.js";

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

  it("runs its example input end to end with the offline model: nodes run without error and write output the input did not hold", async () => {
    const input = workflow.input!.parse(workflow.example) as Record<string, unknown>;
    const nodes: string[] = [];
    let output: Record<string, unknown> = {};
    for await (const event of streamWorkflow(workflow, workflow.example)) {
      if (event.type === "node") {
        expect(event.error, `${event.node} failed`).toBeUndefined();
        nodes.push(event.node);
      } else output = event.output;
    }
    expect(nodes.length).toBeGreaterThanOrEqual(2);
    // A channel a node wrote: not an input field, and not left at an empty default.
    const written = Object.entries(output).filter(([key, value]) => !(key in input) && !isEmpty(value));
    expect(written.map(([key]) => key).length, "no output channel was written").toBeGreaterThan(0);
  });

  it("validates input with its zod schema and has a description", () => {
    expect(workflow.input!.safeParse(workflow.example).success).toBe(true);
    expect(workflow.input!.safeParse({}).success).toBe(false);
    expect(workflow.description.length).toBeGreaterThan(10);
  });
});

/** Whether a value is what a default leaves: null, "", 0, false, [] or {}. */
function isEmpty(value: unknown): boolean {
  if (value === null || value === undefined || value === "" || value === 0 || value === false) return true;
  if (Array.isArray(value)) return value.length === 0;
  return typeof value === "object" && Object.keys(value as object).length === 0;
}

it("registers one workflow per graph of langgraph.json, under that graph's name, in the default registry too", () => {
  expect([...workflowNames].sort()).toEqual(Object.keys(langgraphJson.graphs).sort());
  for (const name of workflowNames) {
    expect(workflows[name].name).toBe(name);
    expect(defaultRegistry.get(name)).toBe(workflows[name]);
  }
});
