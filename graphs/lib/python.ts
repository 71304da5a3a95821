/**
 * Runs Python code against test lines (assert statements) in a subprocess and
 * reports, test by test, which pass and which fail and why. The evaluator of
 * the `codeGeneration` workflow uses it; so does `scripts/evalCodeGeneration.ts`
 * to check the harness on MBPP's reference solutions.
 *
 * How a run is confined:
 *
 * - **Process.** `python3 -I -S` (isolated mode: no `PYTHON*` variables, no
 *   user site, script folder not on `sys.path`; no `site` module) with an
 *   **empty environment**, in a **fresh temporary folder** (its working
 *   directory) that is deleted afterwards. The interpreter is the real
 *   executable behind `python3` (`sys.executable`, resolved once), so pyenv-style
 *   shims work without their environment.
 * - **Time.** Inside Python, each phase (the code, the setup, then each test)
 *   may use what is left of the run's budget except {@link PHASE_RESERVE_MS}
 *   for every phase after it, enforced with `SIGALRM`: a phase that runs over
 *   is reported as timed out and the next one still runs, and a slow but
 *   correct test can use most of the budget. Outside, the whole run has the
 *   hard limit `timeoutMs`, after which the process group is killed with
 *   `SIGKILL` and the tests without a result are reported as not run. A
 *   hanging program never hangs the caller.
 * - **Network.** In a new network namespace (`unshare -n`, or `unshare -rn`
 *   through a user namespace) when the machine allows it: no interface but a
 *   loopback that is down, so nothing is reachable, not even 127.0.0.1. In
 *   any case an audit hook (PEP 578) refuses socket connects, binds, sends and
 *   name lookups, subprocesses, `os.system`/`exec`/`fork`/`posix_spawn` and
 *   `ctypes`, with `PermissionError`.
 * - **Resources.** Address space (`memoryMb`, default 1024 MiB), file size
 *   (16 MiB) and core dumps (none) are limited with `setrlimit`; what the code
 *   prints is kept up to 2,000 characters.
 *
 * This guards against accidents (an infinite loop, a stray request, a
 * runaway allocation) in code a model wrote; it is not a security boundary
 * for hostile code (audit hooks can be evaded by determined code; the network
 * namespace and the kill are the hard parts).
 *
 * Test semantics: the code and the setup run once in one namespace, then
 * each test runs in that namespace, in order. A failed `assert a == b` is
 * reported with both sides (`got …, expected …`), evaluated again after the
 * failure. A syntax error or exception in the code fails every test with that
 * error; so does a failing setup.
 *
 * @module
 */
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { accessSync, constants as fsConstants } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { LlmWorkflowsError } from "../../src/runtime/errors.js";

/** Hard time limit of one run in ms when none is given. */
export const DEFAULT_PYTHON_TIMEOUT_MS = 10_000;
/** Time kept back for each phase still to run (code, setup, tests) when a phase's limit is set, in ms. */
export const PHASE_RESERVE_MS = 100;
/** Shortest limit a phase gets, in ms, however little budget is left. */
export const MIN_PHASE_MS = 50;
/** Part of `timeoutMs` kept outside the in-Python budget for start-up and reporting: 250 ms, or a quarter of short limits. */
export const STARTUP_MARGIN_MS = 250;
/** Address-space limit of the Python process in MiB when none is given. */
export const DEFAULT_MEMORY_MB = 1024;
/** Longest error text kept per failure, in characters. */
export const MAX_ERROR_CHARS = 500;

/** Why a test failed. */
export type PythonFailureKind =
  /** an `assert` was false */
  | "assert"
  /** the test raised another exception */
  | "error"
  /** the test ran past its time limit, or the run was killed during it */
  | "timeout"
  /** the test itself is not valid Python */
  | "syntax"
  /** the code or the setup failed (syntax error, exception, timeout), so no test could run */
  | "code"
  /** the process ended (killed at the time limit, crashed, exited) before this test ran */
  | "not_run";

/** One failed test. */
export interface PythonTestFailure {
  /** The test as given. */
  test: string;
  /** 0-based position of the test in the list. */
  index: number;
  kind: PythonFailureKind;
  /** What went wrong, e.g. `AssertionError: got 7, expected 8` (at most {@link MAX_ERROR_CHARS} characters). */
  error: string;
}

