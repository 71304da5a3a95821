/**
 * Child-process entry of the benchmarks: `node --import tsx bench/job.ts NAME PARAMS_JSON`
 * runs one job and prints its result as one line `BENCH_RESULT <json>` on stdout.
 * `bench/run.ts` starts one per measurement so that runs do not share a heap,
 * a JIT state or a peak RSS.
 *
 * @module
 */
import { runJob } from "./jobs.js";

const [name, params] = process.argv.slice(2);
try {
  const result = await runJob(name, JSON.parse(params ?? "{}"));
  // Exit once the line is out: open handles (pools, timers of a stopped run) must not keep the process.
  process.stdout.write(`BENCH_RESULT ${JSON.stringify(result)}\n`, () => process.exit(0));
} catch (error) {
  console.error(error instanceof Error ? error.stack ?? error.message : error);
  process.exit(1);
}
