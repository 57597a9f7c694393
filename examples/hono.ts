/**
 * A Hono service (on Node, @hono/node-server) whose routes need a Keyward API key.
 *
 *   npx tsx examples/hono.ts             # KEYWARD_TARGET=127.0.0.1:50051 PORT=3000
 *   curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:3000/api/whoami
 */
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { createVerifier } from "keyward/client";
import { keyward } from "keyward/client/hono";

// One verifier (one gRPC channel) per process, shared by every route.
const verifier = createVerifier({
  target: process.env.KEYWARD_TARGET ?? "127.0.0.1:50051",
  onUnavailable: "deny", // Keyward unreachable: answer 503 rather than let unchecked requests in
});

const app = new Hono();
app.get("/health", (c) => c.json({ ok: true }));
app.get("/api/whoami", keyward({ verifier }), (c) => {
  // c.get("keyward").checked is false only under onUnavailable "allow" when Keyward was down.
  const auth = c.get("keyward");
  return c.json(auth.checked ? { id: auth.key.id, name: auth.key.name, subject: auth.key.subject ?? null } : null);
});
// A route that needs more: a scope, and 5 units of the key's credits and rate limits.
app.post("/api/reports", keyward({ verifier, scopes: ["reports:write"], cost: 5 }), (c) => {
  const auth = c.get("keyward");
  return c.json({ createdBy: auth.checked ? auth.key.id : null }, 201);
});

const server = serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 3000), hostname: "127.0.0.1" }, (info) => {
  console.log(`listening on http://127.0.0.1:${info.port}`);
});
process.once("SIGTERM", () => {
  server.close(() => verifier.close());
});
