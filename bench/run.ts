/**
 * The benchmark suite: `npm run bench` (full, several minutes) or
 * `npm run bench -- --quick` (under a minute). It measures what this project
 * adds on top of the model calls, on a simulated model that is deterministic
 * for a seed, each figure a ratio against a baseline run in the same process on
 * the same simulated latencies, and writes `bench/results.md` and
 * `bench/results.json` (full mode; quick and partial runs write
 * `bench/out/results-quick.*` and `bench/out/results-partial.*`, which git ignores).
 *
 * Options:
 *   --quick            smaller N, fewer repetitions
 *   --only 1,3         only these sections (written to bench/out/results-partial.* unless --out)
 *   --seed N           seed of the simulated model (default 1)
 *   --out PREFIX       write PREFIX.md and PREFIX.json
 *   --inline           run every job in this process (to profile it all:
 *                      node --cpu-prof --import tsx bench/run.ts --inline ...);
 *                      quick mode runs sections 1-4 inline anyway (each of
 *                      their figures is a ratio within one process) and
 *                      section 5 in child processes
 *   --cpu-prof         profile every child process into bench/out/profiles/
 *   --render FILE.json rewrite FILE.md from the raw figures in FILE.json (no measuring)
 *
 * Sections: 1 fan-out, 2 per-node overhead, 3 the source's FAQ speedup,
 * 4 calls and wall time per pattern, 5 memory and checkpoint size,
 * 6 facade vs the compiled graph's .invoke, 7 every fan-out pattern vs Promise.all.
 *
 * @module
 */
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { createBenchDatabase, fmt, now, POSTGRES_ADMIN_URL, postgresReachable, type BenchOptions, type SectionReport, type Table } from "./common.js";
import { FAN_OUT_LIMITS, fanOutPlan, fanOutReport, type FanOutMode } from "./fanOut.js";
import { runJob } from "./jobs.js";
import { MEMORY_RUN_BUDGET_MS, memoryPlan, memoryReport, type MemoryResult } from "./memory.js";
import { nodeOverheadPlan, nodeOverheadReport, type OverheadRow, type SaverKind } from "./nodeOverhead.js";
import { patternsReport } from "./patterns.js";
import { FACADE_SAVERS, facadePlan, facadeReport, type FacadeRow } from "./facadeOverhead.js";
import { sendPatternsPlan, sendPatternsReport, type SendRow } from "./sendPatterns.js";
import { speedupReport } from "./speedup.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");

interface Args {
  render?: string;
  quick: boolean;
  only?: number[];
  seed: number;
  out?: string;
  inline: boolean;
  cpuProf: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { quick: false, seed: 1, inline: false, cpuProf: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = a.includes("=") ? a.slice(a.indexOf("=") + 1) : argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--quick") args.quick = true;
    else if (a === "--inline") args.inline = true;
    else if (a === "--cpu-prof") args.cpuProf = true;
    else if (a.startsWith("--only")) args.only = value().split(",").map(Number);
    else if (a.startsWith("--seed")) args.seed = Number(value());
    else if (a.startsWith("--out")) args.out = value();
    else if (a.startsWith("--render")) args.render = value();
    else if (a === "--help" || a === "-h") {
      console.log(readFileSync(fileURLToPath(import.meta.url), "utf8").split("*/")[0].replace(/^\/\*\*|^ \* ?/gm, ""));
      process.exit(0);
    } else throw new Error(`unknown option ${a} (see --help)`);
  }
  if (!Number.isInteger(args.seed)) throw new Error("--seed must be a whole number");
  if (args.only?.some((s) => !(s >= 1 && s <= 7))) throw new Error("--only takes section numbers 1 to 7");
  return args;
}

const args = parseArgs(process.argv.slice(2));
const opts: BenchOptions = { quick: args.quick, seed: args.seed };
const log = (message: string) => process.stderr.write(`${message}\n`);

