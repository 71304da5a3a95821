/**
 * `llm-workflows/testing`: deterministic chat models for your own tests, with
 * no network and no key.
 *
 * - {@link OfflineChatModel}: the embedded offline model (extractive, deterministic),
 *   a real `BaseChatModel` with tool calling and validated structured output.
 * - {@link SimulatedChatModel}: seeded latency and scripted answers, for
 *   benchmarks and timing-sensitive tests.
 *
 * @module
 */
export { OfflineChatModel } from "./models/offline/model.js";
export { SimulatedChatModel, FIXED_TEXT, type SimulatedModelOptions, type SimulatedModelStats } from "./models/simulated.js";
