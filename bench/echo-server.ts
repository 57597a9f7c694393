/**
 * The baseline: a bare @grpc/grpc-js server with a method at Keyward's
 * VerifyKey path that answers every call with a fixed, pre-encoded response of
 * the same bytes Keyward answered for a hot key (the orchestrator captures it
 * and passes it as --response). No database, no cache, no logic.
 *
 * --codec protobufjs (default): the request is decoded the way a grpc-js +
 *   @grpc/proto-loader server decodes it (protobufjs decode + toObject), the
 *   response bytes go out as they are. This is "grpc-js with protobufjs
 *   serializers" as the prototype measured it, minus encoding a
 *   response that never changes.
 * --codec buffer: plain Buffer in and out, no decoding at all (the transport alone).
 *
 * Started with child_process.fork; answers {t:"ready", grpcPort}.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { installProbe } from "./lib/probe.js";
import { VERIFY_PATH } from "./lib/wire.js";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    response: { type: "string" },
    codec: { type: "string", default: "protobufjs" },
  },
});
if (values.response === undefined) throw new Error("--response <hex> is required");
const response = Buffer.from(values.response, "hex");
const codec = values.codec;
if (codec !== "protobufjs" && codec !== "buffer") throw new Error("--codec must be protobufjs or buffer");

const passThrough = (value: Buffer): Buffer => value;
let requestDeserialize: (bytes: Buffer) => unknown = passThrough;
if (codec === "protobufjs") {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../proto");
  const definition = protoLoader.loadSync(path.join(root, "keyward/v1/key_service.proto"), {
    includeDirs: [root],
    longs: String,
    enums: String,
    defaults: false,
    oneofs: true,
  });
  const service = definition["keyward.v1.KeyService"] as grpc.ServiceDefinition | undefined;
  const method = service?.VerifyKey;
  if (method === undefined) throw new Error("keyward.v1.KeyService/VerifyKey not found in the proto files");
  requestDeserialize = method.requestDeserialize;
}

const definition: grpc.ServiceDefinition = {
  verifyKey: {
    path: VERIFY_PATH,
    originalName: "verifyKey",
    requestStream: false,
    responseStream: false,
    requestSerialize: passThrough,
    requestDeserialize,
    responseSerialize: passThrough,
    responseDeserialize: passThrough,
  },
};

const server = new grpc.Server();
server.addService(definition, {
  verifyKey: (_call: grpc.ServerUnaryCall<unknown, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
    callback(null, response);
  },
});
const port = await new Promise<number>((resolve, reject) => {
  server.bindAsync(`127.0.0.1:${values.port}`, grpc.ServerCredentials.createInsecure(), (error, bound) =>
    error ? reject(error) : resolve(bound),
  );
});
installProbe(
  () =>
    new Promise<void>((resolve) => {
      server.tryShutdown(() => resolve());
      setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, 2000).unref();
    }),
);
process.send?.({ t: "ready", grpcPort: port, codec, pid: process.pid });
