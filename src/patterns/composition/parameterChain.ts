/**
 * Parameter-resolution chain (the *Workflow Patterns Cheatsheet*, "Sequential Patterns: Parameter
 * Resolution Chain"): each step is a function of its parameters only; a
 * parameter is a literal or a reference, by path, to an input field or to an
 * earlier step's output, and the step's result is written to its `output`
 * field.
 *
 * ```
 * get_user(user_id: "123") -> user
 * get_orders(user_id: "{user.id}") -> orders
 * calculate_total(orders: "{orders}") -> total
 * ```
 *
 * **References.** A string parameter that is exactly `"{path}"` is replaced by
 * the value at `path` (any type); `{path}` inside a longer string is replaced
 * by the value as text (strings as they are, anything else as JSON). A path is
 * a state field followed by `.key` or `.0` segments (`{user.id}`,
 * `{orders.0.total}`). Parameters may be nested objects and arrays; every
 * string inside is resolved. Braces around anything that is not a path (`{"a":
 * 1}`, `{ x }`) are left as they are.
 *
 * **Checked when the graph is built.** Every reference must name a state field
 * that is an input (no step writes it) or the output of an *earlier* step, and
 * its further segments must exist in that field's zod schema (objects,
 * arrays, records, optional/nullable/default wrappers, unions are followed;
 * `any`/`unknown` accept anything). An unknown field, a later step's output,
 * a missing key, or a path into a string or number is a
 * {@link GraphDefinitionError}, before anything runs. At run time, a path
 * through a null or missing value is a {@link ParameterResolutionError}.
 *
 * **Independent steps run together.** A step depends on the steps whose
 * outputs it references (and those listed in `after`). Steps run in
 * generations: generation 0 holds the steps that reference only inputs,
 * generation k the steps whose latest dependency is in generation k-1; each
 * generation is one superstep, so steps that do not depend on one another
 * never run one after another (the *Workflow Patterns Cheatsheet*'s anti-pattern "Synchronous When
 * Parallel Possible"). Every step of one generation has an edge to every step
 * of the next; a plain chain (each step using the previous one's output) is
 * a straight line.
 *
 * @example
 * ```ts
 * const State = new StateSchema({
 *   userId: z.string(),
 *   user: z.object({ id: z.string(), name: z.string() }).nullable().default(null),
 *   orders: z.array(z.object({ total: z.number() })).default(() => []),
 *   total: z.number().default(0),
 * });
 * const graph = buildParameterChain<typeof State.State>({
 *   state: State,
 *   steps: [
 *     { name: "get_user", params: { user_id: "{userId}" }, run: (p) => api.getUser(p.user_id), output: "user" },
 *     { name: "get_orders", params: { user_id: "{user.id}" }, run: (p) => api.getOrders(p.user_id), output: "orders" },
 *     { name: "calculate_total", params: { orders: "{orders}" }, run: (p) => sum(p.orders), output: "total" },
 *   ],
 * }).compile();
 * ```
 * @module
 */
import { END, START, type LangGraphRunnableConfig } from "@langchain/langgraph";
import { GraphDefinitionError, LlmWorkflowsError } from "../../runtime/errors.js";
import { createGraph, type BuiltGraph } from "../core/graph.js";
import { checkNames, stateFieldsOf, TO_END, workNodeOptions, type OrchestrationOptions } from "../core/policies.js";

const BUILDER = "buildParameterChain";

/** One step of a parameter-resolution chain. */
export interface ParameterStep {
  /** Node name (unique; not a state field). */
  name: string;
  /**
   * The step's parameters: literals, and strings with references (`"{user.id}"`,
   * `"Dear {user.name},"`), possibly nested in objects and arrays.
   */
  params: Record<string, unknown>;
  /** The step itself: its resolved parameters in, its result out (written to `output`). */
  run: (params: Record<string, any>, config: LangGraphRunnableConfig) => unknown;
  /** State field the result is written to (its reducer, if any, applies). Two steps may not share one. */
  output: string;
  /**
   * Steps this one must run after although it references none of their
   * outputs (e.g. a side effect), by name; each must come earlier in `steps`.
   * Default: none.
   */
  after?: readonly string[];
}

