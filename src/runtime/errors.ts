/**
 * Error classes shared by every workflow. A user's mistake (bad input, an
 * unknown workflow name, a malformed data file) is one of these, with a
 * message that names the field and what was expected; the CLI prints the
 * message on one line and never a stack trace.
 *
 * @module
 */
import type { z } from "zod";

/** Base class of every error this library throws on purpose. */
export class LlmWorkflowsError extends Error {
  /** A stable, machine-readable code, e.g. `INVALID_INPUT`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** One problem found while validating a value against a zod schema. */
export interface FieldIssue {
  /** Dotted path of the offending field, e.g. `items.3` or `query`; `(root)` for the value itself. */
  path: string;
  /** What was expected there, in zod's words. */
  message: string;
}

/** Turns zod issues into {@link FieldIssue}s with dotted paths. */
export function fieldIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.map((issue) => ({
    path: issue.path.length ? issue.path.map(String).join(".") : "(root)",
    message: issue.message,
  }));
}

function describeIssues(issues: FieldIssue[]): string {
  return issues.map((i) => `${i.path}: ${i.message}`).join("; ");
}

/**
 * The input given to a workflow does not match its input schema.
 * Thrown before the graph runs, so no thread is written.
 */
export class InvalidInputError extends LlmWorkflowsError {
  readonly workflow: string;
  readonly issues: FieldIssue[];

  constructor(workflow: string, issues: FieldIssue[]) {
    super("INVALID_INPUT", `invalid input for workflow "${workflow}": ${describeIssues(issues)}`);
    this.workflow = workflow;
    this.issues = issues;
  }
}

/** No workflow is registered under the requested name. */
export class UnknownWorkflowError extends LlmWorkflowsError {
  readonly workflow: string;

  constructor(workflow: string, available: readonly string[]) {
    super(
      "UNKNOWN_WORKFLOW",
      `unknown workflow "${workflow}"; expected one of: ${available.join(", ")}`,
    );
    this.workflow = workflow;
  }
}

/**
 * A model's structured answer did not satisfy the zod schema the node asked for.
 * `path` names the first failing field of the schema.
 */
export class StructuredOutputError extends LlmWorkflowsError {
  readonly schemaName: string;
  readonly issues: FieldIssue[];
  /** The graph node that asked, when known. */
  readonly node?: string;

  constructor(schemaName: string, issues: FieldIssue[], options?: { cause?: unknown; node?: string }) {
    super(
      "STRUCTURED_OUTPUT",
      `${options?.node ? `node "${options.node}": ` : ""}the model's answer for "${schemaName}" does not match its schema: ${describeIssues(issues)}`,
      options,
    );
    this.schemaName = schemaName;
    this.issues = issues;
    this.node = options?.node;
  }
}

/** A setting (environment variable, run configuration, CLI option) has an unusable value. */
export class ConfigurationError extends LlmWorkflowsError {
  readonly setting: string;

  constructor(setting: string, expected: string, received: unknown) {
    super(
      "INVALID_CONFIGURATION",
      `invalid setting ${setting}: expected ${expected}, received ${JSON.stringify(received)}`,
    );
    this.setting = setting;
  }
}

/** A data file (CSV, JSONL, JSON) given to the CLI cannot be read as rows of input. */
export class DataFileError extends LlmWorkflowsError {
  readonly file: string;

  constructor(file: string, problem: string, options?: { cause?: unknown }) {
    super("DATA_FILE", `cannot read ${file}: ${problem}`, options);
    this.file = file;
  }
}

/** A builder was given a definition it cannot turn into a graph (found when the graph is built). */
export class GraphDefinitionError extends LlmWorkflowsError {
  constructor(builder: string, problem: string) {
    super("GRAPH_DEFINITION", `${builder}: ${problem}`);
  }
}

/** Parses `value` with `schema`, throwing {@link InvalidInputError} naming each bad field. */
export function parseInput<S extends z.ZodType>(workflow: string, schema: S, value: unknown): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new InvalidInputError(workflow, fieldIssues(result.error));
  return result.data;
}

/** No checkpoint exists for the thread in the checkpointer given. */
export class UnknownThreadError extends LlmWorkflowsError {
  readonly threadId: string;

  constructor(threadId: string, where: string) {
    super("UNKNOWN_THREAD", `no thread "${threadId}" in ${where}`);
    this.threadId = threadId;
  }
}

/** The thread has no checkpoint with that id. */
export class UnknownCheckpointError extends LlmWorkflowsError {
  constructor(threadId: string, checkpointId: string) {
    super("UNKNOWN_CHECKPOINT", `thread "${threadId}" has no checkpoint "${checkpointId}" (see its history)`);
  }
}

/** A resume does not fit the thread's pending interrupts. */
export class ResumeError extends LlmWorkflowsError {
  constructor(threadId: string, problem: string) {
    super("INVALID_RESUME", `cannot resume thread "${threadId}": ${problem}`);
  }
}

/** A graph named on the command line (`path:export`, or in a langgraph.json) cannot be loaded. */
export class GraphLoadError extends LlmWorkflowsError {
  /** `ABSOLUTE_PATH:export`, or the langgraph.json path. */
  readonly where: string;

  constructor(where: string, problem: string, options?: { cause?: unknown }) {
    super("GRAPH_LOAD", `cannot load ${where}: ${problem}`, options);
    this.where = where;
  }
}

/** An optional package that a feature needs is not installed. */
export class MissingDependencyError extends LlmWorkflowsError {
  /** The npm package to install. */
  readonly packageName: string;

  constructor(packageName: string, feature: string, options?: { cause?: unknown }) {
    super("MISSING_DEPENDENCY", `${feature} needs the package ${packageName}: npm install ${packageName}`, options);
    this.packageName = packageName;
  }
}

/**
 * Imports an optional package, or throws {@link MissingDependencyError}
 * naming it. Only a missing package is turned into that error; any other
 * failure of the import is rethrown.
 */
export async function importOptional<T>(packageName: string, feature: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException)?.code;
    if ((code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") && String((error as Error).message).includes(packageName)) {
      throw new MissingDependencyError(packageName, feature, { cause: error });
    }
    throw error;
  }
}

/**
 * A request to the model provider failed for good: the transport
 * (`models/transport.ts`) made `attempts` requests and the last one failed
 * with `status` (an HTTP status) or a network error. Node retry policies do not
 * retry it (the transport already did), fallback models do.
 */
export class ProviderRequestError extends LlmWorkflowsError {
  /** The URL the requests went to. */
  readonly url: string;
  /** HTTP requests made, the first included. */
  readonly attempts: number;
  /** HTTP status of the last response, when there was one. */
  readonly status?: number;

  constructor(url: string, attempts: number, problem: string, options?: { cause?: unknown; status?: number; code?: string }) {
    super(options?.code ?? "PROVIDER_REQUEST_FAILED", `request to ${url} failed after ${attempts} attempt${attempts === 1 ? "" : "s"}: ${problem}`, options);
    this.url = url;
    this.attempts = attempts;
    this.status = options?.status;
  }
}

/**
 * Nothing listens at the provider's address (connection refused, or a host
 * name that does not resolve): a setting to fix, not a fault to retry, so the
 * transport fails at once and names the URL.
 */
export class ProviderUnreachableError extends ProviderRequestError {
  constructor(url: string, reason: string, options?: { cause?: unknown }) {
    super(url, 1, `${reason}; is the server at this address running (OPENAI_BASE_URL, configurable.baseURL)?`, { ...options, code: "PROVIDER_UNREACHABLE" });
  }
}
