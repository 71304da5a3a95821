/**
 * Section 5, memory and checkpoint size: one bulkClassification run of N items
 * on a fresh thread with the SQLite and the PostgreSQL checkpointer (durability
 * `async`, the default), each in its own child process, measuring the child's
 * peak RSS and the bytes the run left in the SQLite file / the PostgreSQL
 * tables. Baselines: the same calls with plain `Promise.all` in a child of
 * their own (RSS), a child that only loads the modules (RSS at rest), and the
 * run's payload, the JSON of its input items and output results (bytes).
 *
 * @module
 */
import { randomUUID } from "node:crypto";
import { existsSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { classifyItem, DEFAULT_LABELS } from "../graphs/bulkClassification.js";
import { runWorkflow } from "../src/facade.js";
import { openCheckpointer } from "../src/runtime/checkpointer.js";
import { benchItems, bytes, fmt, prepareProcess, ratio, reportProgress, simulatedModel, timed, type BenchOptions, type SectionReport, type Table, type Target } from "./common.js";

/** Largest growth of a per-item figure from the smallest to the largest N still called linear. */
export const MEMORY_LINEAR_TOLERANCE = 1.15;

/** Time budget of one checkpointed run: a longer run is stopped and reported as such. */
export const MEMORY_RUN_BUDGET_MS = 240_000;

export function memoryPlan(opts: BenchOptions): number[] {
  return opts.quick ? [100, 500] : [1_000, 10_000];
}

export type MemoryKind = "plain" | "sqlite" | "postgres";

export interface StorageBytes {
  /** Bytes the database occupies: the SQLite file, or the PostgreSQL tables with indexes and TOAST. */
  storedBytes: number;
  /** Bytes of the stored values themselves (checkpoints, metadata, blobs, writes). */
  logicalBytes: number;
  /** Per table (PostgreSQL) or per kind (SQLite): stored bytes and rows. */
  tables: Record<string, { bytes: number; rows: number; logicalBytes: number }>;
}

export interface MemoryResult {
  kind: MemoryKind;
  n: number;
  /** Peak resident set size of the child process, bytes. */
  maxRssBytes: number;
  /** Resident set size just before the run (modules loaded), bytes. */
  restRssBytes: number;
  runMs: number;
  /** Set when the run went over its time budget and was stopped (no storage figures then). */
  overBudget?: boolean;
  /** JSON bytes of the input items plus the output results. */
  payloadBytes: number;
  storage?: StorageBytes;
}

/** Job (its own child process): one measurement. */
export async function memoryJob(params: { kind: MemoryKind; n: number; seed: number; postgresUrl?: string; budgetMs?: number }): Promise<MemoryResult> {
  prepareProcess();
  const model = simulatedModel({ quick: false, seed: params.seed }, { meanMs: 0, spreadMs: 0 });
  const configurable = { modelOverride: model };
  const items = benchItems(params.n);
  const context = { labels: DEFAULT_LABELS, labelDescriptions: {} };
  const result: MemoryResult = { kind: params.kind, n: params.n, maxRssBytes: 0, restRssBytes: process.memoryUsage().rss, runMs: 0, payloadBytes: 0 };
  let results: unknown[] = [];
  if (params.kind === "plain") {
    const run = await timed(() => Promise.all(items.map((item, i) => classifyItem(item, i, context, { configurable } as any))));
    results = run.value;
    result.runMs = run.ms;
  } else if (params.kind === "sqlite" || params.kind === "postgres") {
    const path = join(tmpdir(), `llmw-bench-${process.pid}-${randomUUID()}.sqlite`);
    const opened = await openCheckpointer(params.kind === "sqlite" ? `sqlite:${path}` : params.postgresUrl!);
    const budget = params.budgetMs ?? MEMORY_RUN_BUDGET_MS;
    const signal = AbortSignal.timeout(budget);
    reportProgress(budget, { ...result, overBudget: true, runMs: budget, payloadBytes: Buffer.byteLength(JSON.stringify(items)) });
    try {
      const run = await timed(() =>
        runWorkflow<{ results: unknown[] }>("bulkClassification", { items }, { configurable, checkpointer: opened.saver, threadId: `bench-memory-${params.n}`, signal }),
      );
      results = run.value.results;
      result.runMs = run.ms;
      reportProgress(null);
      if (results.length !== params.n) throw new Error(`bulkClassification returned ${results.length} of ${params.n} results`);
      // Let background (durability async) writes land before measuring.
      await new Promise((r) => setTimeout(r, 200));
      if (params.kind === "sqlite") {
        result.storage = sqliteBytes((opened.saver as any).db, path);
      }
    } catch (error) {
      if (!signal.aborted) throw error;
      result.overBudget = true;
      result.runMs = budget;
    } finally {
      await opened.close();
    }
    if (params.kind === "sqlite") {
      if (result.storage) result.storage.storedBytes = fileBytes(path);
      for (const suffix of ["", "-wal", "-shm", "-journal"]) rmSync(path + suffix, { force: true });
    } else if (!result.overBudget) {
      result.storage = await postgresBytes(params.postgresUrl!);
    }
  }
  result.payloadBytes = Buffer.byteLength(JSON.stringify(items)) + Buffer.byteLength(JSON.stringify(results));
  result.maxRssBytes = process.resourceUsage().maxRSS * 1024;
  return result;
}

function fileBytes(path: string): number {
  let total = 0;
  for (const suffix of ["", "-wal", "-journal"]) if (existsSync(path + suffix)) total += statSync(path + suffix).size;
  return total;
}

function sqliteBytes(db: any, path: string): StorageBytes {
  const one = (sql: string) => db.prepare(sql).get() as { rows: number; bytes: number | null };
  const checkpoints = one("SELECT COUNT(*) AS rows, SUM(LENGTH(checkpoint) + LENGTH(metadata)) AS bytes FROM checkpoints");
  const writes = one("SELECT COUNT(*) AS rows, SUM(LENGTH(value)) AS bytes FROM writes");
  const sendWrites = one("SELECT COUNT(*) AS rows, SUM(LENGTH(value)) AS bytes FROM writes WHERE channel = '__pregel_tasks'");
  const tables: StorageBytes["tables"] = {
    checkpoints: { bytes: checkpoints.bytes ?? 0, rows: checkpoints.rows, logicalBytes: checkpoints.bytes ?? 0 },
    writes: { bytes: writes.bytes ?? 0, rows: writes.rows, logicalBytes: writes.bytes ?? 0 },
    "writes (Send payloads)": { bytes: sendWrites.bytes ?? 0, rows: sendWrites.rows, logicalBytes: sendWrites.bytes ?? 0 },
  };
  return { storedBytes: fileBytes(path), logicalBytes: (checkpoints.bytes ?? 0) + (writes.bytes ?? 0), tables };
}

async function postgresBytes(url: string): Promise<StorageBytes> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const q = async (sql: string) => (await client.query(sql)).rows[0] as { rows: string; bytes: string | null };
    const size = async (table: string) => Number((await client.query(`SELECT pg_total_relation_size('${table}') AS b`)).rows[0].b);
    const checkpoints = await q("SELECT COUNT(*) AS rows, SUM(octet_length(checkpoint::text) + octet_length(metadata::text)) AS bytes FROM checkpoints");
    const blobs = await q("SELECT COUNT(*) AS rows, SUM(octet_length(blob)) AS bytes FROM checkpoint_blobs");
    const writes = await q("SELECT COUNT(*) AS rows, SUM(octet_length(blob)) AS bytes FROM checkpoint_writes");
    const sends = await q("SELECT COUNT(*) AS rows, SUM(octet_length(blob)) AS bytes FROM checkpoint_writes WHERE channel = '__pregel_tasks'");
    const tables: StorageBytes["tables"] = {
      checkpoints: { bytes: await size("checkpoints"), rows: Number(checkpoints.rows), logicalBytes: Number(checkpoints.bytes ?? 0) },
      checkpoint_blobs: { bytes: await size("checkpoint_blobs"), rows: Number(blobs.rows), logicalBytes: Number(blobs.bytes ?? 0) },
      checkpoint_writes: { bytes: await size("checkpoint_writes"), rows: Number(writes.rows), logicalBytes: Number(writes.bytes ?? 0) },
      "checkpoint_writes (Send payloads)": { bytes: 0, rows: Number(sends.rows), logicalBytes: Number(sends.bytes ?? 0) },
    };
    return {
      storedBytes: tables.checkpoints.bytes + tables.checkpoint_blobs.bytes + tables.checkpoint_writes.bytes,
      logicalBytes: tables.checkpoints.logicalBytes + tables.checkpoint_blobs.logicalBytes + tables.checkpoint_writes.logicalBytes,
      tables,
    };
  } finally {
    await client.end();
  }
}

