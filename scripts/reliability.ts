/**
 * The reliability figures: workflows against the fault-injecting OpenAI server
 * (test/helpers/faultServer.ts) on loopback.
 *
 * 1. A 1,000-item bulkClassification at a 20% mixed fault rate: every item present once, in order;
 *    retries (faults seen), wall time, tokens.
 * 2. The multi-intent orchestrator on 50 messages at the same fault rate.
 * 3. Throughput under a 600 requests/minute provider limit with the client limited to 600 rpm:
 *    sustained rate over the run, as a share of the limit, and failed items.
 *
 * It reads no data set (the items and messages are generated), so it takes
 * no `--data-dir`.
 *
 * ```sh
 * npx tsx scripts/reliability.ts [--items 1000] [--throughput-requests 300]
 * ```
 */
import { setMaxListeners } from "node:events";
import { intOption, parseCommandLine, runScript } from "./lib/cli.js";

const HELP = `Usage: npx tsx scripts/reliability.ts [options]

Runs workflows against the fault-injecting OpenAI-compatible server of the tests, on
loopback: bulkClassification at a 20% mixed fault rate, multiIntentSupport on 50
messages, and the throughput under a 600 requests/minute limit. Reads no data set.

Options:
  --items N                  items of the bulkClassification run (1-100000, default 1000)
  --throughput-requests N    requests of the throughput run (2-100000, default 300)
  -h, --help                 show this help`;

async function main(): Promise<void> {
  const { values } = parseCommandLine(HELP, { items: { type: "string" }, "throughput-requests": { type: "string" } });
  const itemCount = intOption("items", values.items, 1000, 1, 100_000);
  const throughputRequests = intOption("throughput-requests", values["throughput-requests"], 300, 2, 100_000);
  const { runWorkflow } = await import("../src/facade.js");
  const { closeRateLimiters } = await import("../src/runtime/rateLimit.js");
  const { startFaultServer } = await import("../test/helpers/faultServer.js");
  const { definition: bulkClassification } = await import("../graphs/bulkClassification.js");
  const { definition: multiIntentSupport } = await import("../graphs/multiIntentSupport.js");
  type FaultServerOptions = import("../test/helpers/faultServer.js").FaultServerOptions;
  setMaxListeners(0); // one abort listener per parallel task, as in the facade
  const MIXED: FaultServerOptions["faults"] = {
    rate_limit_retry_after: 0.03,
    rate_limit_bare: 0.03,
    server_500: 0.03,
    server_503: 0.03,
    connection_reset: 0.03,
    slow: 0.01,
    truncated_stream: 0.01,
    invalid_json: 0.015,
    schema_mismatch: 0.015,
  };
  const faultsSeen = (f: Record<string, number>) => Object.values(f).reduce((a, b) => a + b, 0);

  // 1. bulk classification under faults
  {
    const server = await startFaultServer({ seed: 2026, faults: MIXED, slowMs: 3_000, retryAfterSeconds: 1 });
    const n = itemCount;
    const items = Array.from({ length: n }, (_, i) => `Ticket ${i}: ${i % 3 === 0 ? "the server is down, urgent" : i % 3 === 1 ? "you won a free prize, click" : "minutes of the meeting attached"}`);
    const started = Date.now();
    const out = await runWorkflow(
      bulkClassification,
      { items, labelDescriptions: { urgent: "outage, down, urgent", spam: "prize, free, click", normal: "meeting, minutes" } },
      { configurable: { baseURL: server.url, apiKey: "sk-fault-server", model: "gpt-4o-mini", timeoutMs: 1_500, maxRetries: 8, maxConcurrency: 64 } },
    );
    const seconds = (Date.now() - started) / 1000;
    const inOrder = out.results.every((r: { item: string }, i: number) => r.item === items[i]);
    process.stdout.write(
      `1. bulkClassification, ${n} items, ${(100 * faultsSeen(MIXED as Record<string, number>)).toFixed(0)}% mixed faults: ` +
        `${out.results.length}/${n} results, each once and in order: ${inOrder && out.results.length === n}; ` +
        `${server.stats.requests} requests for ${n} items (${faultsSeen(server.stats.faults)} faults retried or repaired: ${JSON.stringify(server.stats.faults)}); ` +
        `${seconds.toFixed(1)} s; ${server.stats.tokens.toLocaleString("en-US")} tokens served\n`,
    );
    await server.close();
  }

  // 2. multi-intent orchestrator under faults
  {
    const server = await startFaultServer({ seed: 7, faults: MIXED, slowMs: 3_000, retryAfterSeconds: 1 });
    const messages = Array.from(
      { length: 50 },
      (_, i) => `I was charged twice on invoice INV-${3000 + i}. The kettle I bought leaks and I want to return it. Where is my order ${55100000 + i}?`,
    );
    const started = Date.now();
    let tasks = 0;
    let done = 0;
    const outs = await Promise.all(
      messages.map((message) =>
        runWorkflow(multiIntentSupport, { message, reviewBeforeSend: false }, { configurable: { baseURL: server.url, apiKey: "sk-fault-server", model: "gpt-4o-mini", timeoutMs: 1_500, maxRetries: 8 } }),
      ),
    );
    for (const o of outs) {
      tasks += o.tasks.length;
      done += o.outcomes.filter((x: { status: string }) => x.status === "done").length;
    }
    const sent = outs.filter((o) => o.sent).length;
    process.stdout.write(
      `2. multiIntentSupport, ${messages.length} messages: ${tasks} tasks, ${done} done, ${sent} emails sent (one per message); ` +
        `${server.stats.requests} requests (${faultsSeen(server.stats.faults)} faults); ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
    );
    await server.close();
  }

  // 3. throughput at a 600 rpm limit
  {
    const limit = 600;
    const server = await startFaultServer({ rpm: limit });
    const n = throughputRequests;
    const items = Array.from({ length: n }, (_, i) => `item ${i}: the server is down`);
    const started = Date.now();
    const out = await runWorkflow(bulkClassification, { items }, { configurable: { baseURL: server.url, apiKey: "k", model: "gpt-4o-mini", rpm: limit, timeoutMs: 5_000 } });
    const times = server.stats.successTimes;
    const spanMin = (times[times.length - 1] - times[0]) / 60_000;
    const rate = (times.length - 1) / spanMin;
    process.stdout.write(
      `3. throughput at ${limit} requests/minute: ${times.length} requests in ${((Date.now() - started) / 1000).toFixed(1)} s, ` +
        `sustained ${rate.toFixed(0)}/min = ${((100 * rate) / limit).toFixed(1)}% of the limit; 429s from the server: ${server.stats.rateLimited}; ` +
        `failed items: ${out.results.filter((r: { label: string | null }) => r.label === null).length}\n`,
    );
    await server.close();
  }
  await closeRateLimiters();
}

runScript("reliability", main);
