// Worker threads do not inherit the TypeScript loader; register it, then run the thread.
import { register } from "tsx/esm/api";

register();
await import("./writer-thread.ts");
