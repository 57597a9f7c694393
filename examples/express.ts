/**
 * An Express service whose routes need a Keyward API key.
 *
 *   npx tsx examples/express.ts          # KEYWARD_TARGET=127.0.0.1:50051 PORT=3000
 *   curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:3000/api/whoami
 */
import express from "express";
import { createVerifier } from "keyward/client";
import { keyward } from "keyward/client/express";

// One verifier (one gRPC channel) per process, shared by every route.
const verifier = createVerifier({
  target: process.env.KEYWARD_TARGET ?? "127.0.0.1:50051",
  onUnavailable: "deny", // Keyward unreachable: answer 503 rather than let unchecked requests in
});
const anyKey = keyward({ verifier });
const reportWriter = keyward({ verifier, scopes: ["reports:write"], cost: 5 });

const app = express();
app.get("/health", (_req, res) => {
  res.json({ ok: true });
});
app.get("/api/whoami", anyKey, (req, res) => {
  // req.keyward.checked is false only under onUnavailable "allow" when Keyward was down.
  const auth = req.keyward;
  res.json(auth?.checked ? { id: auth.key.id, name: auth.key.name, subject: auth.key.subject ?? null } : null);
});
app.post("/api/reports", reportWriter, (req, res) => {
  res.status(201).json({ createdBy: req.keyward?.checked ? req.keyward.key.id : null });
});

const server = app.listen(Number(process.env.PORT ?? 3000), "127.0.0.1", () => {
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : address;
  console.log(`listening on http://127.0.0.1:${port}`);
});
process.once("SIGTERM", () => {
  server.close(() => verifier.close());
});
