import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";

/** What the tRPC client reads of an answer. */
export interface HttpAnswer {
  ok: boolean;
  status: number;
  statusText: string;
  headers: { get(name: string): string | null };
  json(): Promise<unknown>;
  text(): Promise<string>;
}

/**
 * A fetch for the tRPC client on node:http. Node 20's global fetch loads and
 * compiles undici on first use, ~250 ms, more than a whole `keyward keys list`
 * otherwise takes (measured in docs/benchmarks.md). Takes what tRPC's links
 * pass (method, headers, a string body, a signal) and answers what they read.
 */
export function httpFetch(
  input: string | URL | { url: string },
  init: { method?: string; headers?: unknown; body?: unknown; signal?: AbortSignal | null } = {},
): Promise<HttpAnswer> {
  const url = new URL(typeof input === "string" || input instanceof URL ? input : input.url);
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  const body = typeof init.body === "string" ? init.body : undefined;
  return new Promise((resolve, reject) => {
    const signal = init.signal ?? undefined;
    if (signal?.aborted) return reject(signal.reason);
    const req = send(
      url,
      { method: init.method ?? "GET", headers: plainHeaders(init.headers, body), signal },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", reject);
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          const status = res.statusCode ?? 0;
          resolve({
            ok: status >= 200 && status < 300,
            status,
            statusText: res.statusMessage ?? "",
            headers: { get: (name) => headerValue(res.headers, name) },
            json: async () => JSON.parse(text),
            text: async () => text,
          });
        });
      },
    );
    // An abort rejects with the signal's reason, as fetch does (a TimeoutError for AbortSignal.timeout).
    req.on("error", (error) => reject(signal?.aborted ? signal.reason : error));
    req.end(body);
  });
}

function plainHeaders(headers: unknown, body: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (headers !== null && typeof headers === "object") {
    const entries =
      Symbol.iterator in headers
        ? [...(headers as Iterable<[string, string]>)]
        : Object.entries(headers as Record<string, string>);
    for (const [name, value] of entries) if (value !== undefined) out[name.toLowerCase()] = String(value);
  }
  if (body !== undefined) out["content-length"] = String(Buffer.byteLength(body));
  return out;
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | null {
  const value = headers[name.toLowerCase()];
  return value === undefined ? null : Array.isArray(value) ? value.join(", ") : value;
}