/** Options of {@link buildParameterChain}. */
export interface ParameterChainOptions<S> extends OrchestrationOptions<S> {
  /** The steps, in declaration order: a step may reference only earlier steps' outputs. */
  steps: ParameterStep[];
}

/** A reference's path could not be followed at run time (a null or missing value on the way). */
export class ParameterResolutionError extends LlmWorkflowsError {
  /** The step whose parameter it is. */
  readonly step: string;
  /** The reference, e.g. `user.id`. */
  readonly reference: string;

  constructor(step: string, parameter: string, reference: string, problem: string) {
    super("PARAMETER_RESOLUTION", `step "${step}", parameter ${parameter}: cannot resolve {${reference}}: ${problem}`);
    this.step = step;
    this.reference = reference;
  }
}

const SEGMENT = String.raw`(?:[A-Za-z_$][\w$]*|\d+)`;
const PATH = String.raw`[A-Za-z_$][\w$]*(?:\.${SEGMENT})*`;
const WHOLE_REFERENCE = new RegExp(String.raw`^\{(${PATH})\}$`);
const REFERENCE = new RegExp(String.raw`\{(${PATH})\}`, "g");

/** One reference found in a step's parameters. */
export interface ParameterReference {
  /** Where in the parameters it is, e.g. `user_id` or `filter.ids.0`. */
  parameter: string;
  /** The path, e.g. `user.id`. */
  path: string;
}

/** Every reference in `params` (nested objects and arrays included), in order. */
export function findReferences(params: unknown, at = ""): ParameterReference[] {
  if (typeof params === "string") {
    return [...params.matchAll(REFERENCE)].map((m) => ({ parameter: at || "(root)", path: m[1] }));
  }
  if (Array.isArray(params)) return params.flatMap((v, i) => findReferences(v, at ? `${at}.${i}` : String(i)));
  if (isPlainObject(params)) return Object.entries(params).flatMap(([k, v]) => findReferences(v, at ? `${at}.${k}` : k));
  return [];
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object") return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** The value at `path` in `state`; throws (with the reason) through null or missing values. */
function lookUp(state: unknown, path: string): unknown {
  let value: unknown = state;
  let walked = "";
  for (const segment of path.split(".")) {
    if (value === null || value === undefined) throw new Error(`${walked || "the state"} is ${value === null ? "null" : "missing"}`);
    value = (value as Record<string, unknown>)[segment];
    walked = walked ? `${walked}.${segment}` : segment;
  }
  return value;
}

function asText(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value) ?? String(value);
}

/**
 * `params` with every reference replaced by its value in `state` (see the
 * module doc). Literals are returned as they are.
 * @throws {ParameterResolutionError} when a path goes through a null or missing value.
 */
export function resolveParameters(params: Record<string, unknown>, state: unknown, step = "(step)"): Record<string, any> {
  const resolve = (value: unknown, at: string): unknown => {
    if (typeof value === "string") {
      const get = (path: string) => {
        try {
          return lookUp(state, path);
        } catch (error) {
          throw new ParameterResolutionError(step, at, path, (error as Error).message);
        }
      };
      const whole = WHOLE_REFERENCE.exec(value);
      if (whole) return get(whole[1]);
      return value.replace(REFERENCE, (_, path: string) => asText(get(path)));
    }
    if (Array.isArray(value)) return value.map((v, i) => resolve(v, `${at}.${i}`));
    if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v, at ? `${at}.${k}` : k)]));
    return value;
  };
  return Object.fromEntries(Object.entries(params).map(([k, v]) => [k, resolve(v, k)]));
}

/** zod 4 internals read by {@link checkSchemaPath}. */
interface ZodLike {
  _zod: { def: Record<string, any> & { type: string } };
}

function isZod(value: unknown): value is ZodLike {
  return typeof value === "object" && value !== null && typeof (value as ZodLike)._zod?.def?.type === "string";
}

