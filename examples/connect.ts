/**
 * A Connect (connect-es) service whose RPCs need a Keyward API key: a server interceptor.
 *
 *   npx tsx examples/connect.ts          # KEYWARD_TARGET=127.0.0.1:50051 PORT=3000
 *   curl -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" -d '"Ada"' \
 *     http://127.0.0.1:3000/greet.v1.GreetService/Greet
 */
import { createServer } from "node:http";
import { create, createFileRegistry } from "@bufbuild/protobuf";
import type { GenService } from "@bufbuild/protobuf/codegenv2";
import {
  FileDescriptorProtoSchema,
  file_google_protobuf_wrappers,
  type StringValueSchema,
} from "@bufbuild/protobuf/wkt";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { createVerifier } from "keyward/client";
import { keyward, keywardContextValues, keywardVerification } from "keyward/client/connect";

// Your service. In your project it is generated from your .proto by `buf generate`
// (protoc-gen-es); here it is described inline (string in, string out) to keep this one file.
type Greet = { methodKind: "unary"; input: typeof StringValueSchema; output: typeof StringValueSchema };
const GreetService = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: "greet/v1/greet.proto",
    package: "greet.v1",
    syntax: "proto3",
    dependency: ["google/protobuf/wrappers.proto"],
    service: [
      {
        name: "GreetService",
        method: [
          { name: "Greet", inputType: ".google.protobuf.StringValue", outputType: ".google.protobuf.StringValue" },
        ],
      },
    ],
  }),
  () => file_google_protobuf_wrappers,
).getService("greet.v1.GreetService") as GenService<{ greet: Greet }>;

// One verifier (one gRPC channel) per process.
const verifier = createVerifier({
  target: process.env.KEYWARD_TARGET ?? "127.0.0.1:50051",
  onUnavailable: "deny", // Keyward unreachable: UNAVAILABLE rather than unchecked calls
});

const handler = connectNodeAdapter({
  // Every RPC needs a valid key; refusals are ConnectErrors (UNAUTHENTICATED, PERMISSION_DENIED, ...).
  interceptors: [keyward({ verifier })],
  // Hands the caller's address to the interceptor (for the key's IP allowlist and its request log).
  contextValues: keywardContextValues,
  routes: (router) => {
    router.service(GreetService, {
      greet(request, ctx) {
        const auth = ctx.values.get(keywardVerification);
        const who = auth?.checked ? (auth.key.subject ?? auth.key.name) : "someone";
        return { value: `Hello ${request.value}, from ${who}` };
      },
    });
  },
});

const server = createServer(handler).listen(Number(process.env.PORT ?? 3000), "127.0.0.1", () => {
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : address;
  console.log(`listening on http://127.0.0.1:${port}`);
});
process.once("SIGTERM", () => {
  server.close(() => verifier.close());
});
