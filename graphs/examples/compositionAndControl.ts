/**
 * One small example graph per orchestration builder of `parameterChain.ts`,
 * `forkJoin.ts`, `scatterGather.ts`, `conditional.ts` and `loops.ts`, compiled
 * without a checkpointer. They call no model and no network (the "services"
 * are plain functions), so they run anywhere; their `drawMermaid()` output is
 * what the README shows for each builder. None sets `fallback` or
 * `tolerateFailures`: those add LangGraph's `__error_handler__<node>` nodes,
 * which `drawMermaid()` draws unconnected.
 *
 * @example
 * ```ts
 * import { examplesA } from "../../src/patterns/examples/patterns/examples/partA.js";
 * for (const [name, graph] of Object.entries(examplesA)) console.log(name, graph.getGraph().drawMermaid());
 * await examplesA.whileLoop.invoke({ target: 3 });
 * ```
 * @module
 */
import { StateSchema } from "@langchain/langgraph";
import { z } from "zod";
import { buildIfThenElse, buildGuard, buildSwitchCase, guardFields } from "../../src/patterns/control/conditional.js";
import { buildForkJoin, forkJoinFields } from "../../src/patterns/composition/forkJoin.js";
import { buildForEach, buildPagination, buildWhileLoop, forEachFields, paginationFields, whileLoopFields } from "../../src/patterns/control/loops.js";
import { buildParameterChain } from "../../src/patterns/composition/parameterChain.js";
import { appendList } from "../../src/patterns/core/policies.js";
import { buildScatterGather, scatterGatherFields } from "../../src/patterns/composition/scatterGather.js";

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });

// ---------------------------------------------------------------- parameter chain (the *Workflow Patterns Cheatsheet*'s workflow)

const ChainState = new StateSchema({
  userId: z.string(),
  user: z.object({ id: z.string(), name: z.string() }).nullable().default(null),
  orders: z.array(z.object({ id: z.string(), total: z.number() })).default(() => []),
  total: z.number().default(0),
});

const parameterChain = buildParameterChain<typeof ChainState.State>({
  state: ChainState,
  steps: [
    { name: "get_user", params: { user_id: "{userId}" }, run: (p) => ({ id: p.user_id, name: `user ${p.user_id}` }), output: "user" },
    { name: "get_orders", params: { user_id: "{user.id}" }, run: (p) => [{ id: `${p.user_id}-1`, total: 12.5 }, { id: `${p.user_id}-2`, total: 7.5 }], output: "orders" },
    { name: "calculate_total", params: { orders: "{orders}" }, run: (p) => p.orders.reduce((n: number, o: { total: number }) => n + o.total, 0), output: "total" },
  ],
}).compile();

// ---------------------------------------------------------------- fork-join

const ForkJoinState = new StateSchema({ userId: z.string(), summary: z.string().default(""), ...forkJoinFields(z.unknown()) });

const forkJoin = buildForkJoin<typeof ForkJoinState.State>({
  state: ForkJoinState,
  branches: {
    profile: (s) => ({ id: s.userId, name: "Ada" }),
    orders: () => [{ id: "o1" }, { id: "o2" }],
    reviews: () => [{ stars: 5 }],
  },
  join: {
    name: "combine",
    run: (_s, results, failures) => ({ summary: `${Object.keys(results).sort().join(", ")}${failures.length ? `; failed: ${failures.map((f) => f.branch).join(", ")}` : ""}` }),
  },
}).compile();

// ---------------------------------------------------------------- scatter-gather

const ScatterState = new StateSchema({ query: z.string(), answer: z.string().default(""), ...scatterGatherFields });

const providers = {
  fast: async (s: { query: string }, signal: AbortSignal) => (await sleep(5, signal), `fast: ${s.query}`),
  thorough: async (s: { query: string }, signal: AbortSignal) => (await sleep(20, signal), `thorough answer to ${s.query}`),
  cached: async (s: { query: string }, signal: AbortSignal) => (await sleep(10, signal), `cached: ${s.query}`),
};