/**
 * Whether `segments` can be followed inside `schema`. Returns a problem, or
 * undefined when the path may exist (unknown schema kinds are given the
 * benefit of the doubt).
 */
export function checkSchemaPath(schema: unknown, segments: readonly string[]): string | undefined {
  if (segments.length === 0 || !isZod(schema)) return undefined;
  const [head, ...rest] = segments;
  const def = schema._zod.def;
  switch (def.type) {
    case "optional":
    case "nullable":
    case "default":
    case "prefault":
    case "catch":
    case "readonly":
    case "nonoptional":
      return checkSchemaPath(def.innerType, segments);
    case "lazy":
      return checkSchemaPath(def.getter(), segments);
    case "pipe":
      return checkSchemaPath(isZod(def.out) && def.out._zod.def.type !== "transform" ? def.out : def.in, segments);
    case "any":
    case "unknown":
      return undefined;
    case "object": {
      if (Object.hasOwn(def.shape, head)) return checkSchemaPath(def.shape[head], rest);
      if (def.catchall && isZod(def.catchall) && def.catchall._zod.def.type !== "never") return checkSchemaPath(def.catchall, rest);
      return `no key "${head}" (known: ${Object.keys(def.shape).join(", ") || "none"})`;
    }
    case "record":
    case "map":
      return checkSchemaPath(def.valueType, rest);
    case "array":
      if (head === "length" && rest.length === 0) return undefined;
      if (!/^\d+$/.test(head)) return `"${head}" is not an index of an array`;
      return checkSchemaPath(def.element, rest);
    case "tuple": {
      if (head === "length" && rest.length === 0) return undefined;
      const index = /^\d+$/.test(head) ? Number(head) : NaN;
      if (index < def.items.length) return checkSchemaPath(def.items[index], rest);
      if (def.rest) return checkSchemaPath(def.rest, rest);
      return `"${head}" is not an index of a tuple of ${def.items.length}`;
    }
    case "union": {
      const problems = (def.options as unknown[]).map((o) => checkSchemaPath(o, segments));
      return problems.some((p) => p === undefined) ? undefined : problems[0];
    }
    case "intersection": {
      const left = checkSchemaPath(def.left, segments);
      return left === undefined ? undefined : checkSchemaPath(def.right, segments);
    }
    case "string":
      if (head === "length" && rest.length === 0) return undefined;
      return `"${head}" goes into a string`;
    default:
      return `"${head}" goes into a ${def.type}`;
  }
}

/** The zod schema of a state field (a `ReducedValue`'s value schema, or the field itself). */
function fieldSchema(field: unknown): unknown {
  if (field && typeof field === "object" && "valueSchema" in field) return (field as { valueSchema: unknown }).valueSchema;
  return field;
}

/**
 * Checks `steps` against the state schema's fields (see the module doc) and
 * returns their generations: the step names of each superstep, in order.
 *
 * @throws {GraphDefinitionError} on no steps, a duplicate or reserved name, an
 *   output that is not a state field or is written by two steps, an unknown
 *   or later `after`, and an unknown reference (naming the step, the
 *   parameter and the reference).
 */