/** The outcome of {@link runPythonTests}. */
export interface PythonTestResult {
  /** Number of tests that passed. */
  passed: number;
  /** Number of tests given. */
  total: number;
  /** The failed tests, in test order; `passed + failed.length === total`. */
  failed: PythonTestFailure[];
  /** Whether any phase ran out of time (its own limit, or the whole run's). */
  timedOut: boolean;
  /** Whether the process group was killed at the hard limit `timeoutMs` (or on abort). */
  killed: boolean;
  /** Wall time of the run in ms, temporary folder included. */
  durationMs: number;
  /** How the network was cut: a network namespace (and the audit hook), or the audit hook alone. */
  network: "namespace" | "audit-hook";
  /** What the code and the tests printed (stdout and stderr), at most 2,000 characters. */
  output: string;
}

/** Options of {@link runPythonTests}. */
export interface PythonRunOptions {
  /**
   * Hard limit of the whole run in ms (start-up, code, setup and every test),
   * default {@link DEFAULT_PYTHON_TIMEOUT_MS}. Inside Python the phases share
   * `timeoutMs - 250` ms (see the module doc).
   */
  timeoutMs?: number;
  /** Python run after the code and before the tests (MBPP's `test_setup_code`, or imports). */
  setup?: string;
  /** Address-space limit in MiB (default {@link DEFAULT_MEMORY_MB}). */
  memoryMb?: number;
  /** Cancels the run (the process group is killed; the result reports `killed`). */
  signal?: AbortSignal;
  /** Python executable; default `LLM_WORKFLOWS_PYTHON`, else `python3` on the PATH. */
  python?: string;
  /**
   * Whether to run in a new network namespace when the machine allows it
   * (default true). False leaves the audit hook alone (used to test that layer).
   */
  networkNamespace?: boolean;
}

/** No usable Python interpreter. */
export class PythonUnavailableError extends LlmWorkflowsError {
  constructor(python: string, problem: string) {
    super("PYTHON_UNAVAILABLE", `cannot run Python (${python}): ${problem}`);
  }
}

/* The harness. Reads the payload (then deletes it, so that the code under test
 * cannot read the tests), installs the limits and the audit hook, runs the
 * phases and writes one JSON line per phase to the results file, each tagged
 * with a nonce the code under test does not know. */
