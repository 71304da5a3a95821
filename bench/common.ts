/**
 * What the benchmark sections share: timing, statistics, the plain promise
 * pool baseline, the simulated model, PostgreSQL databases of the bench's own,
 * and the shape of a section's report.
 *
 * @module
 */
import { performance } from "node:perf_hooks";
import { setMaxListeners } from "node:events";
// Registers the ready workflows in the facade's registry: the sections run them by name.
import "../graphs/index.js";
import { SimulatedChatModel, type SimulatedModelOptions } from "../src/models/simulated.js";
import { createTestDatabase, postgresReachable as serverReachable } from "../test/helpers/postgres.js";

/** Options every section gets. */
export interface BenchOptions {
  /** Smaller N and fewer repetitions (under a minute in all). */
  quick: boolean;
  /** Seed of the simulated model. */
  seed: number;
}

/** A table of a section's report. */
export interface Table {
  title?: string;
  columns: string[];
  rows: Array<Array<string | number>>;
}

/** A target of the issue, checked against a measured value. */
export interface Target {
  section: number;
  /** What is checked, e.g. "fan-out N=1000 unbounded: graph / Promise.all". */
  what: string;
  /** The target, e.g. "<= 1.05x". */
  target: string;
  /** The measured value, formatted. */
  value: string;
  met: boolean;
}

/** What a section returns: tables and notes for results.md, targets, and raw figures for results.json. */
export interface SectionReport {
  section: number;
  title: string;
  /** One paragraph: what is measured against which baseline. */
  method: string;
  tables: Table[];
  notes: string[];
  targets: Target[];
  raw: unknown;
  /** Wall time of the section in seconds. */
  seconds?: number;
}

/** Milliseconds since an arbitrary origin. */
export const now = () => performance.now();

/** Runs `fn` and returns its result and its wall time in ms. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = now();
  const value = await fn();
  return { ms: now() - start, value };
}

/** The median of `xs` (the mean of the two middle values for an even count). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * The baseline for a bounded fan-out: a plain promise pool of `concurrency`
 * workers taking items in order (what p-limit or asyncio.Semaphore do).
 */
export async function promisePool<I, R>(items: readonly I[], concurrency: number, fn: (item: I, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane));
  return results;
}

/**
 * The pure-latency floor of a pool of `concurrency` lanes taking calls in
 * order with these delays (list scheduling, no CPU time): what neither the
 * baseline nor the graph can beat.
 */
export function poolFloor(delays: readonly number[], concurrency: number): number {
  if (delays.length === 0) return 0;
  if (concurrency >= delays.length) return Math.max(...delays);
  const lanes = new Array<number>(concurrency).fill(0);
  for (const d of delays) {
    let k = 0;
    for (let j = 1; j < lanes.length; j++) if (lanes[j] < lanes[k]) k = j;
    lanes[k] += d;
  }
  return Math.max(...lanes);
}

/** Formats a number with `digits` decimals. */
export const fmt = (x: number, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : "n/a");
/** Formats a ratio: `1.03x`. */
export const ratio = (x: number, digits = 2) => `${fmt(x, digits)}x`;
/** Formats milliseconds: whole ms from 100 up. */
export const ms = (x: number) => (Number.isFinite(x) ? (x >= 100 ? x.toFixed(0) : x.toFixed(1)) : "n/a");
/** Formats bytes in KiB/MiB. */
export function bytes(n: number): string {
  if (!Number.isFinite(n)) return "n/a";
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

let prepared = false;
/**
 * Process setup for a benchmark process (an application, so it may): no
 * abort-listener warnings (LangGraph adds one listener per parallel task).
 */
export function prepareProcess(): void {
  if (prepared) return;
  prepared = true;
  setMaxListeners(0);
}

/**
 * Tells the runner (from a child process) how long the next step may take:
 * past `deadlineMs` from now, the runner kills this process and uses `partial`
 * as its result. A run whose microtasks starve the event loop (LangGraph's
 * quadratic fan-out at N = 10,000) cannot stop itself with an AbortSignal
 * timer, hence the parent's watch. `deadlineMs: null` clears the watch.
 */
export function reportProgress(deadlineMs: number | null, partial?: unknown): void {
  if (process.env.LLM_WORKFLOWS_BENCH_CHILD !== "1") return;
  process.stdout.write(`BENCH_PROGRESS ${JSON.stringify({ deadlineMs, partial })}\n`);
}

/** A simulated model with the bench's defaults: seeded, 100 ms +/- 30 ms, fixed answers unless told otherwise. */
export function simulatedModel(opts: BenchOptions, overrides: SimulatedModelOptions = {}): SimulatedChatModel {
  return new SimulatedChatModel({ seed: opts.seed, meanMs: 100, spreadMs: 30, content: "fixed", ...overrides });
}

/** `items` texts for a fan-out of `n` (distinct, so that each draws its own latency). */
export function benchItems(n: number): string[] {
  const kinds = [
    "the production server is down and customers cannot log in, please fix it asap",
    "congratulations, you won a free cruise, click here to claim your prize",
    "minutes from the weekly team meeting are attached, see the schedule update",
  ];
  return Array.from({ length: n }, (_, i) => `Message ${i + 1}: ${kinds[i % kinds.length]}`);
}

// ---------------------------------------------------------------------------
// PostgreSQL: a database of the bench's own on the local server.

/** Admin URL of the PostgreSQL server the bench may create databases on. */
export const POSTGRES_ADMIN_URL =
  process.env.LLM_WORKFLOWS_BENCH_POSTGRES_URL ?? process.env.LLM_WORKFLOWS_TEST_POSTGRES_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";

/** Whether the PostgreSQL server answers within 3 s. */
export function postgresReachable(): Promise<boolean> {
  return serverReachable(POSTGRES_ADMIN_URL);
}

/** Creates a fresh database `llmw_bench_*` and returns its URL and a function that drops it. */
export function createBenchDatabase(): Promise<{ name: string; url: string; drop: () => Promise<void> }> {
  return createTestDatabase("llmw_bench", POSTGRES_ADMIN_URL);
}

/** The `q` quantile of `xs` (linear interpolation between the order statistics; q in 0..1). */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

/** Median, quartiles and extremes of `xs`. */
export interface Spread {
  median: number;
  q1: number;
  q3: number;
  min: number;
  max: number;
  n: number;
}

/** The {@link Spread} of `xs`. */
export function spread(xs: readonly number[]): Spread {
  return { median: median(xs), q1: quantile(xs, 0.25), q3: quantile(xs, 0.75), min: Math.min(...xs), max: Math.max(...xs), n: xs.length };
}

/** A ratio with its interquartile range: `1.03x (IQR 1.01-1.05)`. */
export const ratioSpread = (s: Spread, digits = 2) => `${ratio(s.median, digits)} (IQR ${fmt(s.q1, digits)}-${fmt(s.q3, digits)})`;

/**
 * The verdict on "at most `target`" from paired ratios: `met` when the median
 * and the upper quartile are both within it (at least three runs in four meet
 * it), `missed` when the median is over it, and `undecided` in between (the
 * spread straddles the target: the runs cannot tell).
 */
export function verdict(s: Spread, target: number): "met" | "undecided" | "missed" {
  if (s.median > target) return "missed";
  return s.q3 <= target ? "met" : "undecided";
}
