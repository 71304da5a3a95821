/**
 * The `llm-workflows` command line (commander). Run with no arguments for the
 * main job; `llm-workflows --help` lists the commands.
 *
 * Exit codes: 0 success; 1 an error (bad input, unknown workflow, failed run);
 * 2 a usage error (unknown command or option); 3 a batch or an eval in which
 * some rows failed.
 *
 * @module
 */
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { setMaxListeners } from "node:events";
import { performance } from "node:perf_hooks";
import { streamWorkflow, type RunOptions, type WorkflowEvent } from "../facade.js";
import { forkThread, getThreadHistory, getThreadState, listThreads, recordedWorkflow, resumeThread } from "../threads.js";
import type { WorkflowRegistry } from "../registry.js";
import { openCheckpointer, resolveCheckpointerSpec, DEFAULT_THREADS_FILE, type OpenCheckpointer } from "../runtime/checkpointer.js";
import { DataFileError, LlmWorkflowsError } from "../runtime/errors.js";
import { redactSecrets } from "../runtime/redact.js";
import { emptyUsage, type TokenUsage } from "../runtime/usage.js";
import type { WorkflowDefinition } from "../workflow.js";
import { DEFAULT_BATCH_CONCURRENCY } from "./batch.js";
import { addBatchOptions, runFromFile, EXIT_PARTIAL } from "./batchCommand.js";
import { addEvalCommand } from "./evalCommand.js";
import { recorderForOptions } from "../models/replay.js";
import { LOGGER_KEY, type Logger } from "../runtime/logger.js";
import { parseJson } from "./io.js";
import { formatDuration, formatUsage, renderOutput, renderTable } from "./render.js";
import { isGraphSpec, loadGraph, readLangGraphConfig, registryFromConfig } from "./targets.js";

export { EXIT_PARTIAL };

/** The ready workflows (`llm-workflows/workflows`), loaded only when a command needs them. */
async function readyRegistry(): Promise<WorkflowRegistry> {
  return (await import("../../graphs/index.js")).readyWorkflows;
}

/**
 * The workflow `target` names: a `path:export` graph file, or a name in the
 * `--config` langgraph.json or among the ready workflows.
 * @throws {GraphLoadError} / {UnknownWorkflowError} naming what is missing.
 */
async function resolveTarget(target: string, config: string | undefined): Promise<WorkflowDefinition<any>> {
  if (isGraphSpec(target)) return loadGraph(target);
  if (config) {
    const parsed = readLangGraphConfig(config);
    if (!(target in parsed.graphs)) {
      const { UnknownWorkflowError } = await import("../runtime/errors.js");
      throw new UnknownWorkflowError(target, Object.keys(parsed.graphs));
    }
    return (await registryFromConfig(parsed, [target])).get(target);
  }
  return (await readyRegistry()).get(target);
}

/**
 * The workflow of a stored thread: `--workflow` when given; else the graph
 * file its checkpoints record (for a graph loaded from a file); else the name
 * they record, in `--config` or the ready workflows.
 */
async function threadTarget(saver: OpenCheckpointer["saver"], threadId: string, flags: { workflow?: string; config?: string }): Promise<WorkflowDefinition<any>> {
  if (flags.workflow) return resolveTarget(flags.workflow, flags.config);
  const recorded = await recordedWorkflow(saver, threadId);
  if (recorded.source) return loadGraph(recorded.source, { name: recorded.name });
  return resolveTarget(recorded.name ?? "(not recorded: the thread was not written by llm-workflows; give --workflow)", flags.config);
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("expected a whole number of at least 1");
  return n;
}

interface RunFlags extends RunOptionFlags {
  input?: string;
  inputFile?: string;
  field: string[];
  out?: string;
  concurrency: number;
  thread?: string;
  checkpointer?: string;
  json?: boolean;
  progress: boolean;
}

/** The flags of `addRunOptions`. */
interface RunOptionFlags {
  model?: string;
  budgetUsd?: number;
  budgetTokens?: number;
  callLog?: string;
  record?: string;
  replay?: string;
  replayMode?: "strict" | "record-missing";
}

/**
 * Run options from the flags. A recording is opened once here, so that every
 * row of a batch shares it (the same request in several rows gets its answers
 * in recorded order).
 * @throws {ConfigurationError} for --record with --replay; {DataFileError} for a missing --replay file.
 */
