#!/usr/bin/env node
// Entry point of the `llm-workflows` command: the compiled CLI (`npm run build`,
// which `npm ci` and `npm install` of a clone run through the `prepare` script).
const { runCli } = await import("../dist/src/cli/main.js");
await runCli();