const HARNESS = String.raw`
import ast, io, json, os, resource, signal, sys, time, traceback

def main():
    payload_path, results_path = sys.argv[1], sys.argv[2]
    with open(payload_path, encoding="utf-8") as f:
        p = json.load(f)
    os.remove(payload_path)
    nonce = p["nonce"]
    out = open(results_path, "a", encoding="utf-8")
    def emit(rec):
        rec["nonce"] = nonce
        out.write(json.dumps(rec) + "\n")
        out.flush()
    deadline = time.monotonic() + p["budgetMs"] / 1000.0
    reserve, floor = p["reserveMs"] / 1000.0, p["minPhaseMs"] / 1000.0
    phase_limit = [floor]
    for limit, value in ((resource.RLIMIT_AS, p["memoryBytes"]), (resource.RLIMIT_FSIZE, 16 << 20), (resource.RLIMIT_CORE, 0)):
        try:
            resource.setrlimit(limit, (value, value))
        except (ValueError, OSError):
            pass

    class PhaseTimeout(BaseException):
        pass
    def on_alarm(signum, frame):
        raise PhaseTimeout()
    signal.signal(signal.SIGALRM, on_alarm)

    blocked = {"socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo",
               "socket.gethostbyname", "socket.gethostbyaddr", "socket.getnameinfo", "subprocess.Popen",
               "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty", "ctypes.dlopen",
               "ctypes.dlsym", "ctypes.cdata"}
    def audit(event, args):
        if event in blocked:
            raise PermissionError(event + " is not allowed here (no network, no subprocesses)")

    class Capped(io.TextIOBase):
        def __init__(self):
            self.parts, self.size = [], 0
        def writable(self):
            return True
        def write(self, s):
            if self.size < 2000:
                self.parts.append(s[: 2000 - self.size])
                self.size += len(self.parts[-1])
            return len(s)
    captured = Capped()

    def clip(text, n=200):
        return text if len(text) <= n else text[: n - 1] + "…"
    def short_repr(value):
        try:
            return clip(repr(value))
        except BaseException:
            return "<unprintable>"
    def where(tb):
        frames = [f for f in traceback.extract_tb(tb) if f.filename in ("solution.py", "setup.py")]
        return " (%s, line %d)" % (frames[-1].filename, frames[-1].lineno) if frames else ""
    def describe(e):
        text = "%s: %s" % (type(e).__name__, e) if str(e) else type(e).__name__
        return clip(text, 400) + where(e.__traceback__)

    ns = {"__name__": "__solution__", "__builtins__": __builtins__}
    after = [len(p["tests"]) + (1 if p["setup"].strip() else 0)]
    def timeout():
        return {"ok": False, "kind": "timeout", "error": "timed out after %d ms" % round(phase_limit[0] * 1000)}

    def timed(fn):
        # What is left of the budget, minus a reserve for each phase after this one.
        phase_limit[0] = max(floor, deadline - time.monotonic() - reserve * after[0])
        signal.setitimer(signal.ITIMER_REAL, phase_limit[0])
        try:
            return fn()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)

    def explain_assert(source):
        # Both sides of a failed "assert a <op> b", evaluated again; else the value of the asserted expression.
        try:
            tree = ast.parse(source)
            node = tree.body[0] if len(tree.body) == 1 else None
            if not isinstance(node, ast.Assert):
                return None
            def value(expr):
                return timed(lambda: eval(compile(ast.Expression(expr), "test", "eval"), ns))
            test = node.test
            if isinstance(test, ast.Compare) and len(test.ops) == 1:
                left, right = value(test.left), value(test.comparators[0])
                if isinstance(test.ops[0], ast.Eq):
                    return "got %s, expected %s" % (short_repr(left), short_repr(right))
                ops = {"NotEq": "!=", "Lt": "<", "LtE": "<=", "Gt": ">", "GtE": ">=", "Is": "is", "IsNot": "is not", "In": "in", "NotIn": "not in"}
                return "%s %s %s is false: left is %s, right is %s" % (
                    clip(ast.unparse(test.left), 80), ops.get(type(test.ops[0]).__name__, "?"), clip(ast.unparse(test.comparators[0]), 80),
                    short_repr(left), short_repr(right))
            return "%s is %s" % (clip(ast.unparse(test), 120), short_repr(value(test)))
        except BaseException:
            return None

    def run(source, filename, is_test):
        try:
            code = compile(source, filename, "exec")
        except SyntaxError as e:
            return {"ok": False, "kind": "syntax", "error": "SyntaxError: %s (%s, line %s)" % (e.msg, filename, e.lineno)}
        except (ValueError, OverflowError) as e:
            return {"ok": False, "kind": "syntax", "error": describe(e)}
        try:
            timed(lambda: exec(code, ns))
            return {"ok": True}
        except PhaseTimeout:
            return timeout()
        except AssertionError as e:
            if str(e):
                return {"ok": False, "kind": "assert", "error": clip("AssertionError: %s" % e, 400)}
            detail = explain_assert(source) if is_test else None
            return {"ok": False, "kind": "assert", "error": "AssertionError" + (": " + detail if detail else "") + where(e.__traceback__)}
        except BaseException as e:
            return {"ok": False, "kind": "error", "error": describe(e)}

    def guarded(source, filename, is_test):
        try:
            return run(source, filename, is_test)
        except PhaseTimeout:
            return timeout()

    sys.addaudithook(audit)
    saved = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = captured
    try:
        prelude = guarded(p["code"], "solution.py", False)
        if prelude["ok"] and p["setup"].strip():
            after[0] -= 1
            prelude = guarded(p["setup"], "setup.py", False)
            if not prelude["ok"]:
                prelude["error"] = "setup: " + prelude["error"]
        emit({"phase": "code", **prelude})
        for i, test in enumerate(p["tests"]):
            if not prelude["ok"]:
                emit({"phase": "test", "index": i, "ok": False, "kind": "code", "error": "the code did not run: " + prelude["error"]})
                continue
            after[0] = len(p["tests"]) - i - 1
            emit({"phase": "test", "index": i, **guarded(test, "test_%d" % (i + 1), True)})
    finally:
        sys.stdout, sys.stderr = saved
    emit({"phase": "done", "output": "".join(captured.parts)})

main()
`;

