/**
 * Keeps secrets out of what this library writes: call logs, error messages and
 * CLI output. API keys (`sk-…`, the configured key itself) and Authorization
 * header values are replaced by `[redacted]`.
 *
 * @module
 */

const PATTERNS = [/\bsk-[A-Za-z0-9_-]{6,}/g, /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, /("?authorization"?\s*[:=]\s*"?)[^"\s,}]+/gi, /("?api[_-]?key"?\s*[:=]\s*"?)[^"\s,}]+/gi];

/** `text` with API keys, bearer tokens and Authorization values (and each of `secrets`) replaced by `[redacted]`. */
export function redactSecrets(text: string, secrets: readonly (string | undefined)[] = [process.env.OPENAI_API_KEY]): string {
  let out = text;
  for (const secret of secrets) if (secret && secret.length >= 4) out = out.split(secret).join("[redacted]");
  out = out.replace(PATTERNS[0], "[redacted]").replace(PATTERNS[1], "$1 [redacted]");
  out = out.replace(PATTERNS[2], "$1[redacted]").replace(PATTERNS[3], "$1[redacted]");
  return out;
}