function runOptionsFrom(flags: RunOptionFlags, logger?: Logger): RunOptions {
  const options: RunOptions = flags.model ? { model: flags.model } : {};
  if (logger) options.configurable = { [LOGGER_KEY]: logger };
  if (flags.budgetUsd !== undefined || flags.budgetTokens !== undefined) options.budget = { maxUsd: flags.budgetUsd, maxTokens: flags.budgetTokens };
  if (flags.callLog) options.callLog = flags.callLog;
  const secrets = [process.env.OPENAI_API_KEY].filter((s): s is string => !!s);
  const recorder = recorderForOptions({ record: flags.record, replay: flags.replay, replayMode: flags.replayMode, secrets });
  if (recorder) options.replay = recorder;
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
  flags: { json?: boolean; inMemory?: boolean },
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
      if (flags.inMemory) {
        stderr.write(`thread ${event.threadId} is in memory: it ends with this process and cannot be resumed; use --checkpointer sqlite:PATH to keep it\n`);
      } else {
        stderr.write(`resume with: llm-workflows resume ${event.threadId} --approve | --edit JSON | --reject REASON${event.interrupts.length > 1 ? " --interrupt ID" : ""}\n`);
      }
    }
  }
  stderr.write(`${label} finished in ${formatDuration(performance.now() - started)}\n${usageSummary(byNode, total)}\n`);
}

function usageSummary(byNode: Record<string, TokenUsage>, total: TokenUsage): string {
  const rows = Object.entries(byNode).map(([node, u]) => [node, u.calls, u.inputTokens, u.outputTokens, u.usd.toFixed(6)]);
  rows.push(["total", total.calls, total.inputTokens, total.outputTokens, total.usd.toFixed(6)]);
  return renderTable(["node", "calls", "input tokens", "output tokens", "USD"], rows as Array<Array<string | number>>);
}

async function runSingle(workflow: WorkflowDefinition<any>, input: unknown, flags: RunFlags, stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): Promise<number> {
  const options = runOptionsFrom(flags, stderrLogger(stderr));
  // A thread needs a checkpointer; a one-shot run has one only when asked for.
  const spec = flags.thread || flags.checkpointer ? resolveCheckpointerSpec(flags.checkpointer) : undefined;
  const checkpointer = spec ? await openCheckpointer(spec) : undefined;
  try {
    if (checkpointer) {
      options.checkpointer = checkpointer.saver;
      options.threadId = flags.thread ?? crypto.randomUUID();
      stderr.write(`thread ${options.threadId} (${checkpointer.description})\n`);
    }
    const inMemory = checkpointer?.description === "memory";
    await printEvents(workflow.name, streamWorkflow(workflow, input, options), { ...flags, inMemory }, stdout, stderr);
    return 0;
  } finally {
    await checkpointer?.close();
  }
}

