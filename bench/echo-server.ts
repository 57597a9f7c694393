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
 * --processes N (default 1): N server processes sharing the port through
 *   node:cluster, as KEYWARD_SERVICE_PROCESSES runs Keyward's service (the
 *   primary accepts and hands connections out in turn). The primary serves
 *   nothing; it answers {t:"ready", grpcPort, pids} once every worker listens
 *   and stops them on {t:"exit"} or when its parent goes. The measurement probe
 *   runs in single-process mode only (bench/replicas.ts reads CPU from /proc).
 *
 * Started with child_process.fork; answers {t:"ready", grpcPort}.
 */
import cluster from "node:cluster";
import net from "node:net";
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
    processes: { type: "string", default: "1" },
  },
});
const processes = Number(values.processes);
if (!(Number.isInteger(processes) && processes >= 1 && processes <= 64)) throw new Error("--processes must be 1-64");
if (values.response === undefined) throw new Error("--response <hex> is required");
const response = Buffer.from(values.response, "hex");
const codec = values.codec;
if (codec !== "protobufjs" && codec !== "buffer") throw new Error("--codec must be protobufjs or buffer");

if (processes > 1 && cluster.isPrimary) {
  await runPrimary();
} else {
  await runServer();
}

/** The cluster's primary: a free port for all, N workers on it, ready when all listen. */
async function runPrimary(): Promise<void> {
  let port = Number(values.port);
  if (port === 0) {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
  }
  const args = process.argv.slice(2).filter((_, i, all) => all[i] !== "--port" && all[i - 1] !== "--port");
  cluster.setupPrimary({ args: [...args, "--port", String(port)] });
  let stopping = false;
  const workers = Array.from({ length: processes }, () => cluster.fork());
  const stop = () => {
    stopping = true;
    for (const worker of workers) worker.process.kill("SIGTERM");
    setTimeout(() => process.exit(0), 3000).unref();
    Promise.all(workers.map((w) => (w.isDead() ? Promise.resolve() : new Promise((r) => w.once("exit", r))))).then(
      () => process.exit(0),
      () => process.exit(0),
    );
  };
  for (const worker of workers) {
    worker.on("exit", (code, signal) => {
      if (stopping) return;
      process.stderr.write(`echo: worker ${worker.process.pid} exited (${signal ?? code}); stopping\n`);
      stop();
    });
  }
  await Promise.all(
    workers.map(
      (worker) =>
        new Promise<void>((resolve) =>
          worker.on("message", (message: { t?: string }) => {
            if (message?.t === "ready") resolve();
          }),
        ),
    ),
  );
  process.on("message", (message: { t?: string }) => {
    if (message?.t === "exit") stop();
  });
  process.on("disconnect", stop);
  process.on("SIGTERM", stop);
  process.send?.({
    t: "ready",
    grpcPort: port,
    codec,
    pid: process.pid,
    processes,
    pids: workers.map((w) => w.process.pid),
  });
}

async function runServer(): Promise<void> {
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
  const shutdown = () =>
    new Promise<void>((resolve) => {
      server.tryShutdown(() => resolve());
      setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, 2000).unref();
    });
  if (cluster.isWorker) {
    // One of the primary's processes: it stops us with SIGTERM, or by going away.
    const exit = () => void shutdown().finally(() => process.exit(0));
    process.on("SIGTERM", exit);
    process.on("disconnect", exit);
  } else installProbe(shutdown);
  process.send?.({ t: "ready", grpcPort: port, codec, pid: process.pid });
}
