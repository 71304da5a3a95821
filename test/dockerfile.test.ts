/**
 * The deployment image: `langgraphjs dockerfile` generates a Dockerfile from
 * langgraph.json that serves every graph on the Node version it names. No
 * Docker engine: the file is generated and read, not built.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { workflowNames } from "../graphs/index.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const CLI = join(ROOT, "node_modules/@langchain/langgraph-cli/dist/cli/cli.mjs");

interface LanggraphJson {
  node_version?: string;
  graphs: Record<string, string>;
}

let dir: string;
let dockerfile: string;
let config: LanggraphJson;

beforeAll(async () => {
  config = JSON.parse(await readFile(join(ROOT, "langgraph.json"), "utf8"));
  dir = await mkdtemp(join(tmpdir(), "llm-workflows-dockerfile-"));
  await promisify(execFile)(process.execPath, [CLI, "dockerfile", join(dir, "Dockerfile")], {
    cwd: ROOT,
    env: { ...process.env, LANGGRAPH_CLI_NO_ANALYTICS: "1" },
    timeout: 30_000,
  });
  dockerfile = await readFile(join(dir, "Dockerfile"), "utf8");
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Dockerfile instructions, without comments and blank lines. */
const instructions = () =>
  dockerfile
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));

describe("langgraphjs dockerfile", () => {
  it("writes only the Dockerfile it was asked for", async () => {
    expect(await readdir(dir)).toEqual(["Dockerfile"]);
  });

  it("starts FROM the langgraphjs-api image for Node 20 (langgraph.json's node_version)", () => {
    expect(config.node_version).toBe("20");
    const [first] = instructions();
    expect(first).toMatch(/^FROM\s+(?:[\w.-]+\/)*langgraphjs-api:20(?:[-\s]|$)/);
  });

  it("serves exactly langgraph.json's graphs (LANGSERVE_GRAPHS)", () => {
    const env = instructions().find((l) => /^ENV\s+LANGSERVE_GRAPHS=/.test(l));
    expect(env, dockerfile).toBeDefined();
    const raw = env!.replace(/^ENV\s+LANGSERVE_GRAPHS=/, "");
    const json = raw.startsWith("'") && raw.endsWith("'") ? raw.slice(1, -1) : raw;
    expect(JSON.parse(json)).toEqual(config.graphs);
  });

  it("names every registered workflow", () => {
    expect(Object.keys(config.graphs).sort()).toEqual([...workflowNames].sort());
    for (const [name, path] of Object.entries(config.graphs)) {
      expect(dockerfile).toContain(`"${name}":"${path}"`);
      expect(path).toBe(`./graphs/${name}.ts:graph`);
    }
  });

  it("installs the locked dependencies inside the image", () => {
    expect(instructions()).toEqual(expect.arrayContaining([expect.stringMatching(/^ADD \. \/deps\//), "RUN npm ci"]));
  });
});
