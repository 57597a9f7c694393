import { createServer, type Server } from "node:http";
import type { ServiceImpl } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { Logger } from "pino";
import { KeyService } from "../../gen/keyward/v1/key_service_pb.js";

export interface ConnectServerOptions {
  host: string;
  /** 0 picks a free port; the bound one is returned. */
  port: number;
  logger: Logger;
  /** Larger request bodies are refused with RESOURCE_EXHAUSTED. Default 1 MiB. */
  maxBodyBytes?: number;
}

export interface StartedConnectServer {
  port: number;
  /** Stops accepting, lets in-flight requests finish (at most `graceMs`, default 5 s), closes idle keep-alive sockets. */
  close(graceMs?: number): Promise<void>;
}

const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
const DEFAULT_GRACE_MS = 5000;

/**
 * The Connect protocol and gRPC-Web (and gRPC, for completeness) on a plain
 * HTTP/1.1 server, for browsers, curl and the gateway's Connect client. The
 * same handler object as the grpc-js server.
 */
export async function createConnectServer(
  impl: ServiceImpl<typeof KeyService>,
  options: ConnectServerOptions,
): Promise<StartedConnectServer> {
  const handler = connectNodeAdapter({
    routes: (router) => router.service(KeyService, impl),
    readMaxBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
  });
  const server = createServer(handler);
  server.on("clientError", (error, socket) => {
    // A malformed HTTP request is the client's problem: answer 400 and move on.
    options.logger.debug({ err: error }, "bad HTTP request on the Connect port");
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
  });
  const port = await listen(server, options.host, options.port);

  let closing: Promise<void> | undefined;
  return {
    port,
    close(graceMs = DEFAULT_GRACE_MS) {
      closing ??= new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.closeAllConnections(), graceMs);
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        // Keep-alive sockets between requests would hold close() open.
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      const address = server.address();
      resolve(typeof address === "object" && address !== null ? address.port : port);
    });
  });
}
