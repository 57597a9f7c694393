import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { KeyService } from "../../src/gen/keyward/v1/key_service_pb.js";

export type KeyServiceConnectClient = Client<typeof KeyService>;

export interface ConnectClientOptions {
  token?: string;
  actor?: string;
  /** "connect" (default) or "grpc-web": both over HTTP/1.1, as browsers and curl speak them. */
  protocol?: "connect" | "grpc-web";
}

/**
 * A Connect-protocol (or gRPC-Web) client of keyward.v1.KeyService for tests,
 * over HTTP/1.1 like the gateway's. `token` is sent as `authorization: Bearer`,
 * `actor` as `keyward-actor`; a call's own headers win over these.
 */
export function createKeyServiceConnectClient(
  baseUrl: string,
  options: ConnectClientOptions = {},
): KeyServiceConnectClient {
  const credentials: Interceptor = (next) => (request) => {
    if (options.token !== undefined && !request.header.has("authorization")) {
      request.header.set("authorization", `Bearer ${options.token}`);
    }
    if (options.actor !== undefined && !request.header.has("keyward-actor")) {
      request.header.set("keyward-actor", options.actor);
    }
    return next(request);
  };
  const transportOptions = { baseUrl, httpVersion: "1.1" as const, interceptors: [credentials] };
  const transport =
    options.protocol === "grpc-web"
      ? createGrpcWebTransport(transportOptions)
      : createConnectTransport(transportOptions);
  return createClient(KeyService, transport);
}