export function parameterChainGenerations(steps: readonly ParameterStep[], fields: Record<string, unknown> | undefined): string[][] {
  const producer = new Map<string, number>();
  steps.forEach((step, i) => {
    if (fields && !(step.output in fields)) {
      throw new GraphDefinitionError(BUILDER, `step "${step.name}" writes output "${step.output}", which is not a field of the state`);
    }
    const other = producer.get(step.output);
    if (other !== undefined) {
      throw new GraphDefinitionError(BUILDER, `steps "${steps[other].name}" and "${step.name}" both write output "${step.output}"`);
    }
    producer.set(step.output, i);
  });
  const index = new Map(steps.map((s, i) => [s.name, i]));
  const generation: number[] = [];
  steps.forEach((step, i) => {
    const deps = new Set<number>();
    for (const name of step.after ?? []) {
      const j = index.get(name);
      if (j === undefined) throw new GraphDefinitionError(BUILDER, `step "${step.name}" runs after unknown step "${name}"`);
      if (j >= i) throw new GraphDefinitionError(BUILDER, `step "${step.name}" runs after "${name}", which comes later (or is itself)`);
      deps.add(j);
    }
    for (const ref of findReferences(step.params)) {
      const [head, ...rest] = ref.path.split(".");
      const where = `step "${step.name}", parameter ${ref.parameter}: reference {${ref.path}}`;
      const j = producer.get(head);
      if (j !== undefined && j >= i) {
        throw new GraphDefinitionError(BUILDER, `${where} uses the output of step "${steps[j].name}", which ${j === i ? "is this step" : "comes later"}`);
      }
      if (fields) {
        if (!(head in fields)) {
          const earlier = steps.slice(0, i).map((s) => s.output);
          throw new GraphDefinitionError(
            BUILDER,
            `${where}: "${head}" is neither a state field nor an earlier step's output (earlier outputs: ${earlier.join(", ") || "none"})`,
          );
        }
        const problem = checkSchemaPath(fieldSchema(fields[head]), rest);
        if (problem) throw new GraphDefinitionError(BUILDER, `${where}: ${problem}`);
      }
      if (j !== undefined) deps.add(j);
    }
    generation[i] = deps.size ? 1 + Math.max(...[...deps].map((d) => generation[d])) : 0;
  });
  const generations: string[][] = [];
  steps.forEach((step, i) => (generations[generation[i]] ??= []).push(step.name));
  return generations;
}

/**
 * Builds a parameter-resolution chain (the *Workflow Patterns Cheatsheet*, "Parameter Resolution
 * Chain"; see the module doc): one node per step, generation by generation,
 * START to the first generation, the last to END. Each step's result is
 * written to its `output` field.
 *
 * With `fallback`, a step that fails for good writes the fallback's update
 * instead of its output and the next generation runs as usual.
 *
 * Policies: `retryPolicy` (default {@link DEFAULT_RETRY_POLICY}, `false` for
 * none) and `timeoutMs` (per step attempt, in ms; default none) apply to
 * every step.
 *
 * @example
 * ```ts
 * buildParameterChain<State>({
 *   state: State,
 *   steps: [
 *     { name: "get_user", params: { user_id: "{userId}" }, run: (p) => getUser(p.user_id), output: "user" },
 *     { name: "get_orders", params: { user_id: "{user.id}", limit: 50 }, run: (p) => getOrders(p.user_id, p.limit), output: "orders" },
 *   ],
 *   timeoutMs: 10_000,
 * });
 * ```
 * @returns the uncompiled `StateGraph`.
 * @throws {GraphDefinitionError} as {@link parameterChainGenerations}, and on a
 *   node name that is also a state field.
 * @throws {ParameterResolutionError} at run time when a path goes through a null or missing value.
 */
export function buildParameterChain<S>(options: ParameterChainOptions<S>): BuiltGraph {
  const { steps } = options;
  checkNames(BUILDER, steps.map((s) => s.name), options);
  const generations = parameterChainGenerations(steps, stateFieldsOf(options));
  const graph: any = createGraph(options, options);
  generations.forEach((names, g) => {
    const next = generations[g + 1] ?? [TO_END];
    for (const name of names) {
      const step = steps.find((s) => s.name === name)!;
      graph.addNode(
        name,
        async (state: S, config: LangGraphRunnableConfig) => {
          const params = resolveParameters(step.params, state, name);
          return { [step.output]: await step.run(params, config) };
        },
        workNodeOptions(options, next.length === 1 ? next[0] : next),
      );
    }
  });
  for (const name of generations[0]) graph.addEdge(START, name);
  generations.forEach((names, g) => {
    const next = generations[g + 1];
    for (const name of names) {
      if (!next) graph.addEdge(name, END);
      else for (const to of next) graph.addEdge(name, to);
    }
  });
  return graph;
}