const scatterGather = buildScatterGather<typeof ScatterState.State, string>({
  state: ScatterState,
  mode: "first",
  services: providers,
  gather: (_s, outcome) => ({ answer: outcome.result }),
}).compile();


// ---------------------------------------------------------------- if-then-else, switch-case, guard

const OrderState = new StateSchema({
  item: z.string(),
  quantity: z.number().int(),
  stock: z.number().int().default(0),
  priority: z.string().default("normal"),
  paid: z.boolean().default(false),
  outcome: z.string().default(""),
  ...guardFields,
});
type OrderState = typeof OrderState.State;

const ifThenElse = buildIfThenElse<OrderState>({
  state: OrderState,
  condition: (s) => s.stock >= s.quantity,
  then: { name: "place_order", run: (s) => ({ outcome: `ordered ${s.quantity} x ${s.item}` }) },
  else: { name: "notify_out_of_stock", run: (s) => ({ outcome: `only ${s.stock} ${s.item} left` }) },
}).compile();

const switchCase = buildSwitchCase<OrderState>({
  state: OrderState,
  select: (s) => s.priority,
  branches: {
    express: (s) => ({ outcome: `${s.item}: express shipping` }),
    standard: (s) => ({ outcome: `${s.item}: standard shipping` }),
    review: (s) => ({ outcome: `${s.item}: held for review (priority ${s.priority})` }),
  },
  cases: { urgent: "express", high: "express", normal: "standard" },
  default: "review",
}).compile();

const guard = buildGuard<OrderState>({
  state: OrderState,
  steps: [
    { name: "reserve", run: (s) => ({ stock: s.stock - s.quantity }), guard: (s) => (s.stock >= s.quantity ? null : `only ${s.stock} in stock`) },
    { name: "charge", run: () => ({ paid: true }), guard: (s) => (s.quantity <= 10 ? null : "orders above 10 need approval") },
    { name: "ship", run: (s) => ({ outcome: `shipped ${s.quantity} x ${s.item}` }), guard: (s) => (s.paid ? null : "not paid") },
  ],
}).compile();

// ---------------------------------------------------------------- loops

const WhileState = new StateSchema({ target: z.number().int(), value: z.number().int().default(0), ...whileLoopFields });

const whileLoop = buildWhileLoop<typeof WhileState.State>({
  state: WhileState,
  condition: (s) => s.value < s.target,
  body: { name: "increment", run: (s) => ({ value: s.value + 1 }) },
  maxIterations: 5,
}).compile();

const ForEachState = new StateSchema({ words: z.array(z.string()), lengths: appendList(z.number()), ...forEachFields });

const forEach = buildForEach<typeof ForEachState.State, string>({
  state: ForEachState,
  items: (s) => s.words,
  step: { name: "measure", run: (word) => ({ lengths: [word.length] }) },
}).compile();

const PageState = new StateSchema({ total: z.number().int().default(7), rows: appendList(z.number()), ...paginationFields });

const pagination = buildPagination<typeof PageState.State, number>({
  state: PageState,
  fetchPage: (page, s) => Array.from({ length: Math.max(0, Math.min(3, s.total - (page - 1) * 3)) }, (_, i) => (page - 1) * 3 + i),
  process: (rows) => ({ rows }),
  maxPages: 5,
}).compile();

/** Example graph of each builder, by name. */
export const examplesA = {
  parameterChain,
  forkJoin,
  scatterGather,
  ifThenElse,
  switchCase,
  guard,
  whileLoop,
  forEach,
  pagination,
};

/** The builder each example shows. */
export const exampleBuilders: Record<keyof typeof examplesA, string> = {
  parameterChain: "buildParameterChain",
  forkJoin: "buildForkJoin",
  scatterGather: "buildScatterGather",
  ifThenElse: "buildIfThenElse",
  switchCase: "buildSwitchCase",
  guard: "buildGuard",
  whileLoop: "buildWhileLoop",
  forEach: "buildForEach",
  pagination: "buildPagination",
};
