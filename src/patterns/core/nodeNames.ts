/**
 * The one node-name check every builder runs on the names it is given.
 *
 * @module
 */
import { END, START } from "@langchain/langgraph";
import { GraphDefinitionError } from "../../runtime/errors.js";

/** Names LangGraph reserves for the graph's entry and exit. */
const RESERVED = new Set([START, END]);

/** Checks node names: at least one, unique, not reserved. */
export function checkNodeNames(builder: string, names: string[]): void {
  if (names.length === 0) throw new GraphDefinitionError(builder, "needs at least one step");
  const seen = new Set<string>();
  for (const name of names) {
    if (!name || RESERVED.has(name)) throw new GraphDefinitionError(builder, `invalid node name ${JSON.stringify(name)}`);
    if (seen.has(name)) throw new GraphDefinitionError(builder, `node name "${name}" is used twice`);
    seen.add(name);
  }
}

