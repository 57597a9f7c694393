import { Agent } from "node:http";
import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { KeyService } from "../../gen/keyward/v1/key_service_pb.js";

/** The key service as the gateway (and the CLI's bootstrap) calls it. */
export type KeyServiceClient = Client<typeof KeyService>;

/** Every call carries a deadline, so a hung service is a 503, never a hung request. */
export const DEFAULT_SERVICE_TIMEOUT_MS = 5_000;

/**
 * Metadata naming the person an admin RPC acts for (recorded as created_by and
 * in the audit log), percent-encoded because metadata is ASCII and names are
 * not, and the admin key they act with.
 */
export const ACTOR_HEADER = "keyward-actor";
export const ACTOR_KEY_HEADER = "keyward-actor-key-id";

/** Who an admin RPC acts for: a name, and the acting key (none for the service's own callers). */
export interface ActingAs {
  name: string;
  keyId?: string;
}

export interface ServiceClientOptions {
  /** The service's Connect endpoint (plain HTTP/1.1), e.g. http://127.0.0.1:50052. */
  baseUrl: string;
  /** The service credential; sent on every call, never logged. */
  serviceToken: string;
  timeoutMs?: number;
}

export interface ServiceClientHandle {
  client: KeyServiceClient;
  /** Closes the pooled connections; calls after this open new ones. */
  close(): void;
}

/**
 * One Connect client over one keep-alive agent. The agent is ours so that
 * close() can drop its sockets: Node's global agent would keep them open and
 * the process alive after shutdown.
 */
export function createServiceClient(options: ServiceClientOptions): ServiceClientHandle {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const authorization = `Bearer ${options.serviceToken}`;
  const credential: Interceptor = (next) => (req) => {
    req.header.set("authorization", authorization);
    return next(req);
  };
  const transport = createConnectTransport({
    baseUrl: options.baseUrl,
    httpVersion: "1.1",
    nodeOptions: { agent },
    interceptors: [credential],
    defaultTimeoutMs: options.timeoutMs ?? DEFAULT_SERVICE_TIMEOUT_MS,
  });
  return {
    client: createClient(KeyService, transport),
    close: () => agent.destroy(),
  };
}

/** Call options naming the actor of an admin RPC: a name alone, or a name and the acting key. */
export function asActor(actor: string | ActingAs): { headers: Record<string, string> } {
  if (typeof actor === "string") return asActor({ name: actor });
  const headers: Record<string, string> = { [ACTOR_HEADER]: encodeURIComponent(actor.name) };
  if (actor.keyId) headers[ACTOR_KEY_HEADER] = actor.keyId;
  return { headers };
}

/** The call options of an admin RPC made for the signed-in admin. */
export function asPrincipal(principal: { email: string; keyId: string }): { headers: Record<string, string> } {
  return asActor({ name: principal.email, keyId: principal.keyId });
}