/** Runs job `name` in a child process (or inline) and returns its result. */
async function job<T>(name: string, params: Record<string, unknown>, label: string): Promise<T> {
  const started = now();
  log(`  ${label} ...`);
  let result: T;
  if (args.inline || (args.quick && name !== "memory")) result = (await runJob(name, params)) as T;
  else {
    const profDir = join(here, "out", "profiles");
    if (args.cpuProf) mkdirSync(profDir, { recursive: true });
    const nodeArgs = [
      "--expose-gc",
      "--max-old-space-size=16384",
      ...(args.cpuProf ? ["--cpu-prof", `--cpu-prof-dir=${profDir}`, `--cpu-prof-name=${name}-${label.replace(/\W+/g, "_")}-${Date.now()}.cpuprofile`] : []),
      "--import",
      "tsx",
      join(here, "job.ts"),
      name,
      JSON.stringify(params),
    ];
    result = await new Promise<T>((resolvePromise, reject) => {
      const child = spawn(process.execPath, nodeArgs, { cwd: root, stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, LLM_WORKFLOWS_BENCH_CHILD: "1" } });
      let out = "";
      let watch: NodeJS.Timeout | undefined;
      let stopped: T | undefined;
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        out += chunk;
        let nl: number;
        while ((nl = out.indexOf("\n")) >= 0) {
          const line = out.slice(0, nl);
          out = out.slice(nl + 1);
          if (line.startsWith("BENCH_RESULT ")) result = JSON.parse(line.slice("BENCH_RESULT ".length));
          else if (line.startsWith("BENCH_PROGRESS ")) {
            const { deadlineMs, partial } = JSON.parse(line.slice("BENCH_PROGRESS ".length));
            clearTimeout(watch);
            // A grace period for a run that stops itself at its deadline.
            if (deadlineMs !== null) watch = setTimeout(() => stop(partial), deadlineMs + 15_000);
          }
        }
      });
      let result: T | undefined;
      const stop = (partial: any) => {
        const peak = peakRssBytes(child.pid!);
        log(`  ${label}: still running past its budget; stopped (peak RSS ${fmt(peak / 2 ** 20, 0)} MiB)`);
        stopped = withPeak(partial, peak);
        child.kill("SIGKILL");
        // Temporary SQLite files the killed process could not remove (bench/memory.ts, bench/nodeOverhead.ts name them by pid).
        for (const file of readdirSync(tmpdir())) if (file.startsWith(`llmw-bench-${child.pid}-`)) rmSync(join(tmpdir(), file), { force: true });
      };
      child.on("error", reject);
      child.on("close", (code, signal) => {
        clearTimeout(watch);
        if (stopped !== undefined) resolvePromise(stopped);
        else if (code === 0 && result !== undefined) resolvePromise(result);
        else reject(new Error(`job ${name} (${label}) failed: exit ${code ?? signal}`));
      });
    });
  }
  log(`  ${label}: ${fmt((now() - started) / 1000, 1)} s`);
  return result;
}

/** Peak RSS (VmHWM) of a running process, bytes; 0 where /proc is not available. */
function peakRssBytes(pid: number): number {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** A stopped job's partial result with the process's peak RSS filled in (the shapes of sections 1 and 5). */
function withPeak<T>(partial: any, peak: number): T {
  if (partial && Array.isArray(partial.modes)) {
    const last = partial.modes[partial.modes.length - 1];
    if (last) last.maxRssMiB = peak / 2 ** 20;
  } else if (partial && typeof partial === "object") partial.maxRssBytes = peak;
  return partial as T;
}

/** Runs `fn` with a fresh PostgreSQL database of the bench's own, dropped afterwards. */
async function withDatabase<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const db = await createBenchDatabase();
  try {
    return await fn(db.url);
  } finally {
    await db.drop();
  }
}

async function postgresVersion(): Promise<string | undefined> {
  if (!(await postgresReachable())) return undefined;
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await client.connect();
  try {
    return String((await client.query("SHOW server_version")).rows[0].server_version);
  } finally {
    await client.end();
  }
}

