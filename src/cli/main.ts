/**
 * The `llm-workflows` command line (commander). Run with no arguments for the
 * main job; `llm-workflows --help` lists the commands.
 *
 * Exit codes: 0 success; 1 an error (bad input, unknown workflow, failed run);
 * 2 a usage error (unknown command or option); 3 a batch in which some rows failed.
 *
 * @module
 */
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { SingleBar } from "cli-progress";
import { createWriteStream } from "node:fs";
import { performance } from "node:perf_hooks";
import { streamWorkflow, type RunOptions, type WorkflowEvent } from "../facade.js";
import { forkThread, getThreadHistory, getThreadState, listThreads, resumeThread } from "../threads.js";
import { getWorkflow, listWorkflows } from "../registry.js";
import { openCheckpointer, resolveCheckpointerSpec, DEFAULT_THREADS_FILE, type OpenCheckpointer } from "../runtime/checkpointer.js";
import { DataFileError, LlmWorkflowsError } from "../runtime/errors.js";
import { redactSecrets } from "../runtime/redact.js";
import { emptyUsage, type TokenUsage } from "../runtime/usage.js";
import { runBatch, DEFAULT_BATCH_CONCURRENCY } from "./batch.js";
import { inputFileKind, parseFieldMappings, parseJson, readJsonFile, readRows, rowToInput, type Row } from "./io.js";
import { runMainJob } from "../../graphs/lib/mainJob.js";
import { formatDuration, formatUsage, renderOutput, renderTable } from "./render.js";

/** Exit code of a batch that finished with failed rows. */
export const EXIT_PARTIAL = 3;

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("expected a whole number of at least 1");
  return n;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

interface RunFlags {
  budgetUsd?: number;
  budgetTokens?: number;
  callLog?: string;
  input?: string;
  inputFile?: string;
  field: string[];
  out?: string;
  concurrency: number;
  model?: string;
  thread?: string;
  checkpointer?: string;
  json?: boolean;
  progress: boolean;
}

function runOptionsFrom(flags: { model?: string; budgetUsd?: number; budgetTokens?: number; callLog?: string }): RunOptions {
  const options: RunOptions = flags.model ? { model: flags.model } : {};
  if (flags.budgetUsd !== undefined || flags.budgetTokens !== undefined) options.budget = { maxUsd: flags.budgetUsd, maxTokens: flags.budgetTokens };
  if (flags.callLog) options.callLog = flags.callLog;
  return options;
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("expected a number above 0");
  return n;
}

/** Prints node progress (stderr), the output (stdout), pending interrupts and the token table (stderr). */
async function printEvents(
  label: string,
  events: AsyncIterable<WorkflowEvent>,
  flags: { json?: boolean },
  stdout: NodeJS.WritableStream,
  stderr: NodeJS.WritableStream,
): Promise<void> {
  const started = performance.now();
  let byNode: Record<string, TokenUsage> = {};
  let total = emptyUsage();
  for await (const event of events) {
    if (event.type === "node") {
      const mark = event.error ? "✗" : event.interrupted ? "⏸" : "✓";
      const note = event.error ? `  ${event.error}` : event.interrupted ? "  waiting for a human" : "";
      stderr.write(`  ${mark} ${event.node.padEnd(18)} ${formatDuration(event.durationMs).padStart(8)}  ${formatUsage(event.usage)}${note}\n`);
      continue;
    }
    byNode = event.byNode;
    total = event.usage;
    stdout.write(flags.json ? `${JSON.stringify(event.output, null, 2)}\n` : `${renderOutput(event.output)}\n`);
    for (const pending of event.interrupts) {
      stderr.write(`paused at ${pending.node}, interrupt ${pending.id}:\n${renderOutput({ request: pending.value as Record<string, unknown> })}\n`);
    }
    if (event.interrupts.length && event.threadId) {
      stderr.write(`resume with: llm-workflows resume ${event.threadId} --approve | --edit JSON | --reject REASON${event.interrupts.length > 1 ? " --interrupt ID" : ""}\n`);
    }
  }
  stderr.write(`${label} finished in ${formatDuration(performance.now() - started)}\n${usageSummary(byNode, total)}\n`);
}