/** Builds the command-line program; `stdout`/`stderr` are injectable for tests. */
export function buildProgram(stdout: NodeJS.WritableStream = process.stdout, stderr: NodeJS.WritableStream = process.stderr): Command {
  const program = new Command("llm-workflows")
    .description("LLM workflow patterns as LangGraph graphs. With no command: the main job on ../shared/data.")
    .configureOutput({ writeOut: (s) => stdout.write(s), writeErr: (s) => stderr.write(s) })
    // Options after a command belong to that command (several share names with the main job's).
    .enablePositionalOptions()
    .exitOverride()
    .option("--config <file>", "a langgraph.json: workflow names refer to its graphs (default: the ready workflows)")
    .showHelpAfterError("(run llm-workflows --help for usage)");
  const logger = stderrLogger(stderr);

  const mainJob = async (opts: { dataDir?: string; limit?: number; concurrency: number; model?: string }) =>
    (await import("../../graphs/lib/mainJob.js")).runMainJob({
      dataDir: opts.dataDir,
      limit: opts.limit,
      concurrency: opts.concurrency,
      runOptions: { ...(opts.model ? { model: opts.model } : {}), configurable: { [LOGGER_KEY]: logger, ...(opts.model ? { model: opts.model } : {}) } },
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

  const config = () => program.opts<{ config?: string }>().config;

  program
    .command("list")
    .description("list the workflows (the ready ones, or those of --config)")
    .action(async () => {
      const file = config();
      const registry = file ? await registryFromConfig(readLangGraphConfig(file)) : await readyRegistry();
      const rows = registry.list().map((w) => [w.name, w.pattern, w.description]);
      stdout.write(`${renderTable(["workflow", "pattern", "description"], rows)}\n`);
    });

  program
    .command("graph")
    .description("print a workflow's Mermaid diagram")
    .argument("<workflow>", "workflow name, or a graph file as path:export")
    .action(async (target: string) => {
      const drawable = await (await resolveTarget(target, config())).graph.getGraphAsync();
      stdout.write(`${drawable.drawMermaid()}\n`);
    });

  const runCommand = program
    .command("run")
    .description("run a workflow on one input (--input JSON), or on every row of a .csv/.jsonl/.json file (batch mode)")
    .argument("<workflow>", "workflow name, or a graph file as path:export (e.g. ./src/agent.ts:graph)")
    .option("--input <json>", "the input as a JSON object (in batch mode: defaults for every row)");
  addBatchOptions(runCommand, positiveInt);
  addRunOptions(runCommand)
    .option("--thread <id>", "run on this thread (kept in the checkpointer)")
    .addOption(new Option("--checkpointer <spec>", "memory | sqlite:PATH | postgres://URL (default with --thread: sqlite:" + DEFAULT_THREADS_FILE + ")"))
    .option("--json", "print the output as JSON")
    .action(async (target: string, flags: RunFlags) => {
      const workflow = await resolveTarget(target, config());
      const single = (input: unknown) => runSingle(workflow, input, flags, stdout, stderr);
      if (flags.input && flags.inputFile === undefined) {
        program.setOptionValue("exitCode", await single(parseJson(flags.input, "--input")));
      } else if (flags.inputFile) {
        program.setOptionValue("exitCode", await runFromFile(workflow, { ...flags, runOptions: runOptionsFrom(flags, logger) }, stdout, stderr, single));
      } else if (workflow.example !== undefined) {
        stderr.write(`no --input given: running the example input of ${workflow.name}\n`);
        program.setOptionValue("exitCode", await single(workflow.example));
      } else {
        throw new DataFileError("--input", `${workflow.name} has no example input: give --input JSON or --input-file FILE`);
      }
    });
  const checkpointerOption = () =>
    new Option("--checkpointer <spec>", `memory | sqlite:PATH | postgres://URL (default: $LLM_WORKFLOWS_CHECKPOINTER, $DATABASE_URL or sqlite:${DEFAULT_THREADS_FILE})`);
  const workflowOption = () =>
    new Option("--workflow <target>", "the thread's workflow (name or path:export), when its checkpoints do not say or it moved");
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
    .addOption(workflowOption())
    .option("--json", "print as JSON")
    .action((threadId: string, flags: { checkpointer?: string; workflow?: string; json?: boolean }) =>
      withThreads(flags, async ({ saver }) => {
        const workflow = await threadTarget(saver, threadId, { ...flags, config: config() });
        const state = await getThreadState(threadId, saver, { workflow });
        stdout.write(flags.json ? `${JSON.stringify(state, null, 2)}\n` : `${renderOutput(state as unknown as Record<string, unknown>)}\n`);
      }),
    );

  program
    .command("history")
    .description("a thread's checkpoints, oldest first: id, step, source, nodes (counted), time")
    .argument("<thread>", "thread id")
    .addOption(checkpointerOption())
    .addOption(workflowOption())
    .option("--json", "print as JSON")
    .action((threadId: string, flags: { checkpointer?: string; workflow?: string; json?: boolean }) =>
      withThreads(flags, async ({ saver }) => {
        const workflow = await threadTarget(saver, threadId, { ...flags, config: config() });
        const history = await getThreadHistory(threadId, saver, { workflow });
        if (flags.json) stdout.write(`${JSON.stringify(history, null, 2)}\n`);
        else
          stdout.write(
            `${renderTable(
              ["checkpoint", "step", "source", "nodes", "next", "time"],
              history.map((h) => [h.checkpointId, h.step, h.source, countedNames(h.nodes), countedNames(h.next), h.createdAt ?? ""]),
            )}\n`,
          );
      }),
    );

  addRunOptions(
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
      .addOption(workflowOption()),
  )
    .option("--json", "print the output as JSON")
    .action((threadId: string, flags: ThreadRunFlags & { approve?: boolean; edit?: string; reject?: string; answer?: string; interrupt?: string }) =>
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
        const workflow = await threadTarget(saver, threadId, { ...flags, config: config() });
        await printEvents(`resume ${threadId}`, resumeThread(threadId, saver, { resume, interruptId: flags.interrupt, workflow, ...runOptionsFrom(flags, logger) }), flags, stdout, stderr);
      }),
    );

  addRunOptions(
    program
      .command("fork")
      .description("re-run a thread from a past checkpoint (time travel), optionally with edited state")
      .argument("<thread>", "thread id")
      .requiredOption("--checkpoint <id>", "the checkpoint to fork from (see `history`)")
      .option("--edit <json>", "state values to change at that checkpoint (a JSON object)")
      .option("--as-node <node>", "the node the edit is attributed to (default: the one that wrote the checkpoint)")
      .addOption(checkpointerOption())
      .addOption(workflowOption()),
  )
    .option("--json", "print the output as JSON")
    .action((threadId: string, flags: ThreadRunFlags & { checkpoint: string; edit?: string; asNode?: string }) =>
      withThreads(flags, async ({ saver }) => {
        const values = flags.edit === undefined ? undefined : parseJson(flags.edit, "--edit");
        if (values !== undefined && (values === null || typeof values !== "object" || Array.isArray(values))) throw new DataFileError("--edit", "expected a JSON object of state values");
        const workflow = await threadTarget(saver, threadId, { ...flags, config: config() });
        await printEvents(
          `fork ${threadId}`,
          forkThread(threadId, flags.checkpoint, saver, { values: values as Record<string, unknown> | undefined, asNode: flags.asNode, workflow, ...runOptionsFrom(flags, logger) }),
          flags,
          stdout,
          stderr,
        );
      }),
    );

  addEvalCommand(program, { stdout, stderr, resolveWorkflow: (target) => resolveTarget(target, config()) });

  // After the subcommands: commander copies this setting into commands created later.
  program.allowExcessArguments(true);
  return program;
}

