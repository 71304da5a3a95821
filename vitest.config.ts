import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["test/setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // No test may reach the network or a provider: the offline model unless a test sets its own.
    env: { OPENAI_API_KEY: "", OPENAI_BASE_URL: "", LLM_WORKFLOWS_PROVIDER: "", LLM_WORKFLOWS_MODEL: "" },
  },
});