export function memoryReport(results: MemoryResult[], opts: BenchOptions, skipped: string[]): SectionReport {
  const ns = memoryPlan(opts);
  const rests = results.map((r) => r.restRssBytes);
  const targets: Target[] = [];
  const rssRows: Table["rows"] = [];
  const byteRows: Table["rows"] = [];
  const tableRows: Table["rows"] = [];
  const get = (kind: MemoryKind, n: number) => results.find((r) => r.kind === kind && r.n === n);
  for (const kind of ["plain", "sqlite", "postgres"] as const) {
    const perItemRss: number[] = [];
    const perItemBytes: number[] = [];
    let stopped = false;
    for (const n of ns) {
      const r = get(kind, n);
      if (!r) continue;
      const plain = get("plain", n);
      const rssAbove = r.maxRssBytes - r.restRssBytes;
      perItemRss.push(rssAbove / n);
      if (r.overBudget) stopped = true;
      rssRows.push([
        kind === "plain" ? "plain Promise.all (baseline)" : `bulkClassification, ${kind === "sqlite" ? "SQLite" : "PostgreSQL"}`,
        n.toLocaleString("en-US"),
        bytes(r.maxRssBytes),
        bytes(rssAbove),
        bytes(rssAbove / n),
        plain && kind !== "plain" ? ratio(rssAbove / (plain.maxRssBytes - plain.restRssBytes)) : "-",
        `${r.overBudget ? "> " : ""}${fmt(r.runMs / 1000, 1)} s${r.overBudget ? " (stopped)" : ""}`,
      ]);
      if (r.storage) {
        perItemBytes.push(r.storage.logicalBytes / n);
        byteRows.push([
          kind === "sqlite" ? "SQLite" : "PostgreSQL",
          n.toLocaleString("en-US"),
          bytes(r.payloadBytes),
          bytes(r.storage.logicalBytes),
          bytes(r.storage.storedBytes),
          `${fmt(r.storage.logicalBytes / n, 0)} B`,
          `${fmt(r.storage.storedBytes / n, 0)} B`,
          ratio(r.storage.logicalBytes / r.payloadBytes, 1),
          ratio(r.storage.storedBytes / r.payloadBytes, 1),
        ]);
        for (const [table, t] of Object.entries(r.storage.tables)) {
          tableRows.push([kind === "sqlite" ? "SQLite" : "PostgreSQL", n.toLocaleString("en-US"), table, t.rows.toLocaleString("en-US"), bytes(t.logicalBytes), t.bytes ? bytes(t.bytes) : "-"]);
        }
      }
    }
    if (kind !== "plain" && stopped) {
      targets.push({
        section: 5,
        what: `${kind}: bulkClassification of N=${ns[ns.length - 1].toLocaleString("en-US")} items`,
        target: `finishes (within ${MEMORY_RUN_BUDGET_MS / 1000} s)`,
        value: `stopped after ${MEMORY_RUN_BUDGET_MS / 1000} s`,
        met: false,
      });
    } else if (kind !== "plain" && perItemRss.length === ns.length) {
      const growth = perItemRss[perItemRss.length - 1] / perItemRss[0];
      targets.push({
        section: 5,
        what: `peak RSS above rest per item, ${kind}, N=${ns[0].toLocaleString("en-US")} -> ${ns[ns.length - 1].toLocaleString("en-US")} (linear in N)`,
        target: `growth <= ${MEMORY_LINEAR_TOLERANCE}x`,
        value: ratio(growth),
        met: growth <= MEMORY_LINEAR_TOLERANCE,
      });
    }
    if (perItemBytes.length === ns.length && perItemBytes.length > 1) {
      const growth = perItemBytes[perItemBytes.length - 1] / perItemBytes[0];
      targets.push({
        section: 5,
        what: `checkpoint bytes per item, ${kind}, N=${ns[0].toLocaleString("en-US")} -> ${ns[ns.length - 1].toLocaleString("en-US")} (linear in N)`,
        target: `growth <= ${MEMORY_LINEAR_TOLERANCE}x`,
        value: ratio(growth),
        met: growth <= MEMORY_LINEAR_TOLERANCE,
      });
    }
  }
  const notes = [...skipped];
  for (const kind of ["sqlite", "postgres"] as const) {
    const [first, last] = [get(kind, ns[0]), get(kind, ns[ns.length - 1])];
    const [plainFirst, plainLast] = [get("plain", ns[0]), get("plain", ns[ns.length - 1])];
    if (first && last && plainFirst && plainLast && !last.overBudget) {
      const growth = last.runMs / last.n / (first.runMs / first.n);
      notes.push(
        `${kind === "sqlite" ? "SQLite" : "PostgreSQL"}: run time per item changed ${ratio(growth)} from N=${ns[0].toLocaleString("en-US")} to ` +
          `${ns[ns.length - 1].toLocaleString("en-US")} (plain Promise.all: ${ratio(plainLast.runMs / plainLast.n / (plainFirst.runMs / plainFirst.n))})` +
          (growth > MEMORY_LINEAR_TOLERANCE ? ": more than linear; see section 1 for the scheduling cost per item." : ": linear in N."),
      );
    }
  }
  return {
    section: 5,
    title: "Memory and checkpoint size",
    method:
      `One bulkClassification run of N items on a fresh thread (zero-latency simulated model, fixed answers, durability async), one child process per measurement: ` +
      `peak RSS of the child (\`process.resourceUsage().maxRSS\`), minus its RSS just before the run, modules loaded (${bytes(Math.min(...rests))} to ${bytes(Math.max(...rests))}), ` +
      `against a child making the same calls with plain Promise.all; checkpoint bytes are what the run left in the SQLite file ` +
      `(SUM(LENGTH) of checkpoints and writes; the file) or the PostgreSQL tables (octet lengths; pg_total_relation_size of checkpoints, checkpoint_blobs, checkpoint_writes), ` +
      `against the run's payload (the JSON of its input items and output results).`,
    tables: [
      { title: "Peak RSS", columns: ["run", "N", "peak RSS", "above rest", "per item", "above rest vs baseline", "run time"], rows: rssRows },
      {
        title: "Checkpoint bytes",
        columns: ["checkpointer", "N", "payload (JSON in + out)", "stored values", "on disk", "values per item", "on disk per item", "values / payload", "on disk / payload"],
        rows: byteRows,
      },
      { title: "Where the bytes are", columns: ["checkpointer", "N", "table", "rows", "values", "on disk"], rows: tableRows },
    ],
    notes,
    targets,
    raw: results,
  };
}
