import { createTRPCClient, httpBatchLink } from "@trpc/client";
import type { AppRouter } from "../gateway/routers/_app.js";
import { UsageError } from "./errors.js";
import { httpFetch } from "./http-fetch.js";

/** The gateway the CLI talks to when KEYWARD_URL is not set. */
export const DEFAULT_GATEWAY_URL = "http://127.0.0.1:8787";
/** The gateway answers within its own service deadline; this only catches a gateway that hangs. */
const REQUEST_TIMEOUT_MS = 30_000;

export type GatewayClient = ReturnType<typeof createTRPCClient<AppRouter>>;

export interface ClientSettings {
  url: string;
  token: string;
}

/** KEYWARD_URL and KEYWARD_TOKEN: client settings, read here and nowhere else. */
export function clientSettings(env: Record<string, string | undefined>): ClientSettings {
  const url = (env.KEYWARD_URL?.trim() || DEFAULT_GATEWAY_URL).replace(/\/+$/, "");
  if (!/^https?:\/\/[^/]/.test(url)) {
    throw new UsageError(`KEYWARD_URL must be an http(s) URL such as ${DEFAULT_GATEWAY_URL}, not "${url}".`);
  }
  const token = env.KEYWARD_TOKEN?.trim();
  if (!token) {
    throw new UsageError(
      "KEYWARD_TOKEN is not set: export KEYWARD_TOKEN=<an admin or member key> (keyward bootstrap creates the first admin key).",
    );
  }
  return { url, token };
}

/** A typed client of the gateway's router over batched HTTP, no transformer (plain JSON). */
export function createGatewayClient(settings: ClientSettings): GatewayClient {
  return createTRPCClient<AppRouter>({
    links: [
      httpBatchLink({
        url: `${settings.url}/trpc`,
        headers: () => ({ authorization: `Bearer ${settings.token}` }),
        fetch: (input, init) => {
          const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
          const signal = init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
          return httpFetch(input as string, { ...init, signal }) as unknown as Promise<Response>;
        },
      }),
    ],
  });
}
