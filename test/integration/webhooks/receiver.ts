import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** One request a receiver got: its raw body (what the signature covers) and headers. */
export interface Received {
  body: string;
  headers: IncomingHttpHeaders;
  /** The parsed body. */
  // biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON arrived
  json: any;
  at: number;
  /** The status answered; 0 while held, -1 when the sender hung up before an answer. */
  status: number;
}

/** What the receiver answers a request with; a promise holds the answer until it settles. */
export type Policy = (request: Received, nth: number) => number | Promise<number>;

export interface Receiver {
  url: string;
  /** Every request, answered or not, in arrival order. */
  requests: Received[];
  /** Requests answered 2xx. */
  delivered(): Received[];
  policy: Policy;
  /** Resolves once `count` requests match. */
  waitFor(count: number, filter?: (r: Received) => boolean, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

/** A real HTTP receiver in the test process, answering as `policy` says (200 by default). */
export async function startReceiver(policy: Policy = () => 200): Promise<Receiver> {
  const requests: Received[] = [];
  const receiver: Receiver = {
    url: "",
    requests,
    delivered: () => requests.filter((r) => r.status >= 200 && r.status < 300),
    policy,
    async waitFor(count, filter = () => true, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const matching = requests.filter(filter);
        if (matching.length >= count) return matching;
        if (Date.now() > deadline) {
          throw new Error(`expected ${count} webhook request(s), got ${matching.length} after ${timeoutMs} ms`);
        }
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      const received: Received = { body, headers: req.headers, json, at: Date.now(), status: 0 };
      requests.push(received);
      res.on("close", () => {
        if (!res.writableFinished) received.status = -1;
      });
      void Promise.resolve(receiver.policy(received, requests.length)).then((status) => {
        if (res.destroyed || received.status === -1) return;
        received.status = status;
        res.writeHead(status, { "content-type": "text/plain" });
        res.end(status < 300 ? "ok" : "no");
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  return receiver;
}

/** The standardwebhooks verify call's header object. */
export function signatureHeaders(r: Received): Record<string, string> {
  return {
    "webhook-id": String(r.headers["webhook-id"]),
    "webhook-timestamp": String(r.headers["webhook-timestamp"]),
    "webhook-signature": String(r.headers["webhook-signature"]),
  };
}
