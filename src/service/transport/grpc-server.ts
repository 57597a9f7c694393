import type { ServiceImpl } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { ReflectionService } from "@grpc/reflection";
import { HealthImplementation } from "grpc-health-check";
import type { Logger } from "pino";
import { file_keyward_v1_key_service, KeyService } from "../../gen/keyward/v1/key_service_pb.js";
import { isAddressInUse, portInUseMessage } from "../../shared/port-in-use.js";
import { createGrpcImplementation } from "./grpc-call.js";
import { createGrpcServiceDefinition } from "./grpc-definition.js";
import { applyGrpcJsFixes } from "./grpc-js-fixes.js";
import { reflectionPackageDefinition } from "./grpc-reflection.js";

export interface GrpcServerOptions {
  host: string;
  /** 0 picks a free port; the bound one is returned. */
  port: number;
  logger: Logger;
  /** Larger requests are refused with RESOURCE_EXHAUSTED. Default 1 MiB. */
  maxReceiveMessageBytes?: number;
}

export interface StartedGrpcServer {
  port: number;
  server: grpc.Server;
  /** What health checks answer until close (which makes it NOT_SERVING for good). */
  setServing(serving: boolean): void;
  /** Health turns NOT_SERVING, new calls are refused, in-flight ones get `graceMs` (default 5 s) to finish. */
  close(graceMs?: number): Promise<void>;
}

const DEFAULT_MAX_RECEIVE_BYTES = 1024 * 1024;
const DEFAULT_GRACE_MS = 5000;

/**
 * The grpc-js server: keyward.v1.KeyService, grpc.health.v1.Health (for ""
 * and the service) and server reflection, so grpcurl, `buf curl` and probes
 * work with no proto files at hand. Plaintext: TLS is the network's job here.
 */
export async function createGrpcServer(
  impl: ServiceImpl<typeof KeyService>,
  options: GrpcServerOptions,
): Promise<StartedGrpcServer> {
  applyGrpcJsFixes();
  logGrpcJsThrough(options.logger);
  const server = new grpc.Server({
    "grpc.max_receive_message_length": options.maxReceiveMessageBytes ?? DEFAULT_MAX_RECEIVE_BYTES,
  });
  server.addService(
    createGrpcServiceDefinition(KeyService),
    createGrpcImplementation(KeyService, impl, options.logger),
  );

  const health = new HealthImplementation({ "": "SERVING", [KeyService.typeName]: "SERVING" });
  health.addToServer(server);
  new ReflectionService(reflectionPackageDefinition(file_keyward_v1_key_service)).addToServer(server);

  const port = await bind(server, `${hostForAddress(options.host)}:${options.port}`).catch((error: unknown) => {
    if (!isAddressInUse(error)) throw error;
    throw new Error(portInUseMessage("the gRPC server", options.host, options.port, "KEYWARD_SERVICE_PORT"));
  });

  let closing: Promise<void> | undefined;
  return {
    port,
    server,
    setServing(serving) {
      if (closing !== undefined) return;
      const status = serving ? "SERVING" : "NOT_SERVING";
      health.setStatus("", status);
      health.setStatus(KeyService.typeName, status);
    },
    close(graceMs = DEFAULT_GRACE_MS) {
      closing ??= new Promise<void>((resolve) => {
        health.setStatus("", "NOT_SERVING");
        health.setStatus(KeyService.typeName, "NOT_SERVING");
        // Calls still running when the grace ends (and health Watch streams,
        // which never end by themselves) are cut.
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      return closing;
    },
  };
}

/**
 * grpc-js writes its own errors to stderr in its own format; they go to the
 * service's log instead. A taken port it reports only as "No address added
 * out of total 1 resolved", which createGrpcServer says better itself.
 */
function logGrpcJsThrough(logger: Logger): void {
  grpc.setLogger({
    error: (...args: unknown[]) => {
      const text = args.map(String).join(" ");
      if (!/No address added out of total/.test(text)) logger.warn({ grpc: text }, "grpc-js");
    },
  });
}

function bind(server: grpc.Server, address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, port) => {
      if (error) reject(error);
      else resolve(port);
    });
  });
}

/** An IPv6 literal needs brackets in a host:port address. */
function hostForAddress(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}
