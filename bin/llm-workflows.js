#!/usr/bin/env node
// Entry point of the `llm-workflows` command: the sources are TypeScript, run
// through tsx's loader (the same loader the LangGraph dev server uses).
import { register } from "tsx/esm/api";

register();
process.env.LLM_WORKFLOWS_CLI = "1";
await import("../src/cli/main.ts");
