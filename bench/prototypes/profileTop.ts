/**
 * Self time per function of a `.cpuprofile` (the top N), optionally the
 * difference against a second profile: `node --import tsx bench/prototypes/profileTop.ts A.cpuprofile [B.cpuprofile] [N]`.
 * Frames are named `function (package/file:line)`; times in ms.
 */
import { readFileSync } from "node:fs";

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface Profile { nodes: Node[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

function selfTimes(path: string): { total: number; byFrame: Map<string, number> } {
  const p = JSON.parse(readFileSync(path, "utf8")) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const byFrame = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const n = byId.get(p.samples[i])!;
    const dt = (p.timeDeltas[i + 1] ?? 0) / 1000;
    total += dt;
    const url = n.callFrame.url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*\/main\//, "");
    const key = `${n.callFrame.functionName || "(anonymous)"} (${url || "native"}${url ? `:${n.callFrame.lineNumber + 1}` : ""})`;
    byFrame.set(key, (byFrame.get(key) ?? 0) + dt);
  }
  return { total, byFrame };
}

const [a, b, nText] = process.argv.slice(2);
const top = Number((b && !b.endsWith(".cpuprofile") ? b : nText) ?? 25);
const A = selfTimes(a);
if (b && b.endsWith(".cpuprofile")) {
  const B = selfTimes(b);
  const keys = new Set([...A.byFrame.keys(), ...B.byFrame.keys()]);
  const diff = [...keys].map((k) => [k, (A.byFrame.get(k) ?? 0) - (B.byFrame.get(k) ?? 0)] as const).sort((x, y) => y[1] - x[1]);
  console.log(`total ${A.total.toFixed(0)} ms vs ${B.total.toFixed(0)} ms`);
  for (const [k, d] of diff.slice(0, top)) console.log(`${d.toFixed(1).padStart(8)}  ${k}`);
} else {
  console.log(`total ${A.total.toFixed(0)} ms`);
  for (const [k, t] of [...A.byFrame].sort((x, y) => y[1] - x[1]).slice(0, top)) console.log(`${t.toFixed(1).padStart(8)} ${((100 * t) / A.total).toFixed(1).padStart(5)}%  ${k}`);
}
