/**
 * Starts the LangGraph dev server (`langgraphjs dev`) for a test on a free
 * loopback port, in its own process group, and stops the whole group.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { freePort } from "../../scripts/dev.js";

export interface DevServer {
  url: string;
  process: ChildProcess;
  /** Everything the server printed (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

export async function startDevServer(timeoutMs = 90_000): Promise<DevServer> {
  const port = await freePort(2100 + (process.pid % 500));
  const child = spawn(process.execPath, [fileURLToPath(new URL("../../node_modules/@langchain/langgraph-cli/dist/cli/cli.mjs", import.meta.url)), "dev", "--port", String(port), "--host", "127.0.0.1", "--no-browser"], {
    cwd: ROOT,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, LANGGRAPH_CLI_NO_ANALYTICS: "1", LANGSMITH_TRACING: "false", OPENAI_API_KEY: "", OPENAI_BASE_URL: "" },
  });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    try {
      process.kill(-child.pid!, "SIGTERM");
    } catch {
      return;
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // gone
      }
    }, 5000);
    await exited;
    clearTimeout(timer);
  };
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the dev server exited with ${child.exitCode}:\n${output}`);
    try {
      const res = await fetch(`${url}/ok`);
      if (res.ok) return { url, process: child, log: () => output, stop };
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  await stop();
  throw new Error(`the dev server did not answer /ok within ${timeoutMs} ms:\n${output}`);
}