function usageSummary(byNode: Record<string, TokenUsage>, total: TokenUsage): string {
  const rows = Object.entries(byNode).map(([node, u]) => [node, u.calls, u.inputTokens, u.outputTokens, u.usd.toFixed(6)]);
  rows.push(["total", total.calls, total.inputTokens, total.outputTokens, total.usd.toFixed(6)]);
  return renderTable(["node", "calls", "input tokens", "output tokens", "USD"], rows as Array<Array<string | number>>);
}

async function runSingle(name: string, input: unknown, flags: RunFlags, stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): Promise<number> {
  const options = runOptionsFrom(flags);
  // A thread needs a checkpointer; a one-shot run has one only when asked for.
  const spec = flags.thread || flags.checkpointer ? resolveCheckpointerSpec(flags.checkpointer) : undefined;
  const checkpointer = spec ? await openCheckpointer(spec) : undefined;
  try {
    if (checkpointer) {
      options.checkpointer = checkpointer.saver;
      options.threadId = flags.thread ?? crypto.randomUUID();
      stderr.write(`thread ${options.threadId} (${checkpointer.description})\n`);
    }
    await printEvents(name, streamWorkflow(name, input, options), flags, stdout, stderr);
    return 0;
  } finally {
    await checkpointer?.close();
  }
}

async function runFromFile(name: string, flags: RunFlags, stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): Promise<number> {
  const file = flags.inputFile!;
  if (inputFileKind(file) === "json") {
    const read = readJsonFile(file);
    if ("single" in read) return runSingle(name, rowToInput(read.single, parseFieldMappings(flags.field), defaultsOf(flags)), flags, stdout, stderr);
  }
  if (flags.thread) throw new DataFileError(file, "--thread applies to one input, not to a batch of rows");
  getWorkflow(name);
  const fields = parseFieldMappings(flags.field);
  const defaults = defaultsOf(flags);
  const rows: Row[] = [];
  for await (const row of readRows(file)) rows.push(rowToInput(row, fields, defaults));
  const out = flags.out ? await openOutput(flags.out) : stdout;
  const bar = new SingleBar(
    {
      stream: stderr as NodeJS.WriteStream,
      format: `${name} {bar} {value}/{total} rows | {rate} rows/s | {failed} failed | eta {eta_formatted}`,
      noTTYOutput: false,
      hideCursor: true,
    },
  );
  const started = performance.now();
  if (flags.progress) bar.start(rows.length, 0, { rate: "0.0", failed: 0 });
  const summary = await runBatch(rows, {
    workflow: name,
    concurrency: flags.concurrency,
    out,
    runOptions: runOptionsFrom(flags),
    onProgress: ({ done, failed }) => {
      if (flags.progress) bar.update(done, { rate: (done / ((performance.now() - started) / 1000)).toFixed(1), failed });
    },
  });
  if (flags.progress) bar.stop();
  if (flags.out) await new Promise<void>((resolve, reject) => (out as ReturnType<typeof createWriteStream>).end((err?: Error | null) => (err ? reject(err) : resolve())));
  const seconds = (performance.now() - started) / 1000;
  stderr.write(
    `${summary.succeeded}/${summary.total} rows succeeded in ${seconds.toFixed(1)} s (${(summary.total / seconds).toFixed(1)} rows/s), ${formatUsage(summary.usage)}` +
      `${flags.out ? `; results in ${flags.out}` : ""}\n`,
  );
  for (const failed of summary.failed) stderr.write(`  row ${failed.row} failed: ${failed.error}\n`);
  return summary.failed.length ? EXIT_PARTIAL : 0;
}

/**
 * Opens `file` for writing, waiting until it is open.
 * @throws {DataFileError} when it cannot be created.
 */
async function openOutput(file: string): Promise<ReturnType<typeof createWriteStream>> {
  const stream = createWriteStream(file);
  await new Promise<void>((resolve, reject) => {
    stream.once("open", () => resolve());
    stream.once("error", (error) => reject(new DataFileError(file, `cannot write the output file (${(error as NodeJS.ErrnoException).code ?? error.message})`)));
  });
  return stream;
}

