import { facadeJob, facadeReport } from "../facadeOverhead.js";
const rows = [];
for (const saver of ["none", "memory"] as const) rows.push(...(await facadeJob({ saver, chainNodes: 100, branches: 1000, chainReps: 8, fanReps: 4, seed: 1 })));
const r = facadeReport(rows, { quick: false, seed: 1 });
console.log(r.tables[0].rows.map((x) => x.join(" | ")).join("\n"));
