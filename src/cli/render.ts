/**
 * Terminal output of the CLI: results as readable text or JSON, node progress
 * lines, token summaries and plain-text tables.
 *
 * @module
 */
import type { TokenUsage } from "../runtime/usage.js";

/** A value as indented, human-readable text (strings as-is, objects as key: value lines). */
export function renderValue(value: unknown, indent = ""): string {
  if (value === null || value === undefined) return "-";
  if (typeof value === "string") return value.includes("\n") ? `\n${value.replace(/^/gm, `${indent}  `)}` : value;
  if (typeof value !== "object") return String(value);
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    return value.map((v) => `\n${indent}- ${renderValue(v, `${indent}  `).replace(/^\n\s*/, "")}`).join("");
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) return "{}";
  return entries.map(([k, v]) => `\n${indent}${k}: ${renderValue(v, `${indent}  `)}`).join("");
}

/** An output state as `key: value` lines. */
export function renderOutput(output: Record<string, unknown>): string {
  return renderValue(output).replace(/^\n/, "");
}

/** `12 ms` or `1.3 s`. */
export function formatDuration(ms: number): string {
  return ms < 1000 ? `${ms.toFixed(ms < 10 ? 1 : 0)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** `3 calls, 1,204 in / 310 out tokens, USD 0.000367` (USD only when priced above 0). */
export function formatUsage(usage: TokenUsage): string {
  if (usage.calls === 0) return "no model calls";
  const usd = usage.usd > 0 ? `, ${formatUsd(usage.usd)}` : "";
  return `${usage.calls} call${usage.calls === 1 ? "" : "s"}, ${usage.inputTokens.toLocaleString("en-US")} in / ${usage.outputTokens.toLocaleString("en-US")} out tokens${usd}`;
}

/** `USD 0.000367`. */
export function formatUsd(usd: number): string {
  return `USD ${usd.toFixed(usd >= 1 ? 2 : 6)}`;
}

/** A plain-text table with a header row; numbers right-aligned. */
export function renderTable(header: string[], rows: Array<Array<string | number>>): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? "").length)));
  const line = (r: string[], raw?: Array<string | number>) =>
    r.map((cell, c) => (typeof raw?.[c] === "number" ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join("  ").trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map((r) => line(r.map(String), r))].join("\n");
}

/** `41.7%`. */
export function percent(part: number, whole: number): string {
  return whole === 0 ? "-" : `${((100 * part) / whole).toFixed(1)}%`;
}
