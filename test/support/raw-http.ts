import { request } from "node:http";

/**
 * An HTTP/1.1 request with its headers sent exactly as given, one line per
 * pair, repeats included (fetch and Node's header objects fold them). Host
 * and Content-Length are the caller's to write.
 */
export function rawHttpRequest(options: {
  host: string;
  port: number | string;
  method?: string;
  path: string;
  headers: [string, string][];
  body?: string;
}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: options.host,
        port: options.port,
        method: options.method ?? "GET",
        path: options.path,
        headers: options.headers.flat(),
      },
      (res) => {
        let body = "";
        res.on("data", (chunk) => {
          body += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}
