/**
 * Prototype (not part of the suite): heap growth of a bulkClassification
 * fan-out while its tasks complete, for the README's cause 1. Latencies of
 * 2-12 s: every task starts before the first ends, then completions spread
 * over 10 s. Quadratic growth shows as about x4 per doubling of N.
 *
 * ```sh
 * for n in 1000 2000 4000; do node --expose-gc --import tsx bench/prototypes/fanOutHeap.ts $n; done
 * node --expose-gc --import tsx bench/prototypes/fanOutHeap.ts 2000 --snapshot   # writes a .heapsnapshot to the working directory
 * ```
 */
import { writeHeapSnapshot } from "node:v8";
import { benchItems, prepareProcess, simulatedModel } from "../common.js";
import { runWorkflow } from "../../src/facade.js";

prepareProcess();
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --expose-gc");
const n = Number(process.argv[2] ?? 2000);
const model = simulatedModel({ quick: false, seed: 1 }, { meanMs: 7000, spreadMs: 5000 });
const items = benchItems(n);
const wait = () => new Promise((r) => setTimeout(r, 50));
gc();
const h0 = process.memoryUsage().heapUsed;
runWorkflow("bulkClassification", { items }, { configurable: { modelOverride: model } }).catch((e) => console.error("run failed:", e));
while (model.stats.delays.length < n) await wait();
gc();
const h1 = process.memoryUsage().heapUsed;
while (model.stats.calls < n / 2) await wait();
gc();
const h2 = process.memoryUsage().heapUsed;
const mib = (x: number) => (x / 2 ** 20).toFixed(0);
console.log(`N=${n}: heap with every task pending +${mib(h1 - h0)} MiB; half completed +${mib(h2 - h0)} MiB (grew ${mib(h2 - h1)} MiB during completions)`);
if (process.argv.includes("--snapshot")) console.log(writeHeapSnapshot());
process.exit(0);
