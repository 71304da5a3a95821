/**
 * What the CLI runs: a workflow name (in the user's `langgraph.json` when
 * `--config` is given, else among the ready workflows), or a graph in a file,
 * named the way `langgraph.json` names graphs: `./src/agent.ts:graph`.
 * TypeScript files load without a build step (through tsx's loader, scoped to
 * that import).
 *
 * @module
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, extname, isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { createRegistry, type WorkflowRegistry } from "../registry.js";
import { GraphLoadError, importOptional, MissingDependencyError } from "../runtime/errors.js";
import { isCompiledGraph, isStateGraph, workflowFromGraph, type WorkflowDefinition } from "../workflow.js";

/** Extensions of files loaded through tsx. */
const TYPESCRIPT_EXTENSIONS = new Set([".ts", ".mts", ".cts", ".tsx"]);

/** A `path:export` graph spec split in two (the export defaults to `graph`, as the LangGraph CLI's does not: it requires one). */
export interface GraphSpec {
  /** Absolute path of the module. */
  path: string;
  /** The export holding the graph. */
  exportName: string;
}

/** Whether `target` names a file (`./agent.ts:graph`, `/abs/agent.js`, `agent.ts`) rather than a workflow name. */
export function isGraphSpec(target: string): boolean {
  const path = splitSpec(target).path;
  return /[\\/]/.test(path) || /\.(m|c)?[jt]sx?$/.test(path);
}

function splitSpec(spec: string): { path: string; exportName?: string } {
  const colon = spec.lastIndexOf(":");
  // A Windows drive letter ("C:\\...") is not an export separator.
  if (colon > 1 && !/[\\/]/.test(spec.slice(colon + 1))) return { path: spec.slice(0, colon), exportName: spec.slice(colon + 1) };
  return { path: spec };
}

/** Parses `path[:export]` relative to `baseDir`. */
export function parseGraphSpec(spec: string, baseDir: string = process.cwd()): GraphSpec {
  const { path, exportName } = splitSpec(spec);
  return { path: isAbsolute(path) ? path : resolve(baseDir, path), exportName: exportName || "graph" };
}

/**
 * Imports `path`. A TypeScript file that Node cannot load by itself (Node 20
 * has no type stripping) is loaded after registering tsx's loader for this
 * process: the CLI is an application, and a process-wide loader (unlike tsx's
 * scoped `tsImport`) keeps one copy of `@langchain/core` and of this library
 * between the CLI and the user's graph, which the usage tracking needs.
 */
async function importModule(path: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(path).href;
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException)?.code !== "ERR_UNKNOWN_FILE_EXTENSION" || !TYPESCRIPT_EXTENSIONS.has(extname(path))) throw error;
  }
  const tsx = await importOptional("tsx", `loading the TypeScript file ${path}`, () => import("tsx/esm/api"));
  tsx.register();
  // A new URL: Node keeps the failed load of the first one.
  return (await import(`${url}?tsx`)) as Record<string, unknown>;
}

/**
 * Loads the graph that `spec` names and makes a definition of it, named
 * `name` (default: the export's name) and remembering its source, so that a
 * thread it writes can be resumed by another process. The export may be a
 * compiled or uncompiled `StateGraph`, a promise of one, or a function
 * returning one (as `langgraph.json` allows).
 *
 * @throws {GraphLoadError} naming the path and the export: a missing file, a
 *   module that fails to load, a missing export, or an export that is not a graph.
 */
export async function loadGraph(spec: string, options: { baseDir?: string; name?: string } = {}): Promise<WorkflowDefinition<any>> {
  const { path, exportName } = parseGraphSpec(spec, options.baseDir);
  const where = `${path}:${exportName}`;
  if (!existsSync(path) || !statSync(path).isFile()) throw new GraphLoadError(where, "no such file");
  let module: Record<string, unknown>;
  try {
    module = await importModule(path);
  } catch (error) {
    if (error instanceof MissingDependencyError) throw error;
    const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new GraphLoadError(where, `the module failed to load: ${message}`, { cause: error });
  }
  if (!(exportName in module)) {
    const exported = Object.keys(module).filter((k) => k !== "__esModule");
    throw new GraphLoadError(where, `no export "${exportName}"; it exports: ${exported.join(", ") || "nothing"}`);
  }
  let value = await module[exportName];
  if (typeof value === "function" && !isStateGraph(value)) value = await (value as (config: object) => unknown)({});
  if (!isCompiledGraph(value) && !isStateGraph(value)) {
    throw new GraphLoadError(where, `the export is not a LangGraph StateGraph (got ${value === null ? "null" : typeof value}); export a StateGraph or its compile() result`);
  }
  return workflowFromGraph(value, options.name ?? exportName, where);
}

/** The graphs of a `langgraph.json`: name -> `path:export`, relative to the file's folder. */
export interface LangGraphConfig {
  /** Absolute path of the file. */
  file: string;
  graphs: Record<string, string>;
}

/**
 * Reads a `langgraph.json`.
 * @throws {GraphLoadError} when the file is missing, is not JSON, or has no `graphs` object of strings.
 */
export function readLangGraphConfig(file: string): LangGraphConfig {
  const path = resolve(file);
  if (!existsSync(path)) throw new GraphLoadError(path, "no such file (--config expects a langgraph.json)");
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new GraphLoadError(path, `not valid JSON (${(error as Error).message})`);
  }
  const graphs = (parsed as { graphs?: unknown })?.graphs;
  if (!graphs || typeof graphs !== "object" || Array.isArray(graphs)) throw new GraphLoadError(path, 'expected a "graphs" object mapping names to "./path:export"');
  for (const [name, spec] of Object.entries(graphs)) {
    // The LangGraph CLI also accepts { path, description }; only the path matters here.
    const target = typeof spec === "string" ? spec : (spec as { path?: unknown })?.path;
    if (typeof target !== "string") throw new GraphLoadError(path, `graphs.${name}: expected "./path:export"`);
    (graphs as Record<string, string>)[name] = target;
  }
  return { file: path, graphs: graphs as Record<string, string> };
}

/** Loads every graph of `config` into a registry, each named by its key. */
export async function registryFromConfig(config: LangGraphConfig, only?: string[]): Promise<WorkflowRegistry> {
  const registry = createRegistry();
  for (const [name, spec] of Object.entries(config.graphs)) {
    if (only && !only.includes(name)) continue;
    registry.register(await loadGraph(spec, { baseDir: dirname(config.file), name }));
  }
  return registry;
}
