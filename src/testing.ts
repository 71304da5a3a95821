/**
 * `llm-workflows/testing`: deterministic chat models and recorded model calls
 * for your own tests, with no network and no key.
 *
 * - {@link OfflineChatModel}: the embedded offline model (extractive, deterministic),
 *   a real `BaseChatModel` with tool calling and validated structured output.
 * - {@link SimulatedChatModel}: seeded latency and scripted answers, for
 *   benchmarks and timing-sensitive tests.
 * - {@link recordModelCalls} / {@link replayModelCalls}: record what a real
 *   model said in a run once (a JSON Lines file), then replay it in tests
 *   (docs/record-and-replay.md).
 *
 * @module
 */
import { ModelCallRecorder, recorderForOptions, type ReplayMode } from "./models/replay.js";

export { OfflineChatModel } from "./models/offline/model.js";
export { SimulatedChatModel, FIXED_TEXT, type SimulatedModelOptions, type SimulatedModelStats } from "./models/simulated.js";
export {
  ModelCallRecorder,
  ReplayChatModel,
  ReplayMissError,
  RECORDER_KEY,
  recorderForOptions,
  recorderFrom,
  requestHash,
  canonicalJson,
  type CallRecord,
  type RecordedRequest,
  type RecordedResponse,
  type RecorderMode,
  type RecorderStats,
  type ReplayMode,
  type ModelCallRecorderOptions,
  type RecordReplayOptions,
} from "./models/replay.js";

/**
 * A recorder that sends every model call of the runs given its
 * `configurable` to the configured model and appends the request and answer
 * to `file` (created if missing; existing records are kept).
 *
 * @param options.secrets - Strings to keep out of the file besides API-key patterns and `OPENAI_API_KEY`.
 * @example
 * ```ts
 * const calls = recordModelCalls("test/fixtures/routing.jsonl");
 * await runWorkflow("supportRouting", { query: "I was charged twice" }, { configurable: calls.configurable });
 * ```
 */
export function recordModelCalls(file: string, options: { secrets?: string[] } = {}): ModelCallRecorder {
  return new ModelCallRecorder({ file, mode: "record", secrets: options.secrets });
}

/**
 * A recorder that answers every model call of the runs given its
 * `configurable` from `file`: the model is never called. A request that is
 * not in the file fails the run with a `ReplayMissError` naming the node and
 * the request's hash, unless `mode` is `record-missing` (then the model is
 * called and the record appended).
 *
 * @throws {DataFileError} when `file` does not exist (strict) or holds a line that is not a record.
 * @throws {ConfigurationError} for a `mode` other than `strict` and `record-missing`.
 * @example
 * ```ts
 * const calls = replayModelCalls("test/fixtures/routing.jsonl");
 * const out = await runWorkflow("supportRouting", { query: "I was charged twice" }, { configurable: calls.configurable });
 * calls.unused(); // [] when the run made every recorded call
 * ```
 */
export function replayModelCalls(file: string, options: { mode?: ReplayMode; secrets?: string[] } = {}): ModelCallRecorder {
  return recorderForOptions({ replay: file, replayMode: options.mode, secrets: options.secrets })!;
}
