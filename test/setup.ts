import { setMaxListeners } from "node:events";

// LangGraph adds an abort listener per parallel task; fan-outs in the tests exceed Node's default of 10.
setMaxListeners(0);
