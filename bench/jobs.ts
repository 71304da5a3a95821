/**
 * The benchmark jobs by name: what one child process (or, with `--inline`, the
 * runner itself) measures.
 *
 * @module
 */
export async function runJob(name: string, params: any): Promise<unknown> {
  switch (name) {
    case "fanOut":
      return (await import("./fanOut.js")).fanOutJob(params);
    case "nodeOverhead":
      return (await import("./nodeOverhead.js")).nodeOverheadJob(params);
    case "speedup":
      return (await import("./speedup.js")).speedupJob(params);
    case "patterns":
      return (await import("./patterns.js")).patternsJob(params);
    case "memory":
      return (await import("./memory.js")).memoryJob(params);
    case "facade":
      return (await import("./facadeOverhead.js")).facadeJob(params);
    case "sendPatterns":
      return (await import("./sendPatterns.js")).sendPatternsJob(params);
    default:
      throw new Error(`unknown benchmark job ${JSON.stringify(name)}`);
  }
}