/**
 * The CLI's logger: the library's notices (e.g. that the offline model
 * answers) on stderr, one line each. Kept per stderr stream, so a notice that
 * the library gives once per logger is printed once per CLI invocation.
 */
const loggers = new WeakMap<NodeJS.WritableStream, Logger>();
function stderrLogger(stderr: NodeJS.WritableStream): Logger {
  let logger = loggers.get(stderr);
  if (!logger) loggers.set(stderr, (logger = { warn: (message) => void stderr.write(`llm-workflows: ${message}\n`) }));
  return logger;
}

/** The run options shared by `run`, `resume` and `fork`: model, budgets, call log. */
function addRunOptions(command: Command): Command {
  return command
    .option("--model <name>", "model name for the default role (`offline` for the offline model)")
    .option("--budget-usd <usd>", "stop before the model call that would take the run over this cost (USD)", positiveNumber)
    .option("--budget-tokens <n>", "stop before the model call that would take the run over this many tokens", positiveInt)
    .option("--call-log <file>", "append one JSON line per model call (node, model, prompt, response, tokens, latency, retries; secrets redacted)")
    .option("--record <file>", "record every model request and answer to this JSONL file (secrets redacted)")
    .option("--replay <file>", "answer every model call from this recording instead of the provider (no key, no network)")
    .addOption(new Option("--replay-mode <mode>", "strict: a request not recorded is an error; record-missing: call the model and append it").choices(["strict", "record-missing"]).default("strict"));
}

/** Flags of `resume` and `fork`. */
interface ThreadRunFlags extends RunOptionFlags {
  checkpointer?: string;
  workflow?: string;
  json?: boolean;
}

/**
 * Node names with repeats counted, in first-seen order: a fan-out's 119
 * `summarize_chunk` tasks print as `summarize_chunk ×119`.
 */
export function countedNames(names: readonly string[]): string {
  if (!names.length) return "-";
  const counts = new Map<string, number>();
  for (const name of names) counts.set(name, (counts.get(name) ?? 0) + 1);
  return [...counts].map(([name, n]) => (n > 1 ? `${name} ×${n}` : name)).join(", ");
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

/**
 * Runs the CLI as its process's program (the `llm-workflows` bin, or
 * `tsx src/cli/main.ts`): sets `process.exitCode` from {@link main}. Only a
 * program's entry calls this; importing the module changes nothing.
 *
 * It lifts the process's default listener limit, which a library must not
 * touch but the program may: LangGraph gives every task of a superstep one
 * internal abort signal with a listener per call (langgraphjs #1494), out of
 * reach of any option, so a fan-out of more than ten tasks would print a leak
 * warning that is not one.
 */
export async function runCli(argv: string[] = process.argv.slice(2)): Promise<void> {
  setMaxListeners(0);
  process.exitCode = await main(argv);
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) await runCli();
