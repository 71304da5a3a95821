/**
 * What the scripts under `scripts/` share: their command line (parsed by
 * `node:util`'s `parseArgs`, with `--help`), where the public data is
 * (`--data-dir`, else `LLM_WORKFLOWS_DATA`, else `../shared/data` beside the
 * project: {@link resolveDataDir}), and how a user's mistake is reported: one
 * line on stderr, exit code 2 for the command line, 1 for missing data, never
 * a stack trace. See docs/data.md.
 *
 * @module
 */
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { resolveDataDir } from "../../graphs/lib/data.js";
import { DataFileError, LlmWorkflowsError } from "../../src/runtime/errors.js";

/** A mistake on a script's command line (unknown option, missing or bad value). Exit code 2. */
export class UsageError extends LlmWorkflowsError {
  constructor(message: string) {
    super("USAGE", message);
  }
}

/** The `--data-dir` option every data-reading script takes. */
export const DATA_DIR_OPTION = { "data-dir": { type: "string" } } as const;

/** The help text's lines on `--data-dir`, its description starting at `column`. */
export function dataDirHelp(column: number): string {
  return (
    `${"  --data-dir DIR".padEnd(column)}the public data directory (default: $LLM_WORKFLOWS_DATA, else\n` +
    `${" ".repeat(column)}../shared/data from the working directory or the project; docs/data.md)`
  );
}

type Options = NonNullable<ParseArgsConfig["options"]>;
type Config<O extends Options> = { args: string[]; options: O & { help: { type: "boolean"; short: "h" } }; allowPositionals: boolean; strict: true };

/**
 * Parses `argv` with `node:util`'s `parseArgs` (strict: unknown options are
 * errors) plus `-h`/`--help`. With `--help`, writes `help` on stdout and
 * exits with code 0.
 * @throws {UsageError} for an unknown option, a missing value, or a positional argument the script does not take.
 */
export function parseCommandLine<O extends Options>(
  help: string,
  options: O,
  argv: string[] = process.argv.slice(2),
  allowPositionals = false,
): ReturnType<typeof parseArgs<Config<O>>> {
  try {
    const parsed = parseArgs({ args: argv, options: { ...options, help: { type: "boolean", short: "h" } }, allowPositionals, strict: true });
    if ((parsed.values as { help?: boolean }).help) {
      process.stdout.write(help.endsWith("\n") ? help : `${help}\n`);
      process.exit(0);
    }
    return parsed as never;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "";
    if (code.startsWith("ERR_PARSE_ARGS")) throw new UsageError(`${oneLine((error as Error).message)} (see --help)`);
    throw error;
  }
}

/**
 * A whole-number option's value, or `fallback` when not given.
 * @throws {UsageError} naming the option when the value is not a whole number from `min` to `max`.
 */
export function intOption(name: string, value: string | undefined, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\s*-?\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} needs a whole number ${range(min, max, Number.MAX_SAFE_INTEGER)}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/**
 * A number option's value, or `fallback` when not given.
 * @throws {UsageError} naming the option when the value is not a number from `min` to `max`.
 */
export function numberOption(name: string, value: string | undefined, fallback: number, min: number, max = Number.MAX_VALUE): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < min || n > max) {
    throw new UsageError(`--${name} needs a number ${range(min, max, Number.MAX_VALUE)}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/**
 * The folder `dataset` of the public data directory (`--data-dir`, else
 * `LLM_WORKFLOWS_DATA`, else `../shared/data` beside the working directory
 * or the project when it has that folder).
 * @throws {DataFileError} when the given directory does not exist, none is found, or it lacks `dataset`.
 */
export function dataFolder(option: string | undefined, dataset: string, env: Record<string, string | undefined> = process.env): string {
  const dir = resolveDataDir(option, env, dataset);
  if (!dir) {
    throw new DataFileError(join("../shared/data", dataset), "no data directory found; give --data-dir DIR or set LLM_WORKFLOWS_DATA (see docs/data.md)");
  }
  const folder = join(dir, dataset);
  if (!existsSync(folder) || !statSync(folder).isDirectory()) throw new DataFileError(folder, `no ${dataset} folder in the data directory (see docs/data.md)`);
  return folder;
}

function range(min: number, max: number, unbounded: number): string {
  return max === unbounded ? `of at least ${min}` : `from ${min} to ${max}`;
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, " ").trim();
}

/**
 * Runs a script's `main`, reporting a failure as one line on stderr
 * (`script: message`): exit code 2 for a {@link UsageError}, 1 otherwise. A
 * project error (`LlmWorkflowsError`, e.g. a missing data file) is the
 * user's to fix and gets no stack trace; any other error is a bug, and its
 * stack is printed after the line only when `LLM_WORKFLOWS_DEBUG` is set.
 */
export function runScript(script: string, main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${script}: ${oneLine(message)}\n`);
    if (!(error instanceof LlmWorkflowsError) && process.env.LLM_WORKFLOWS_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
    process.exitCode = error instanceof UsageError ? 2 : 1;
  });
}
