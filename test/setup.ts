// Nothing process-wide: the library must run without a raised listener limit (see test/hostProcess.test.ts).
export {};
