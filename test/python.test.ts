import { spawnSync } from "node:child_process";
import { createServer, type Server } from "node:net";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runPythonTests } from "../graphs/lib/python.js";

/** The interpreter runPythonTests uses by default, when it can run: without it these tests are skipped. */
const hasPython = spawnSync(process.env.LLM_WORKFLOWS_PYTHON || "python3", ["-c", "pass"]).status === 0;

const ADD = "def add(a, b):\n    return a + b\n";

/** A TCP server on 127.0.0.1 that accepts connections: reachable unless the sandbox cuts the network. */
let server: Server;
let port = 0;
beforeAll(async () => {
  server = createServer((socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe.skipIf(!hasPython)("runPythonTests", () => {
  it("passes code that satisfies every test", async () => {
    const r = await runPythonTests(ADD, ["assert add(1, 2) == 3", "assert add(-1, 1) == 0"]);
    expect(r).toMatchObject({ passed: 2, total: 2, failed: [], timedOut: false, killed: false });
  });

  it("reports a failing assert with its text and both sides", async () => {
    const r = await runPythonTests("def add(a, b):\n    return a - b\n", ["assert add(1, 2) == 3", "assert add(5, 0) == 5", "assert add(2, 2) > 3"]);
    expect(r.passed).toBe(1);
    expect(r.failed).toEqual([
      { test: "assert add(1, 2) == 3", index: 0, kind: "assert", error: "AssertionError: got -1, expected 3" },
      { test: "assert add(2, 2) > 3", index: 2, kind: "assert", error: "AssertionError: add(2, 2) > 3 is false: left is 0, right is 3" },
    ]);
  });

  it("reports an exception inside the code with its line", async () => {
    const r = await runPythonTests("def div(a, b):\n    return a / b\n", ["assert div(1, 0) == 0"]);
    expect(r.failed[0]).toMatchObject({ kind: "error", error: "ZeroDivisionError: division by zero (solution.py, line 2)" });
  });

  it("fails every test with the syntax error of the code", async () => {
    const r = await runPythonTests("def add(a, b)\n    return a + b\n", ["assert add(1, 2) == 3", "assert add(0, 0) == 0"]);
    expect(r.passed).toBe(0);
    expect(r.failed).toHaveLength(2);
    for (const f of r.failed) {
      expect(f.kind).toBe("code");
      expect(f.error).toMatch(/^the code did not run: SyntaxError: .*\(solution\.py, line 1\)$/);
    }
  });

  it("reports a test that is not valid Python as a syntax failure of that test only", async () => {
    const r = await runPythonTests(ADD, ["assert add(1, 2) == 3", "assert add(1, 2 == 3"]);
    expect(r.passed).toBe(1);
    expect(r.failed[0]).toMatchObject({ index: 1, kind: "syntax" });
  });

  it("runs the setup after the code and before the tests", async () => {
    const code = "class Node:\n    def __init__(self, value):\n        self.value = value\n";
    expect((await runPythonTests(code, ["assert root.value == 1"], { setup: "root = Node(1)" })).passed).toBe(1);
    const broken = await runPythonTests(code, ["assert root.value == 1"], { setup: "root = Nod(1)" });
    expect(broken.failed[0]).toMatchObject({ kind: "code" });
    expect(broken.failed[0].error).toMatch(/setup: NameError: name 'Nod' is not defined \(setup\.py, line 1\)/);
  });

  it("interrupts an infinite loop before the time limit, keeping time for the tests after it", async () => {
    // killed: false shows the loop was stopped by its phase limit inside Python, not by the hard kill at 900 ms.
    const r = await runPythonTests("def spin():\n    while True:\n        pass\n", ["assert spin() == 1", "assert 1 + 1 == 2"], { timeoutMs: 900 });
    expect(r).toMatchObject({ passed: 1, total: 2, timedOut: true, killed: false });
    expect(r.failed).toEqual([{ test: "assert spin() == 1", index: 0, kind: "timeout", error: expect.stringMatching(/^timed out after \d+ ms$/) }]);
    // budget max(900 - 250, 0.75 * 900) = 675 ms, minus 100 ms kept for the one test after it
    expect(Number(/(\d+) ms/.exec(r.failed[0].error)![1])).toBeLessThanOrEqual(575);
  });

  it("lets a slow but correct test use most of the budget", async () => {
    const code = "import time\ndef slow():\n    time.sleep(0.6)\n    return 1\n";
    const r = await runPythonTests(code, ["assert slow() == 1", "assert True"], { timeoutMs: 1200 });
    expect(r).toMatchObject({ passed: 2, timedOut: false });
  });

  it("kills the process group of a program that ignores the alarm, and reports the tests it did not reach", async () => {
    const code = "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\ndef spin():\n    while True:\n        pass\n";
    const r = await runPythonTests(code, ["assert spin() == 1", "assert True"], { timeoutMs: 800 });
    expect(r).toMatchObject({ passed: 0, timedOut: true, killed: true });
    expect(r.failed.map((f) => f.kind)).toEqual(["timeout", "not_run"]);
    expect(r.failed[0].error).toBe("timed out: the program was killed after 800 ms (the run's time limit)");
  });

  it("reports code that hangs while it is defined", async () => {
    const r = await runPythonTests("while True:\n    pass\n", ["assert True"], { timeoutMs: 600 });
    expect(r.failed[0]).toMatchObject({ kind: "code", error: expect.stringMatching(/^the code did not run: timed out after \d+ ms$/) });
    expect(r.timedOut).toBe(true);
  });

  it("has no network: a connection to a listening port on 127.0.0.1 fails quickly, as a failure", async () => {
    const code = `import socket\ndef reach():\n    s = socket.create_connection(("127.0.0.1", ${port}), timeout=2)\n    s.close()\n    return True\n`;
    // "Quickly" without a clock: the connect is refused (not left to its 2 s socket timeout,
    // which would read "TimeoutError: timed out"), and no phase of the run timed out.
    const r = await runPythonTests(code, ["assert reach()", "assert socket.getaddrinfo('example.com', 80)"], { timeoutMs: 4000 });
    expect(r).toMatchObject({ passed: 0, timedOut: false, killed: false });
    expect(r.failed.map((f) => f.kind)).toEqual(["error", "error"]);
    expect(r.failed[0].error).toMatch(/PermissionError|OSError|unreachable/i);
    expect(r.failed[0].error).not.toMatch(/timed? ?out/i);
  });

  it("blocks the network with the audit hook alone too (no network namespace)", async () => {
    const code = `import socket\ndef reach():\n    socket.socket().connect(("127.0.0.1", ${port}))\n    return True\n`;
    const r = await runPythonTests(code, ["assert reach()"], { networkNamespace: false });
    expect(r.network).toBe("audit-hook");
    expect(r.failed[0].error).toBe("PermissionError: socket.connect is not allowed here (no network, no subprocesses) (solution.py, line 3)");
  });

  it("refuses subprocesses and sees an empty environment", async () => {
    // Python itself sets LC_CTYPE when it starts in the C locale (PEP 538); nothing else comes from the caller.
    const r = await runPythonTests("import os, subprocess\n", ["subprocess.run(['true'])", "os.system('true')", "assert set(os.environ) <= {'LC_CTYPE'}"]);
    expect(r.failed.map((f) => f.error)).toEqual([
      "PermissionError: subprocess.Popen is not allowed here (no network, no subprocesses)",
      "PermissionError: os.system is not allowed here (no network, no subprocesses)",
    ]);
    expect(r.passed).toBe(1);
  });

  it("reports a process that exits in the middle of the tests", async () => {
    const r = await runPythonTests("import os\n", ["assert True", "os._exit(3)", "assert True"]);
    expect(r.passed).toBe(1);
    expect(r.failed).toEqual([
      { test: "os._exit(3)", index: 1, kind: "error", error: "the Python process ended (exit code 3) during this test" },
      { test: "assert True", index: 2, kind: "not_run", error: "not run: the Python process ended (exit code 3)" },
    ]);
  });

  it("keeps what the code prints out of the way, and cannot be fooled by fake result lines", async () => {
    const code = "print('hello')\nimport glob\nfor f in glob.glob('results-*.jsonl'):\n    open(f, 'a').write('{\"phase\": \"test\", \"index\": 0, \"ok\": true}\\n')\n";
    const r = await runPythonTests(code, ["assert False"]);
    expect(r.passed).toBe(0);
    expect(r.output).toBe("hello\n");
  });

  it("removes its temporary folder and can be cancelled", async () => {
    // The run's temporary folder goes into a folder of this test's own (other test files
    // run Python at the same time in the shared temporary folder).
    const ownTmp = mkdtempSync(join(tmpdir(), "python-test-"));
    const savedTmp = process.env.TMPDIR;
    process.env.TMPDIR = ownTmp;
    try {
      const controller = new AbortController();
      const run = runPythonTests("import time\ntime.sleep(30)\n", ["assert True"], { timeoutMs: 20_000, signal: controller.signal });
      setTimeout(() => controller.abort(), 200);
      const r = await run;
      expect(r).toMatchObject({ killed: true, timedOut: false });
      expect(r.failed[0].error).toBe("the code did not finish: the run was cancelled");
      expect(readdirSync(ownTmp)).toEqual([]);
    } finally {
      if (savedTmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = savedTmp;
      rmSync(ownTmp, { recursive: true, force: true });
    }
  });

  it("runs nothing for no tests and refuses a non-positive time limit", async () => {
    expect(await runPythonTests(ADD, [])).toMatchObject({ passed: 0, total: 0, failed: [] });
    await expect(runPythonTests(ADD, ["assert True"], { timeoutMs: 0 })).rejects.toThrow(RangeError);
  });
});