const sections: Record<number, (pgOk: boolean) => Promise<SectionReport>> = {
  1: async () => {
    const results: Array<{ n: number; modes: FanOutMode[] }> = [];
    for (const p of fanOutPlan(opts)) {
      // One process per N and limit in full mode, so that a large run's heap does not slow the next.
      const modes: FanOutMode[] = [];
      for (const limit of FAN_OUT_LIMITS) {
        const label = `fan-out N=${p.n}, ${limit === null ? "unbounded" : `maxConcurrency ${limit}`}`;
        modes.push(...(await job<{ modes: FanOutMode[] }>("fanOut", { ...p, seed: opts.seed, limits: [limit] }, label)).modes);
      }
      results.push({ n: p.n, modes });
    }
    return fanOutReport(results, opts);
  },
  2: async (pgOk) => {
    const plan = nodeOverheadPlan(opts);
    const rows: OverheadRow[] = [];
    const skipped: string[] = [];
    for (const saver of ["none", "memory", "sqlite", "postgres"] as SaverKind[]) {
      const params = { ...plan, saver, seed: opts.seed };
      if (saver === "postgres") {
        if (!pgOk) {
          skipped.push(`PostgreSQL rows skipped: no server at ${POSTGRES_ADMIN_URL} (set LLM_WORKFLOWS_BENCH_POSTGRES_URL).`);
          continue;
        }
        rows.push(...(await withDatabase((url) => job<OverheadRow[]>("nodeOverhead", { ...params, postgresUrl: url }, `per-node overhead, ${saver}`))));
      } else rows.push(...(await job<OverheadRow[]>("nodeOverhead", params, `per-node overhead, ${saver}`)));
    }
    return nodeOverheadReport(rows, opts, skipped);
  },
  3: async () => speedupReport(await job<any>("speedup", { quick: opts.quick, seed: opts.seed }, "FAQ speedup"), opts),
  4: async () => {
    const reps = opts.quick ? 1 : 5;
    return patternsReport(await job<any>("patterns", { reps, seed: opts.seed }, "patterns"), opts, reps);
  },
  5: async (pgOk) => {
    const results: MemoryResult[] = [];
    const skipped: string[] = [];
    for (const n of memoryPlan(opts)) {
      results.push(await job<MemoryResult>("memory", { kind: "plain", n, seed: opts.seed }, `memory, plain N=${n}`));
      results.push(await job<MemoryResult>("memory", { kind: "sqlite", n, seed: opts.seed, budgetMs: MEMORY_RUN_BUDGET_MS }, `memory, SQLite N=${n}`));
      if (pgOk) {
        results.push(
          await withDatabase((url) => job<MemoryResult>("memory", { kind: "postgres", n, seed: opts.seed, postgresUrl: url, budgetMs: MEMORY_RUN_BUDGET_MS }, `memory, PostgreSQL N=${n}`)),
        );
      }
    }
    if (!pgOk) skipped.push(`PostgreSQL rows skipped: no server at ${POSTGRES_ADMIN_URL} (set LLM_WORKFLOWS_BENCH_POSTGRES_URL).`);
    return memoryReport(results, opts, skipped);
  },
  6: async () => {
    const rows: FacadeRow[] = [];
    for (const saver of FACADE_SAVERS) rows.push(...(await job<FacadeRow[]>("facade", { ...facadePlan(opts), saver, seed: opts.seed }, `facade, checkpointer ${saver}`)));
    return facadeReport(rows, opts);
  },
  7: async () => {
    const rows: SendRow[] = [];
    for (const p of sendPatternsPlan(opts)) rows.push(...(await job<SendRow[]>("sendPatterns", { ...p, seed: opts.seed }, `fan-out patterns N=${p.n}`)));
    return sendPatternsReport(rows, opts);
  },
};

function markdownTable(t: Table): string {
  const esc = (v: string | number) => String(v).replace(/\|/g, "\\|");
  return [
    ...(t.title ? [`**${t.title}**`, ""] : []),
    `| ${t.columns.map(esc).join(" | ")} |`,
    `| ${t.columns.map(() => "---").join(" | ")} |`,
    ...t.rows.map((r) => `| ${r.map(esc).join(" | ")} |`),
  ].join("\n");
}

function versionOf(pkg: string): string {
  try {
    return JSON.parse(readFileSync(join(root, "node_modules", pkg, "package.json"), "utf8")).version;
  } catch {
    return "?";
  }
}

interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  langgraph: string;
  langchainCore: string;
  postgres: string;
}

/** What results.json holds. */
interface Results {
  generatedAt: string;
  command: string;
  mode: "quick" | "full";
  seed: number;
  machine: Machine;
  seconds: number;
  loadAverages: Record<number, [number, number]>;
  sections: SectionReport[];
}

/** A section's report again from its raw figures (for --render, after the report code changed). */
function rerender(report: SectionReport, o: BenchOptions): SectionReport {
  if (report.raw === null) return report;
  const raw = report.raw as any;
  const skipped = report.notes.filter((n) => n.includes("skipped"));
  const again =
    report.section === 1
      ? fanOutReport(raw, o)
      : report.section === 2
        ? nodeOverheadReport(raw, o, skipped)
        : report.section === 3
          ? speedupReport(raw, o)
          : report.section === 4
            ? patternsReport(raw, o, Math.max(...raw.map((r: any) => r.graphMs.length)))
            : report.section === 5
              ? memoryReport(raw, o, skipped)
              : report.section === 6
                ? facadeReport(raw, o)
                : sendPatternsReport(raw, o);
  return { ...again, seconds: report.seconds };
}

