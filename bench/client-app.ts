/**
 * The Express app of `npm run bench:client`, in its own process: `/plain`
 * answers at once, `/verified` answers behind keyward/client's Express
 * middleware. Each answer carries `x-pre-handler-us`, the microseconds from
 * the app's first middleware to the handler (what the route's own code waits
 * for). Prints `{"port": N}` on stdout once listening.
 */
import express, { type NextFunction, type Request, type Response } from "express";
import { createVerifier } from "../src/client/index.js";
import { keyward } from "../src/client/middleware/express.js";

const target = process.env.KEYWARD_TARGET;
if (target === undefined) throw new Error("KEYWARD_TARGET is required");
const verifier = createVerifier({ target, onUnavailable: "deny" });

const app = express();
app.set("etag", false);
app.use((_req: Request, res: Response, next: NextFunction) => {
  res.locals.start = process.hrtime.bigint();
  next();
});
const answer = (_req: Request, res: Response) => {
  const us = Number(process.hrtime.bigint() - (res.locals.start as bigint)) / 1_000;
  res.set("x-pre-handler-us", us.toFixed(1)).json({ ok: true });
};
app.get("/plain", answer);
app.get("/verified", keyward({ verifier, scopes: ["read:users"] }), answer);

const server = app.listen(0, "127.0.0.1", () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof address === "object" && address ? address.port : 0 })}\n`);
});
process.once("SIGTERM", () => {
  server.closeAllConnections();
  server.close(() => verifier.close());
});
