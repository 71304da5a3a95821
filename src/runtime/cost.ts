/**
 * What model calls cost: a price table per model (USD per million input and
 * output tokens) and a budget that stops a run, with a typed error, before the
 * call that would exceed it.
 *
 * Prices are list prices for standard (non-batch, uncached) use; a run
 * overrides or extends them with `configurable.prices` ({@link PRICES_KEY},
 * read by {@link pricesFrom}; the facade hands them to the run's usage
 * tracker). A model missing from the table costs 0 and is reported as
 * unpriced. Nothing is kept between runs.
 *
 * @module
 */
import { ConfigurationError, LlmWorkflowsError } from "./errors.js";

/** USD per 1,000,000 tokens. */
export interface Price {
  input: number;
  output: number;
}

/** Default price table (USD per 1M tokens; OpenAI list prices). Frozen: a run's own prices go in `configurable.prices`. */
export const DEFAULT_PRICES: Readonly<Record<string, Price>> = Object.freeze({
  offline: { input: 0, output: 0 },
  "gpt-4o-mini": { input: 0.15, output: 0.6 },
  "gpt-4o": { input: 2.5, output: 10 },
  "gpt-4.1": { input: 2, output: 8 },
  "gpt-4.1-mini": { input: 0.4, output: 1.6 },
  "gpt-4.1-nano": { input: 0.1, output: 0.4 },
  "o4-mini": { input: 1.1, output: 4.4 },
});

/** The `configurable` key of a run's prices: `{ [model]: { input, output } }`, USD per 1M tokens, over {@link DEFAULT_PRICES}. */
export const PRICES_KEY = "prices";

/**
 * The price table of a run: {@link DEFAULT_PRICES} with `configurable.prices`
 * ({@link PRICES_KEY}) added or replacing entries.
 * @throws {ConfigurationError} naming the model whose price is not `{ input, output }` of numbers >= 0.
 */
export function pricesFrom(configurable?: Record<string, unknown>): Record<string, Price> {
  const given = configurable?.[PRICES_KEY];
  if (given === undefined || given === null) return DEFAULT_PRICES;
  if (typeof given !== "object" || Array.isArray(given)) throw new ConfigurationError(`configurable.${PRICES_KEY}`, "an object of model name -> { input, output } (USD per 1M tokens)", given);
  for (const [model, price] of Object.entries(given)) {
    const p = price as Partial<Price> | null;
    if (!p || typeof p !== "object" || !(typeof p.input === "number" && p.input >= 0) || !(typeof p.output === "number" && p.output >= 0)) {
      throw new ConfigurationError(`configurable.${PRICES_KEY}.${model}`, "{ input, output }: USD per 1M tokens, numbers >= 0", price);
    }
  }
  return { ...DEFAULT_PRICES, ...(given as Record<string, Price>) };
}

/** The price of `model` in `table`: exact name, else the longest known prefix (dated versions), else undefined. */
export function priceOf(model: string, table: Record<string, Price> = DEFAULT_PRICES): Price | undefined {
  if (table[model]) return table[model];
  const prefix = Object.keys(table)
    .filter((k) => model.startsWith(`${k}-`))
    .sort((a, b) => b.length - a.length)[0];
  return prefix ? table[prefix] : undefined;
}

/** USD for `inputTokens` and `outputTokens` of `model` in `table` (default {@link DEFAULT_PRICES}; 0 when unpriced). */
export function costOf(model: string, inputTokens: number, outputTokens: number, table?: Record<string, Price>): number {
  const price = priceOf(model, table);
  if (!price) return 0;
  return (inputTokens * price.input + outputTokens * price.output) / 1_000_000;
}

/** A run's spending limit: tokens (input + output) and/or USD. */
export interface Budget {
  maxTokens?: number;
  maxUsd?: number;
}

/** The next model call would take the run over its budget; nothing was sent. */
export class BudgetExceededError extends LlmWorkflowsError {
  readonly spent: { tokens: number; usd: number };
  readonly budget: Budget;

  constructor(budget: Budget, spent: { tokens: number; usd: number }, next: { tokens: number; usd: number }) {
    const which = budget.maxUsd !== undefined && spent.usd + next.usd > budget.maxUsd ? `USD ${budget.maxUsd}` : `${budget.maxTokens} tokens`;
    super(
      "BUDGET_EXCEEDED",
      `the run's budget of ${which} would be exceeded by the next model call: spent ${spent.tokens} tokens / USD ${spent.usd.toFixed(6)}, the call needs at least ${next.tokens} tokens / USD ${next.usd.toFixed(6)}`,
    );
    this.spent = spent;
    this.budget = budget;
  }
}
