import { router } from "../trpc.js";
import { auditRouter } from "./audit/index.js";
import { exportsRouter } from "./exports/index.js";
import { keysRouter } from "./keys/index.js";
import { me } from "./me.js";
import { sessionRouter } from "./session/index.js";
import { webhooksRouter } from "./webhooks/index.js";

/** Every procedure of the gateway, at /trpc/<path> (e.g. /trpc/keys.create). */
export const appRouter = router({
  keys: keysRouter,
  exports: exportsRouter,
  audit: auditRouter,
  webhooks: webhooksRouter,
  me,
  session: sessionRouter,
});

/** The type the CLI and the console build their clients on. */
export type AppRouter = typeof appRouter;
