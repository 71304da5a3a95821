/**
 * `npm run dev`: the LangGraph dev server for LangGraph Studio, on a free port
 * (2024, the default, is often taken), bound to 127.0.0.1, with the CLI's
 * analytics off. Ctrl-C stops it and its process tree.
 *
 * Options: `--port N` (default: the first free port from 2025).
 */
import { spawn } from "node:child_process";
import { createServer } from "node:net";

/** First port the dev server tries. */
export const FIRST_DEV_PORT = 2025;

/** The first port from `from` on which 127.0.0.1 can listen. */
export async function freePort(from: number, attempts = 50): Promise<number> {
  for (let port = from; port < from + attempts; port++) {
    const free = await new Promise<boolean>((resolve) => {
      const probe = createServer()
        .once("error", () => resolve(false))
        .once("listening", () => probe.close(() => resolve(true)))
        .listen(port, "127.0.0.1");
    });
    if (free) return port;
  }
  throw new Error(`no free port in ${from}-${from + attempts - 1}`);
}

/** Starts the dev server and forwards Ctrl-C to its process group. */
async function main(): Promise<void> {
  const explicit = process.argv.indexOf("--port");
  const port = explicit > 0 ? Number(process.argv[explicit + 1]) : await freePort(FIRST_DEV_PORT);
  const url = `http://127.0.0.1:${port}`;
  process.stderr.write(
    `LangGraph dev server on ${url}\nStudio: https://smith.langchain.com/studio/?baseUrl=${encodeURIComponent(url)}\n`,
  );
  const child = spawn("npx", ["langgraphjs", "dev", "--port", String(port), "--host", "127.0.0.1", "--no-browser"], {
    stdio: "inherit",
    detached: true,
    env: { ...process.env, LANGGRAPH_CLI_NO_ANALYTICS: "1" },
  });
  const stop = () => {
    try {
      process.kill(-child.pid!, "SIGTERM");
    } catch {
      // already gone
    }
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  child.on("exit", (code) => process.exit(code ?? 0));
}

if (import.meta.url === new URL(`file://${process.argv[1]}`).href) await main();
