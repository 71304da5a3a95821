/**
 * The package as a user gets it: `npm pack`, installed into a new project
 * beside its peers (no optional peer), then
 * 1. a plain `node` ESM file imports it and runs a ready workflow;
 * 2. a TypeScript consumer (strict, `nodenext`, no `skipLibCheck`) builds its
 *    own graph from two builders (examples/ticketTriage.ts) and runs it through
 *    `runWorkflow`;
 * 3. the installed `llm-workflows` bin runs `list`, a ready workflow, and the
 *    consumer's compiled graph file.
 * Needs the npm registry (or its cache) for the peers: it installs the same
 * pinned versions as the project, so `--prefer-offline` finds them in the cache.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string; devDependencies: Record<string, string> };

/** The environment of a user's shell: no provider keys, no settings of this project's tests. */
function userEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith("OPENAI_") || key.startsWith("LLM_WORKFLOWS_") || key.startsWith("VITEST") || key === "NODE_OPTIONS") delete env[key];
  return env;
}

describe("the packed package in a new project", () => {
  let dir: string;
  let app: string;
  let packed: Array<{ path: string }>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "llm-workflows-consumer-"));
    app = join(dir, "app");
    // dist/ is built by `npm test` (and by `npm ci` through `prepare`): pack it as it is.
    const { stdout } = await run("npm", ["pack", ROOT, "--ignore-scripts", "--json", "--pack-destination", dir], { cwd: dir, env: userEnv() });
    const [info] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
    packed = info.files;
    await run("mkdir", ["-p", app]);
    writeFileSync(
      join(app, "package.json"),
      JSON.stringify({
        name: "consumer",
        private: true,
        type: "module",
        dependencies: {
          "llm-workflows": `file:../${info.filename}`,
          "@langchain/core": pkg.devDependencies["@langchain/core"],
          "@langchain/langgraph": pkg.devDependencies["@langchain/langgraph"],
          zod: "4.6.7",
        },
        devDependencies: { typescript: pkg.devDependencies.typescript, "@types/node": pkg.devDependencies["@types/node"] },
      }),
    );
    await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--ignore-scripts"], { cwd: app, env: userEnv() });
  }, 300_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("ships the compiled library, its types, the bin and the licence, and no tests, benchmarks or CI files", () => {
    const paths = packed.map((f) => f.path);
    for (const expected of ["LICENSE", "bin/llm-workflows.js", "dist/src/index.js", "dist/src/index.d.ts", "dist/graphs/index.js", "dist/src/testing.d.ts"]) expect(paths).toContain(expected);
    expect(paths.filter((p) => /^(test|bench|\.ci|scripts|src|graphs)\//.test(p))).toEqual([]);
    expect(paths.filter((p) => p.endsWith(".ts") && !p.endsWith(".d.ts"))).toEqual([]);
  });

  it("a plain node ESM file imports it and runs a ready workflow", async () => {
    writeFileSync(
      join(app, "plain.mjs"),
      [
        'import { runWorkflow } from "llm-workflows";',
        'import { supportRouting } from "llm-workflows/workflows";',
        'import { OfflineChatModel } from "llm-workflows/testing";',
        'const out = await runWorkflow(supportRouting, { query: "I was charged twice for one order" });',
        "console.log(JSON.stringify({ category: out.category, offline: typeof OfflineChatModel }));",
      ].join("\n"),
    );
    const { stdout } = await run(process.execPath, ["plain.mjs"], { cwd: app, env: userEnv() });
    expect(JSON.parse(stdout)).toEqual({ category: "billing", offline: "function" });
  }, 60_000);

  it("a strict TypeScript consumer (nodenext, no skipLibCheck) compiles its own graph and runs it through runWorkflow", async () => {
    copyFileSync(join(ROOT, "examples/ticketTriage.ts"), join(app, "agent.ts"));
    writeFileSync(
      join(app, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: { target: "ES2022", lib: ["ES2023"], module: "nodenext", moduleResolution: "nodenext", strict: true, skipLibCheck: false, outDir: "out", types: ["node"] },
        files: ["agent.ts"],
      }),
    );
    await run(process.execPath, [join(app, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"], { cwd: app, env: userEnv() });
    const { stdout } = await run(process.execPath, ["out/agent.js"], { cwd: app, env: userEnv() });
    // The router sent the refund request down the prompt chain, which wrote both of its steps.
    expect(stdout).toMatch(/^refunds: \S/);
  }, 180_000);

  it("the installed bin lists the workflows and runs a ready one and the consumer's graph file", async () => {
    const bin = join(app, "node_modules/.bin/llm-workflows");
    const list = await run(bin, ["list"], { cwd: app, env: userEnv() });
    expect(list.stdout).toMatch(/^supportRouting\s+routing/m);
    const ready = await run(bin, ["run", "supportRouting", "--input", '{"query":"my card payment was declined"}', "--json"], { cwd: app, env: userEnv() });
    expect(JSON.parse(ready.stdout)).toHaveProperty("route");
    const own = await run(bin, ["run", "./out/agent.js:graph", "--input", '{"ticket":"Please refund my money back"}', "--json"], { cwd: app, env: userEnv() });
    const output = JSON.parse(own.stdout) as { route: string; summary: string };
    expect(output.route).toBe("refunds");
    expect(output.summary).not.toBe("");
    // Usage of the user's graph reaches the CLI's table: the chain made two model calls.
    expect(own.stderr).toMatch(/^total\s+2\s/m);
  }, 120_000);
});