function markdown(r: Results, jsonPath: string): string {
  const { machine, loadAverages: loads, sections: reports } = r;
  const allLoads = Object.values(loads).flat();
  const maxLoad = Math.max(...allLoads);
  const minLoad = Math.min(...allLoads);
  // The benchmark keeps up to two processes busy itself (the measuring child, and PostgreSQL in sections 2 and 5).
  const busy = maxLoad > machine.cores + 1;
  const targets = reports.flatMap((x) => x.targets);
  return [
    `# Benchmark results (${r.mode} mode)`,
    "",
    `\`${r.command}\` on ${r.generatedAt.slice(0, 10)}: ${machine.cores} x ${machine.cpu}, ${machine.memoryGiB} GiB, Node ${machine.node}, ` +
      `@langchain/langgraph ${machine.langgraph}, @langchain/core ${machine.langchainCore}, PostgreSQL ${machine.postgres}; ` +
      `simulated model seed ${r.seed}; ${fmt(r.seconds, 0)} s in all. Every figure is a ratio against a baseline run in the same process ` +
      `on the same simulated latencies (see each section). Raw figures: \`${jsonPath}\`.`,
    "",
    ...(busy
      ? [
          `> The machine was busy with other work during this run (1-minute load average up to ${fmt(maxLoad, 1)} on ${machine.cores} cores): ` +
            `CPU-bound figures (sections 1, 2, 5, 6, 7) are inflated and noisy; compare them with a run on an idle machine.`,
          "",
        ]
      : [`1-minute load average ${fmt(minLoad, 1)}-${fmt(maxLoad, 1)} at the starts and ends of the sections, the benchmark's own processes included (${machine.cores} cores).`, ""]),
    "## Targets",
    "",
    markdownTable({
      columns: ["section", "what", "target", "measured", "met"],
      rows: targets.map((t) => [t.section, t.what, t.target, t.value, t.met ? "met" : "**missed**"]),
    }),
    "",
    `${targets.filter((t) => t.met).length} of ${targets.length} targets met.`,
    ...reports.flatMap((x) => [
      "",
      `## ${x.section}. ${x.title}`,
      "",
      x.method,
      ...x.tables.flatMap((t) => ["", markdownTable(t)]),
      ...(x.notes.length ? ["", ...x.notes.map((n) => `- ${n}`)] : []),
      "",
      `(${fmt(x.seconds ?? 0, 0)} s; 1-minute load average ${fmt(loads[x.section]?.[0] ?? NaN, 1)} before, ${fmt(loads[x.section]?.[1] ?? NaN, 1)} after)`,
    ]),
    "",
  ].join("\n");
}

async function main(): Promise<void> {
  if (args.render) {
    // Re-render the Markdown of an earlier run from its JSON (no measuring).
    const path = resolve(args.render);
    const results = JSON.parse(readFileSync(path, "utf8")) as Results;
    const o = { quick: results.mode === "quick", seed: results.seed };
    results.sections = results.sections.map((r) => rerender(r, o));
    writeFileSync(path, JSON.stringify(results, null, 2) + "\n");
    writeFileSync(path.replace(/\.json$/, ".md"), markdown(results, relative(root, path)));
    log(`rewrote ${relative(root, path.replace(/\.json$/, ".md"))} from ${relative(root, path)}`);
    return;
  }
  const started = now();
  const chosen = args.only ?? [1, 2, 3, 4, 5, 6, 7];
  const pgVersion = await postgresVersion();
  const machine: Machine = {
    cpu: cpus()[0]?.model ?? "?",
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    langgraph: versionOf("@langchain/langgraph"),
    langchainCore: versionOf("@langchain/core"),
    postgres: pgVersion ?? "not reachable",
  };
  log(`llm-workflows benchmarks, ${args.quick ? "quick" : "full"} mode, seed ${opts.seed}, sections ${chosen.join(", ")}`);
  const reports: SectionReport[] = [];
  const loads: Record<number, [number, number]> = {};
  for (const s of chosen) {
    const t = now();
    const before = loadavg()[0];
    log(`section ${s} (load average ${fmt(before, 1)})`);
    let report: SectionReport;
    try {
      report = await sections[s](pgVersion !== undefined);
    } catch (error) {
      log(`section ${s} failed: ${error instanceof Error ? error.message : error}`);
      report = { section: s, title: "(failed)", method: "", tables: [], notes: [`The section failed: ${error instanceof Error ? error.message : error}`], targets: [], raw: null };
    }
    report.seconds = (now() - t) / 1000;
    loads[s] = [before, loadavg()[0]];
    reports.push(report);
    log(`section ${s}: ${fmt(report.seconds, 1)} s`);
  }
  const prefix = resolve(args.out ?? (args.only ? join(here, "out", "results-partial") : args.quick ? join(here, "out", "results-quick") : join(here, "results")));
  mkdirSync(dirname(prefix), { recursive: true });
  const results: Results = {
    generatedAt: new Date().toISOString(),
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`,
    mode: args.quick ? "quick" : "full",
    seed: opts.seed,
    machine,
    seconds: (now() - started) / 1000,
    loadAverages: loads,
    sections: reports,
  };
  writeFileSync(`${prefix}.json`, JSON.stringify(results, null, 2) + "\n");
  writeFileSync(`${prefix}.md`, markdown(results, `${relative(root, prefix)}.json`));
  const targets = reports.flatMap((r) => r.targets);
  log(`wrote ${relative(root, prefix)}.md and .json in ${fmt(results.seconds, 1)} s: ${targets.filter((t) => t.met).length} of ${targets.length} targets met`);
}

await main();