function defaultsOf(flags: RunFlags): Row {
  if (!flags.input) return {};
  const value = parseJson(flags.input, "--input");
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new DataFileError("--input", "expected a JSON object");
  return value as Row;
}

/** Builds the command-line program; `stdout`/`stderr` are injectable for tests. */
export function buildProgram(stdout: NodeJS.WritableStream = process.stdout, stderr: NodeJS.WritableStream = process.stderr): Command {
  const program = new Command("llm-workflows")
    .description("LLM workflow patterns as LangGraph graphs. With no command: the main job on ../shared/data.")
    .configureOutput({ writeOut: (s) => stdout.write(s), writeErr: (s) => stderr.write(s) })
    // Options after a command belong to that command (several share names with the main job's).
    .enablePositionalOptions()
    .exitOverride()
    .showHelpAfterError("(run llm-workflows --help for usage)");

  const mainJob = (opts: { dataDir?: string; limit?: number; concurrency: number; model?: string }) =>
    runMainJob({
      dataDir: opts.dataDir,
      limit: opts.limit,
      concurrency: opts.concurrency,
      runOptions: opts.model ? { model: opts.model, configurable: { model: opts.model } } : {},
      print: (line) => stdout.write(`${line}\n`),
      onProgress: (done, total) => {
        if (done === total || done % 500 === 0) stderr.write(`  routed ${done}/${total}\n`);
      },
    }).then(() => 0);

  const mainOptions = (cmd: Command) =>
    cmd
      .option("--data-dir <dir>", "the public data directory (default: $LLM_WORKFLOWS_DATA or ../shared/data)")
      .option("--limit <n>", "route at most this many support queries (default: all offline, 200 with a model provider)", positiveInt)
      .option("--concurrency <n>", "rows run at once", positiveInt, DEFAULT_BATCH_CONCURRENCY)
      .option("--model <name>", "model name for the default role (`offline` for the offline model)");

  mainOptions(program).action(async (opts) => {
      if (program.args.length) program.error(`error: unknown command '${program.args[0]}'`, { exitCode: 2, code: "llm-workflows.unknownCommand" });
      program.setOptionValue("exitCode", await mainJob(opts));
    });

  mainOptions(program.command("main").description("run the main job: Banking77 routing table, then every other workflow once")).action(
    async (opts) => {
      program.setOptionValue("exitCode", await mainJob(opts));
    },
  );

  program
    .command("list")
    .description("list the workflows")
    .action(() => {
      const rows = listWorkflows().map((w) => [w.name, w.pattern, w.description]);
      stdout.write(`${renderTable(["workflow", "pattern", "description"], rows)}\n`);
    });

  program
    .command("graph")
    .description("print a workflow's Mermaid diagram")
    .argument("<workflow>", "workflow name")
    .action(async (name: string) => {
      const drawable = await getWorkflow(name).graph.getGraphAsync();
      stdout.write(`${drawable.drawMermaid()}\n`);
    });

  program
    .command("run")
    .description("run a workflow on one input (--input JSON), or on every row of a .csv/.jsonl/.json file (batch mode)")
    .argument("<workflow>", "workflow name")
    .option("--input <json>", "the input as a JSON object (in batch mode: defaults for every row)")
    .option("--input-file <file>", "a .json input, or rows in .csv, .jsonl or a .json array (batch mode)")
    .option("--field <input=column>", "batch mode: fill input field from a column (repeatable)", collect, [])
    .option("--out <file>", "batch mode: write one JSON line per row here (default stdout)")
    .option("--concurrency <n>", "batch mode: rows run at once", positiveInt, DEFAULT_BATCH_CONCURRENCY)
    .option("--model <name>", "model name for the default role (`offline` for the offline model)")
    .option("--thread <id>", "run on this thread (kept in the checkpointer)")
    .addOption(new Option("--checkpointer <spec>", "memory | sqlite:PATH | postgres://URL (default with --thread: sqlite:" + DEFAULT_THREADS_FILE + ")"))
    .option("--json", "print the output as JSON")
    .option("--budget-usd <usd>", "stop before the model call that would take the run over this cost (USD)", positiveNumber)
    .option("--budget-tokens <n>", "stop before the model call that would take the run over this many tokens", positiveInt)
    .option("--call-log <file>", "append one JSON line per model call (node, model, prompt, response, tokens, latency, retries; secrets redacted)")
    .option("--no-progress", "batch mode: no progress bar")
    .action(async (name: string, flags: RunFlags) => {
      const workflow = getWorkflow(name);
      if (flags.input && flags.inputFile === undefined) {
        program.setOptionValue("exitCode", await runSingle(name, parseJson(flags.input, "--input"), flags, stdout, stderr));
      } else if (flags.inputFile) {
        program.setOptionValue("exitCode", await runFromFile(name, flags, stdout, stderr));
      } else {
        stderr.write(`no --input given: running the example input of ${name}\n`);
        program.setOptionValue("exitCode", await runSingle(name, workflow.example, flags, stdout, stderr));
      }
    });
  const checkpointerOption = () =>
    new Option("--checkpointer <spec>", `memory | sqlite:PATH | postgres://URL (default: $LLM_WORKFLOWS_CHECKPOINTER, $DATABASE_URL or sqlite:${DEFAULT_THREADS_FILE})`);
  const withThreads = async <T>(flags: { checkpointer?: string }, use: (open: OpenCheckpointer) => Promise<T>): Promise<T> => {
    const open = await openCheckpointer(resolveCheckpointerSpec(flags.checkpointer)!);
    try {
      return await use(open);
    } finally {
      await open.close();
    }
  };

  program
    .command("threads")
    .description("list the threads in the checkpointer")
    .addOption(checkpointerOption())
    .option("--json", "print as JSON")
    .action((flags: { checkpointer?: string; json?: boolean }) =>
      withThreads(flags, async ({ saver }) => {
        const threads = await listThreads(saver);
        if (flags.json) stdout.write(`${JSON.stringify(threads, null, 2)}\n`);
        else stdout.write(`${renderTable(["thread", "workflow", "checkpoints", "step", "updated"], threads.map((t) => [t.threadId, t.workflow ?? "?", t.checkpoints, t.step, t.updatedAt ?? ""]))}\n`);
      }),
    );

  program
    .command("state")
    .description("a thread's current state, next nodes and pending interrupts")
    .argument("<thread>", "thread id")
    .addOption(checkpointerOption())
    .option("--json", "print as JSON")
    .action((threadId: string, flags: { checkpointer?: string; json?: boolean }) =>
      withThreads(flags, async ({ saver }) => {
        const state = await getThreadState(threadId, saver);
        stdout.write(flags.json ? `${JSON.stringify(state, null, 2)}\n` : `${renderOutput(state as unknown as Record<string, unknown>)}\n`);
      }),
    );

  program
    .command("history")
    .description("a thread's checkpoints, oldest first: id, step, source, nodes, time")
    .argument("<thread>", "thread id")
    .addOption(checkpointerOption())
    .option("--json", "print as JSON")
    .action((threadId: string, flags: { checkpointer?: string; json?: boolean }) =>
      withThreads(flags, async ({ saver }) => {
        const history = await getThreadHistory(threadId, saver);
        if (flags.json) stdout.write(`${JSON.stringify(history, null, 2)}\n`);
        else
          stdout.write(
            `${renderTable(
              ["checkpoint", "step", "source", "nodes", "next", "time"],
              history.map((h) => [h.checkpointId, h.step, h.source, h.nodes.join(",") || "-", h.next.join(",") || "-", h.createdAt ?? ""]),
            )}\n`,
          );
      }),
    );

  program
    .command("resume")
    .description("resume a thread: continue after a crash, or answer its pending interrupt")
    .argument("<thread>", "thread id")
    .option("--approve", "approve the draft")
    .option("--edit <json>", "replace the draft with this value (JSON; a plain string is taken as text)")
    .option("--reject <reason>", "reject the draft, with what to change")
    .option("--answer <json>", "answer a non-approval interrupt with this JSON value")
    .option("--interrupt <id>", "which interrupt to answer, when several are pending")
    .addOption(checkpointerOption())
    .option("--model <name>", "model name for the default role")
    .option("--json", "print the output as JSON")
    .action(
      (
        threadId: string,
        flags: { approve?: boolean; edit?: string; reject?: string; answer?: string; interrupt?: string; checkpointer?: string; model?: string; json?: boolean },
      ) =>
        withThreads(flags, async ({ saver }) => {
          const answers = [flags.approve, flags.edit, flags.reject, flags.answer].filter((a) => a !== undefined);
          if (answers.length > 1) throw new DataFileError("resume", "give at most one of --approve, --edit, --reject, --answer");
          const resume = flags.approve
            ? { action: "approve" }
            : flags.edit !== undefined
              ? { action: "edit", value: parseMaybeJson(flags.edit) }
              : flags.reject !== undefined
                ? { action: "reject", reason: flags.reject }
                : flags.answer !== undefined
                  ? parseJson(flags.answer, "--answer")
                  : undefined;
          await printEvents(`resume ${threadId}`, resumeThread(threadId, saver, { resume, interruptId: flags.interrupt, ...runOptionsFrom(flags) }), flags, stdout, stderr);
        }),
    );

  program
    .command("fork")
    .description("re-run a thread from a past checkpoint (time travel), optionally with edited state")
    .argument("<thread>", "thread id")
    .requiredOption("--checkpoint <id>", "the checkpoint to fork from (see `history`)")
    .option("--edit <json>", "state values to change at that checkpoint (a JSON object)")
    .option("--as-node <node>", "the node the edit is attributed to (default: the one that wrote the checkpoint)")
    .addOption(checkpointerOption())
    .option("--model <name>", "model name for the default role")
    .option("--json", "print the output as JSON")
    .action((threadId: string, flags: { checkpoint: string; edit?: string; asNode?: string; checkpointer?: string; model?: string; json?: boolean }) =>
      withThreads(flags, async ({ saver }) => {
        const values = flags.edit === undefined ? undefined : parseJson(flags.edit, "--edit");
        if (values !== undefined && (values === null || typeof values !== "object" || Array.isArray(values))) throw new DataFileError("--edit", "expected a JSON object of state values");
        await printEvents(
          `fork ${threadId}`,
          forkThread(threadId, flags.checkpoint, saver, { values: values as Record<string, unknown> | undefined, asNode: flags.asNode, ...runOptionsFrom(flags) }),
          flags,
          stdout,
          stderr,
        );
      }),
    );

  // After the subcommands: commander copies this setting into commands created later.
  program.allowExcessArguments(true);
  return program;
}

/** JSON when it parses, else the text itself (for `--edit "new text"`). */
function parseMaybeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Runs the CLI with `argv` (without the node and script entries) and returns
 * the exit code; user errors are one line on stderr, never a stack trace.
 */
export async function main(argv: string[], stdout: NodeJS.WritableStream = process.stdout, stderr: NodeJS.WritableStream = process.stderr): Promise<number> {
  const program = buildProgram(stdout, stderr);
  try {
    await program.parseAsync(argv, { from: "user" });
    return (program.getOptionValue("exitCode") as number | undefined) ?? 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? 0 : 2;
    }
    if (error instanceof LlmWorkflowsError) {
      stderr.write(`llm-workflows: ${redactSecrets(error.message)}\n`);
      return 1;
    }
    const message = redactSecrets(error instanceof Error ? error.message : String(error));
    stderr.write(`llm-workflows: ${message}\n`);
    if (process.env.LLM_WORKFLOWS_DEBUG && error instanceof Error) stderr.write(`${error.stack}\n`);
    return 1;
  }
}

const invokedDirectly = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (invokedDirectly || process.env.LLM_WORKFLOWS_CLI === "1") {
  process.exitCode = await main(process.argv.slice(2));
}
