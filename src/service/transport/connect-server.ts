import { createServer, type IncomingMessage, type Server } from "node:http";
import type { Socket } from "node:net";
import type { ServiceImpl } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { Logger } from "pino";
import { KeyService } from "../../gen/keyward/v1/key_service_pb.js";
import { isAddressInUse, portInUseMessage } from "../../shared/port-in-use.js";
import { isRepeatedHeader } from "../../shared/raw-headers.js";
import { AMBIGUOUS_AUTHORIZATION } from "../mapping/credentials.js";
import { ACCEPTED_COMPRESSIONS, guardMalformedBinary, rejectMalformedRequests } from "./connect-malformed-guard.js";

export interface ConnectServerOptions {
  host: string;
  /** 0 picks a free port; the bound one is returned. */
  port: number;
  logger: Logger;
  /** Larger request bodies are refused with RESOURCE_EXHAUSTED. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Serves `GET /metrics` (Prometheus text) when given. */
  metrics?: () => Promise<{ contentType: string; body: string }>;
  /** Serves `GET /healthz` (JSON): 200 while its `status` is "ok", else 503. */
  health?: () => Promise<{ status: string } & Record<string, string | number>>;
}

export interface StartedConnectServer {
  port: number;
  /** Stops accepting, lets in-flight requests finish (at most `graceMs`, default 5 s), closes idle keep-alive sockets. */
  close(graceMs?: number): Promise<void>;
}

const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
const DEFAULT_GRACE_MS = 5000;
const IDLE_SWEEP_MS = 50;

/**
 * The Connect protocol and gRPC-Web (and gRPC, for completeness) on a plain
 * HTTP/1.1 server, for browsers, curl and the gateway's Connect client. The
 * same handler object as the grpc-js server.
 */
export async function createConnectServer(
  impl: ServiceImpl<typeof KeyService>,
  options: ConnectServerOptions,
): Promise<StartedConnectServer> {
  const readMaxBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const handler = connectNodeAdapter({
    routes: (router) => {
      router.service(KeyService, impl);
      // connect-node reads router.handlers right after this callback: wrap
      // them so malformed binary bodies become INVALID_ARGUMENT, not INTERNAL.
      router.handlers.forEach((h, i) => {
        router.handlers[i] = guardMalformedBinary(h, readMaxBytes);
      });
    },
    interceptors: [rejectMalformedRequests],
    acceptCompression: [...ACCEPTED_COMPRESSIONS],
    readMaxBytes,
  });
  // connect-node answers an oversized body without reading the rest, and
  // the socket is left mid-request: never idle, so close() could not end it
  // until the grace ran out (Node itself drops it after keepAliveTimeout).
  // Remember such sockets; close() ends them, their answer long since sent.
  const abandoned = new Set<Socket>();
  const metrics = options.metrics;
  const health = options.health;
  const server = createServer((req, res) => {
    if (health !== undefined && (req.method === "GET" || req.method === "HEAD") && req.url === "/healthz") {
      health().then(
        (state) => {
          const body = JSON.stringify(state);
          res.writeHead(state.status === "ok" ? 200 : 503, {
            "content-type": "application/json",
            "content-length": Buffer.byteLength(body),
            "cache-control": "no-store",
          });
          res.end(req.method === "HEAD" ? undefined : body);
        },
        () => res.writeHead(500).end(),
      );
      return;
    }
    if (metrics !== undefined && req.method === "GET" && req.url === "/metrics") {
      metrics().then(
        ({ contentType, body }) => res.writeHead(200, { "content-type": contentType }).end(body),
        (error: unknown) => {
          options.logger.error({ err: error }, "metrics collection failed");
          res.writeHead(500).end();
        },
      );
      return;
    }
    if (req.headers.authorization !== undefined && isRepeatedHeader(req.rawHeaders, "authorization")) {
      req.headers.authorization = AMBIGUOUS_AUTHORIZATION;
    }
    const socket = req.socket;
    // An answer written before the body was read (only a refusal: connect-node
    // reads a request whole before any handler runs) leaves the rest of the
    // body unread. Left so, a kept-alive connection hung (a client reusing it
    // waited for the keep-alive timeout and got a reset); closed at once, a
    // client still uploading got a reset instead of the answer. So the rest is
    // read and thrown away, up to DRAIN_LIMIT_BYTES, past which the
    // connection is cut; a body connect-node already destroyed cannot be
    // read, and its connection is closed after the answer.
    const writeHead = res.writeHead;
    res.writeHead = function (this: typeof res, ...args: Parameters<typeof res.writeHead>) {
      if (!req.complete) {
        // connect-node destroys a body it stopped reading midway (no Content-Length):
        // nothing left to drain, so that connection is closed after the answer.
        if (req.destroyed) this.shouldKeepAlive = false;
        else drain(req, socket);
      }
      return writeHead.apply(this, args);
    } as typeof res.writeHead;
    res.once("finish", () => {
      if (req.complete || socket.destroyed) return;
      abandoned.add(socket);
      socket.once("close", () => abandoned.delete(socket));
    });
    handler(req, res);
  });
  const port = await listen(server, options.host, options.port);
  server.on("error", (error) => options.logger.error({ err: error }, "Connect server error"));

  let closing: Promise<void> | undefined;
  return {
    port,
    close(graceMs = DEFAULT_GRACE_MS) {
      closing ??= new Promise<void>((resolve) => {
        // Keep-alive sockets between requests would hold close() open, and a
        // socket busy with an in-flight call turns idle when the call ends:
        // sweep until the server has closed; cut what is left at the grace.
        const closeIdle = () => {
          server.closeIdleConnections();
          for (const socket of abandoned) socket.destroySoon();
        };
        const sweep = setInterval(closeIdle, IDLE_SWEEP_MS);
        const cut = setTimeout(() => server.closeAllConnections(), graceMs);
        server.close(() => {
          clearInterval(sweep);
          clearTimeout(cut);
          resolve();
        });
        closeIdle();
      });
      return closing;
    },
  };
}

/** How much of a refused request's body is read and discarded before its connection is cut. */
const DRAIN_LIMIT_BYTES = 16 * 1024 * 1024;

function drain(req: IncomingMessage, socket: Socket): void {
  let drained = 0;
  req.on("data", (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > DRAIN_LIMIT_BYTES) socket.destroy();
  });
  req.on("error", () => undefined);
  req.resume();
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      reject(
        isAddressInUse(error)
          ? new Error(portInUseMessage("the Connect server", host, port, "KEYWARD_CONNECT_PORT"))
          : error,
      );
    };
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      const address = server.address();
      resolve(typeof address === "object" && address !== null ? address.port : port);
    });
  });
}
