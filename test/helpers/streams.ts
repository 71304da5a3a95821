/** In-memory streams and a CLI runner for the command-line tests. */
import { Writable } from "node:stream";
import { main } from "../../src/cli/main.js";

/** A writable stream that keeps what is written to it; `slow` makes every write report back-pressure. */
export class Collector extends Writable {
  readonly chunks: string[] = [];

  constructor(private readonly slow = false) {
    // A slow sink with a tiny buffer: every write reports back-pressure and finishes later.
    super(slow ? { highWaterMark: 8 } : {});
  }

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.chunks.push(chunk.toString());
    if (this.slow) setImmediate(callback);
    else callback();
  }

  get text(): string {
    return this.chunks.join("");
  }

  /** Non-empty lines. */
  get lines(): string[] {
    return this.text.split("\n").filter((l) => l.trim().length > 0);
  }
}

/** Runs the CLI in-process with collected stdout and stderr. */
export async function cli(...argv: string[]): Promise<{ code: number; stdout: Collector; stderr: Collector }> {
  const stdout = new Collector();
  const stderr = new Collector();
  const code = await main(argv, stdout, stderr);
  return { code, stdout, stderr };
}
