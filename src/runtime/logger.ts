/**
 * The one way this library tells its user something outside a run's result:
 * a {@link Logger} given in the run's config (`configurable.logger`, see
 * {@link LOGGER_KEY}). The library never writes to stderr or stdout itself;
 * without a logger, notices are dropped.
 *
 * Every record has a stable `code`, so that a logger can filter, count or
 * show a notice once:
 *
 * | code            | level | when |
 * | --------------- | ----- | ---- |
 * | `OFFLINE_MODEL` | warn  | a run uses the embedded offline model (no provider configured); once per logger |
 *
 * `console` is a valid logger (`{ configurable: { logger: console } }`).
 *
 * @module
 */
import type { RunnableConfig } from "@langchain/core/runnables";
import { ConfigurationError } from "./errors.js";

/** What a log record carries besides its message: a stable `code` and any details. */
export interface LogFields {
  /** Stable machine-readable code, e.g. `OFFLINE_MODEL`. */
  code: string;
  [key: string]: unknown;
}

/** A logger: `warn` is required; `info` and `debug` are used when present. `console` fits. */
export interface Logger {
  warn(message: string, fields?: LogFields): void;
  info?(message: string, fields?: LogFields): void;
  debug?(message: string, fields?: LogFields): void;
}

/** The `configurable` key of a run's {@link Logger}. */
export const LOGGER_KEY = "logger";

/**
 * The logger of a run: `config.configurable.logger`, or undefined.
 * @throws {ConfigurationError} when the value has no `warn` function.
 */
export function loggerFrom(config?: RunnableConfig | { configurable?: Record<string, unknown> }): Logger | undefined {
  const value = (config?.configurable as Record<string, unknown> | undefined)?.[LOGGER_KEY];
  if (value === undefined || value === null) return undefined;
  if (typeof (value as Logger).warn !== "function") throw new ConfigurationError(`configurable.${LOGGER_KEY}`, "an object with a warn(message) method (e.g. console)", typeof value);
  return value as Logger;
}

const told = new WeakMap<Logger, Set<string>>();

/**
 * Logs `message` at `warn` level once per logger and `code` (the offline
 * model notice: once per CLI process, not once per call). Remembered in a
 * `WeakMap` keyed by the caller's logger, so runs with different loggers are
 * independent and nothing outlives the logger.
 */
export function warnOnce(logger: Logger | undefined, message: string, fields: LogFields): void {
  if (!logger) return;
  let codes = told.get(logger);
  if (!codes) told.set(logger, (codes = new Set()));
  if (codes.has(fields.code)) return;
  codes.add(fields.code);
  logger.warn(message, fields);
}