interface Interpreter {
  python: string;
  /** Command prefix that runs a program in a new network namespace, or none. */
  netns: string[] | null;
}

const interpreters = new Map<string, Promise<Interpreter>>();

/** An executable named `name` on the PATH, or undefined. */
function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/**
 * The real interpreter behind `python` (its `sys.executable`, run with an empty
 * environment from then on) and the `unshare` prefix that works on this machine.
 */
function resolveInterpreter(python: string): Promise<Interpreter> {
  let found = interpreters.get(python);
  if (!found) {
    found = (async () => {
      const probe = spawnSync(python, ["-I", "-S", "-c", "import sys; print(sys.executable)"], { encoding: "utf8", timeout: 10_000 });
      const executable = probe.stdout?.trim();
      if (probe.error || probe.status !== 0 || !executable) {
        const why = probe.error ? probe.error.message : `exit code ${probe.status}: ${(probe.stderr ?? "").trim().slice(0, 200)}`;
        throw new PythonUnavailableError(python, why);
      }
      const unshare = onPath("unshare");
      let netns: string[] | null = null;
      if (unshare) {
        for (const flags of [["-n"], ["-r", "-n"]]) {
          const prefix = [unshare, ...flags, "--"];
          const ok = spawnSync(prefix[0], [...prefix.slice(1), executable, "-I", "-S", "-c", "pass"], { env: {}, timeout: 10_000 });
          if (!ok.error && ok.status === 0) {
            netns = prefix;
            break;
          }
        }
      }
      return { python: executable, netns };
    })();
    interpreters.set(python, found);
    found.catch(() => interpreters.delete(python));
  }
  return found;
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

interface PhaseRecord {
  phase: "code" | "test" | "done";
  index?: number;
  ok?: boolean;
  kind?: PythonFailureKind;
  error?: string;
  output?: string;
  nonce?: string;
}

/**
 * Runs `code` and then each of `tests` (Python statements, typically `assert`
 * lines) in a confined `python3` subprocess (see the module doc) and reports
 * which tests pass.
 *
 * @param code - The program under test (e.g. a function definition).
 * @param tests - Test statements, run one by one in the program's namespace; none: nothing runs.
 * @param options - Time limit (ms), setup code, memory limit (MiB), abort signal, interpreter.
 * @returns Passed/total counts and each failure with its test text and error; never throws for
 *   anything the code or the tests do (syntax errors, exceptions, hangs, crashes are results).
 * @throws {PythonUnavailableError} when no Python interpreter can be started.
 * @throws {RangeError} when `timeoutMs` or `memoryMb` is not a positive number.
 */
export async function runPythonTests(code: string, tests: readonly string[], options: PythonRunOptions = {}): Promise<PythonTestResult> {
  const started = performance.now();
  const timeoutMs = options.timeoutMs ?? DEFAULT_PYTHON_TIMEOUT_MS;
  const memoryMb = options.memoryMb ?? DEFAULT_MEMORY_MB;
  if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) throw new RangeError(`timeoutMs must be a positive number of ms, got ${timeoutMs}`);
  if (!(memoryMb > 0) || !Number.isFinite(memoryMb)) throw new RangeError(`memoryMb must be a positive number of MiB, got ${memoryMb}`);
  const interpreter = await resolveInterpreter(options.python ?? (process.env.LLM_WORKFLOWS_PYTHON || "python3"));
  const netns = options.networkNamespace === false ? null : interpreter.netns;
  const network = netns ? "namespace" : "audit-hook";
  if (tests.length === 0) {
    return { passed: 0, total: 0, failed: [], timedOut: false, killed: false, durationMs: 0, network, output: "" };
  }
  const budgetMs = Math.max(timeoutMs - STARTUP_MARGIN_MS, Math.floor(timeoutMs * 0.75));
  const nonce = randomBytes(12).toString("hex");
  const dir = await mkdtemp(join(tmpdir(), "llm-workflows-py-"));
  try {
    const payload = join(dir, "payload.json");
    const results = join(dir, `results-${nonce}.jsonl`);
    await writeFile(join(dir, "harness.py"), HARNESS, "utf8");
    await writeFile(payload, JSON.stringify({ code, tests, setup: options.setup ?? "", budgetMs, reserveMs: PHASE_RESERVE_MS, minPhaseMs: MIN_PHASE_MS, memoryBytes: memoryMb * 1024 * 1024, nonce }), "utf8");
    const command = [...(netns ?? []), interpreter.python, "-I", "-S", "harness.py", payload, results];
    const run = await spawnConfined(command, dir, timeoutMs, options.signal);
    let records: PhaseRecord[] = [];
    try {
      records = (await readFile(results, "utf8"))
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as PhaseRecord)
        .filter((r) => r.nonce === nonce);
    } catch {
      records = [];
    }
    const byIndex = new Map<number, PhaseRecord>();
    for (const r of records) if (r.phase === "test" && typeof r.index === "number" && !byIndex.has(r.index)) byIndex.set(r.index, r);
    const done = records.find((r) => r.phase === "done");
    const codeRecord = records.find((r) => r.phase === "code");
    const ended = run.killed
      ? run.aborted
        ? "the run was cancelled"
        : `the program was killed after ${timeoutMs} ms (the run's time limit)`
      : `the Python process ended (${run.signal ? `signal ${run.signal}` : `exit code ${run.code}`})${run.stderr ? `: ${clip(run.stderr.trim(), 200)}` : ""}`;
    const failed: PythonTestFailure[] = [];
    let passed = 0;
    let timedOut = run.killed && !run.aborted;
    let firstMissing = true;
    tests.forEach((test, index) => {
      const r = byIndex.get(index);
      if (r?.ok) {
        passed++;
        return;
      }
      if (r) {
        if (r.kind === "timeout") timedOut = true;
        failed.push({ test, index, kind: r.kind ?? "error", error: clip(r.error ?? "failed", MAX_ERROR_CHARS) });
        return;
      }
      // No record: the process ended while the code ran (no test could run), or during this test, or before it.
      if (!codeRecord) failed.push({ test, index, kind: "code", error: clip(`the code did not finish: ${ended}`, MAX_ERROR_CHARS) });
      else if (firstMissing && run.killed && !run.aborted) failed.push({ test, index, kind: "timeout", error: clip(`timed out: ${ended}`, MAX_ERROR_CHARS) });
      else if (firstMissing && !run.killed) failed.push({ test, index, kind: "error", error: clip(`${ended} during this test`, MAX_ERROR_CHARS) });
      else failed.push({ test, index, kind: "not_run", error: clip(`not run: ${ended}`, MAX_ERROR_CHARS) });
      firstMissing = false;
    });
    if (codeRecord?.kind === "timeout") timedOut = true;
    const output = clip([done?.output ?? "", run.stdout, done ? "" : run.stderr].filter(Boolean).join("\n"), 2000);
    return { passed, total: tests.length, failed, timedOut, killed: run.killed, durationMs: Math.round(performance.now() - started), network, output };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface SpawnOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  killed: boolean;
  aborted: boolean;
  stdout: string;
  stderr: string;
}

/** Spawns `command` in its own process group with an empty environment; kills the group at `timeoutMs` or on abort. */
function spawnConfined(command: string[], cwd: string, timeoutMs: number, signal?: AbortSignal): Promise<SpawnOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0], command.slice(1), { cwd, env: {}, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let killed = false;
    let aborted = false;
    const out = { stdout: "", stderr: "" };
    const keep = (key: "stdout" | "stderr") => (chunk: Buffer) => {
      if (out[key].length < 4000) out[key] += chunk.toString("utf8").slice(0, 4000 - out[key].length);
    };
    child.stdout.on("data", keep("stdout"));
    child.stderr.on("data", keep("stderr"));
    const killGroup = () => {
      if (killed) return;
      killed = true;
      try {
        if (child.pid) process.kill(-child.pid, "SIGKILL");
      } catch {
        child.kill("SIGKILL");
      }
    };
    const timer = setTimeout(killGroup, timeoutMs);
    const onAbort = () => {
      aborted = true;
      killGroup();
    };
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
    child.on("error", (error) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      reject(new PythonUnavailableError(command[0], error.message));
    });
    child.on("close", (code, sig) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      resolve({ code, signal: sig, killed, aborted, ...out });
    });
  });
}
