/**
 * The Express app of `npm run bench:client`, in its own process: `/plain`
 * answers at once, `/verified` answers behind keyward/client's Express
 * middleware, and `/grpc-echo` answers after one bare grpc-js unary call
 * (`Client.makeUnaryRequest`, bytes in and out) to the echo server at
 * ECHO_TARGET: what any gRPC call from this route costs, with no Keyward in it.
 * Each answer carries `x-pre-handler-us`, the microseconds from the app's first
 * middleware to the handler (what the route's own code waits for). Prints
 * `{"port": N}` on stdout once listening.
 */
import * as grpc from "@grpc/grpc-js";
import express, { type NextFunction, type Request, type Response } from "express";
import { createVerifier } from "../src/client/index.js";
import { keyward } from "../src/client/middleware/express.js";
import { VERIFY_PATH } from "./lib/wire.js";

const target = process.env.KEYWARD_TARGET;
const echoTarget = process.env.ECHO_TARGET;
if (target === undefined || echoTarget === undefined) throw new Error("KEYWARD_TARGET and ECHO_TARGET are required");
const verifier = createVerifier({ target, onUnavailable: "deny" });
const echo = new grpc.Client(echoTarget, grpc.credentials.createInsecure());
const asIs = (bytes: Buffer) => bytes;
const echoRequest = Buffer.alloc(101, 1);

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
const callEcho = (_req: Request, res: Response, next: NextFunction) => {
  echo.makeUnaryRequest(VERIFY_PATH, asIs, asIs, echoRequest, { deadline: Date.now() + 250 }, (error) =>
    error ? res.status(503).json({ error: error.message }) : next(),
  );
};
app.get("/plain", answer);
app.get("/verified", keyward({ verifier, scopes: ["read:users"] }), answer);
app.get("/grpc-echo", callEcho, answer);

const server = app.listen(0, "127.0.0.1", () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof address === "object" && address ? address.port : 0 })}\n`);
});
process.once("SIGTERM", () => {
  server.closeAllConnections();
  server.close(() => {
    verifier.close();
    echo.close();
  });
});
