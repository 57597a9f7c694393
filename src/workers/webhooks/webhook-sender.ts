import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { literalAddressOf } from "../../shared/cidr.js";
import type { AddressGuard } from "./address-guard.js";

export interface WebhookSender {
  /**
   * POSTs `body` and resolves with the answer's status once its body has
   * been read (or broke off); rejects when no answer came: a network error,
   * the signal's abort, or a DeniedAddressError.
   */
  post(url: string, body: string, headers: Record<string, string>, signal: AbortSignal): Promise<number>;
  /** Closes the kept-alive connections. */
  close(): void;
}

/**
 * node:http(s) rather than fetch: fetch takes no `lookup` without the undici
 * package (not a dependency), and the guard must see the resolved address.
 * Agents of its own, so that no connection made elsewhere without the guard
 * is ever reused for a delivery. Redirects are not followed (a 3xx is the
 * answer, and fails the attempt).
 */
export function createWebhookSender(guard: AddressGuard): WebhookSender {
  const agentOptions = { keepAlive: true, lookup: guard.lookup };
  const httpAgent = new HttpAgent(agentOptions);
  const httpsAgent = new HttpsAgent(agentOptions);

  return {
    post(urlText, body, headers, signal) {
      return new Promise<number>((resolve, reject) => {
        const url = new URL(urlText);
        // A literal address is connected to without a lookup, so the guard's lookup never sees it: checked here.
        const address = literalAddressOf(url);
        const refused = address === undefined ? undefined : guard.refusal(address);
        if (refused) return reject(refused);
        const secure = url.protocol === "https:";
        const send = secure ? httpsRequest : httpRequest;
        let answered = false;
        const request = send(
          url,
          {
            method: "POST",
            headers: { ...headers, "content-length": String(Buffer.byteLength(body)) },
            agent: secure ? httpsAgent : httpAgent,
            signal,
          },
          (response) => {
            answered = true;
            const status = response.statusCode ?? 0;
            // The answer's body is not kept; reading it lets the connection be reused. A body that breaks off
            // (or outlasts the timeout) leaves the status as it was, as with fetch before.
            response.resume();
            response.on("error", () => undefined);
            response.once("close", () => resolve(status));
          },
        );
        request.on("error", (error) => {
          if (!answered) reject(error);
        });
        request.end(body);
      });
    },
    close() {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}
