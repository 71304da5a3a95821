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
import { streamWorkflow, type RunOptions } from "../facade.js";
import { getWorkflow, listWorkflows } from "../registry.js";
import { openCheckpointer, DEFAULT_THREADS_FILE } from "../runtime/checkpointer.js";
import { DataFileError, LlmWorkflowsError } from "../runtime/errors.js";
import { emptyUsage, type TokenUsage } from "../runtime/usage.js";
import { runBatch, DEFAULT_BATCH_CONCURRENCY } from "./batch.js";
import { inputFileKind, parseFieldMappings, parseJson, readJsonFile, readRows, rowToInput, type Row } from "./io.js";
import { runMainJob } from "./mainJob.js";
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

function runOptionsFrom(flags: { model?: string }): RunOptions {
  return flags.model ? { model: flags.model } : {};
}

function usageSummary(byNode: Record<string, TokenUsage>, total: TokenUsage): string {
  const rows = Object.entries(byNode).map(([node, u]) => [node, u.calls, u.inputTokens, u.outputTokens]);
  rows.push(["total", total.calls, total.inputTokens, total.outputTokens]);
  return renderTable(["node", "calls", "input tokens", "output tokens"], rows as Array<Array<string | number>>);
}

async function runSingle(name: string, input: unknown, flags: RunFlags, stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): Promise<number> {
  const options = runOptionsFrom(flags);
  const spec = flags.checkpointer ?? process.env.LLM_WORKFLOWS_CHECKPOINTER ?? (flags.thread ? `sqlite:${DEFAULT_THREADS_FILE}` : undefined);
  const checkpointer = spec ? await openCheckpointer(spec) : undefined;
  try {
    if (checkpointer) {
      options.checkpointer = checkpointer.saver;
      options.threadId = flags.thread ?? crypto.randomUUID();
      stderr.write(`thread ${options.threadId} (${checkpointer.description})\n`);
    }
    const started = performance.now();
    let byNode: Record<string, TokenUsage> = {};
    let total = emptyUsage();
    for await (const event of streamWorkflow(name, input, options)) {
      if (event.type === "node") {
        const mark = event.error ? "✗" : "✓";
        stderr.write(`  ${mark} ${event.node.padEnd(18)} ${formatDuration(event.durationMs).padStart(8)}  ${formatUsage(event.usage)}${event.error ? `  ${event.error}` : ""}\n`);
      } else {
        byNode = event.byNode;
        total = event.usage;
        stdout.write(flags.json ? `${JSON.stringify(event.output, null, 2)}\n` : `${renderOutput(event.output)}\n`);
      }
    }
    stderr.write(`${name} finished in ${formatDuration(performance.now() - started)}\n${usageSummary(byNode, total)}\n`);
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

  mainOptions(program)
    .allowExcessArguments(true)
    .action(async (opts) => {
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
  return program;
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
      stderr.write(`llm-workflows: ${error.message}\n`);
      return 1;
    }
    const message = error instanceof Error ? error.message : String(error);
    stderr.write(`llm-workflows: ${message}\n`);
    if (process.env.LLM_WORKFLOWS_DEBUG && error instanceof Error) stderr.write(`${error.stack}\n`);
    return 1;
  }
}

const invokedDirectly = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (invokedDirectly || process.env.LLM_WORKFLOWS_CLI === "1") {
  process.exitCode = await main(process.argv.slice(2));
}
