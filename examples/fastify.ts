/**
 * A Fastify service whose routes need a Keyward API key.
 *
 *   npx tsx examples/fastify.ts          # KEYWARD_TARGET=127.0.0.1:50051 PORT=3000
 *   curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:3000/api/whoami
 */
import Fastify from "fastify";
import { createVerifier } from "keyward/client";
import { keyward } from "keyward/client/fastify";

// One verifier (one gRPC channel) per process, shared by every route.
const verifier = createVerifier({
  target: process.env.KEYWARD_TARGET ?? "127.0.0.1:50051",
  onUnavailable: "deny", // Keyward unreachable: answer 503 rather than let unchecked requests in
});

const app = Fastify();
app.decorateRequest("keyward", undefined); // the property the hook sets, declared up front
app.addHook("onClose", async () => verifier.close());

app.get("/health", async () => ({ ok: true }));

// Every route registered in this plugin needs a valid key.
app.register(
  async (api) => {
    api.addHook("onRequest", keyward({ verifier }));
    api.get("/whoami", async (request) => {
      // request.keyward.checked is false only under onUnavailable "allow" when Keyward was down.
      const auth = request.keyward;
      return auth?.checked ? { id: auth.key.id, name: auth.key.name, subject: auth.key.subject ?? null } : null;
    });
    // A route that needs more: a scope, and 5 units of the key's credits and rate limits.
    api.post(
      "/reports",
      { onRequest: keyward({ verifier, scopes: ["reports:write"], cost: 5 }) },
      async (request, reply) => {
        reply.code(201);
        return { createdBy: request.keyward?.checked ? request.keyward.key.id : null };
      },
    );
  },
  { prefix: "/api" },
);

const url = await app.listen({ port: Number(process.env.PORT ?? 3000), host: "127.0.0.1" });
console.log(`listening on ${url}`);
process.once("SIGTERM", () => void app.close());
