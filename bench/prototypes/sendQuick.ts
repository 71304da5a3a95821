/** Quick look at section 7 in one process: `node --import tsx bench/prototypes/sendQuick.ts N REPS [pattern,...]`. */
import { sendPatternsJob, sendPatternsReport, type SendPattern } from "../sendPatterns.js";
const [n = "100", reps = "3", patterns] = process.argv.slice(2);
const rows = await sendPatternsJob({ n: Number(n), reps: Number(reps), seed: 1, patterns: patterns?.split(",") as SendPattern[] | undefined });
const r = sendPatternsReport(rows, { quick: true, seed: 1 });
console.log(r.tables[0].rows.map((x) => x.join(" | ")).join("\n"));
