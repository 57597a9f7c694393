import type { ServerResponse } from "node:http";

/**
 * Headers for every gateway answer. The API returns keys (and tokens, once),
 * so nothing is cached, framed or sniffed. CORS headers are cors.ts's: none
 * unless KEYWARD_CORS_ORIGINS names origins, so by default browsers on other
 * origins cannot call it (the console is same-origin).
 * No HSTS: the gateway speaks plain HTTP and TLS is terminated in front of it.
 */
export function setSecurityHeaders(res: ServerResponse): void {
  res.setHeader("x-content-type-options", "nosniff");
  res.setHeader("x-frame-options", "DENY");
  res.setHeader("referrer-policy", "no-referrer");
  res.setHeader("content-security-policy", "default-src 'none'; frame-ancestors 'none'");
  res.setHeader("cross-origin-resource-policy", "same-origin");
  res.setHeader("cache-control", "no-store");
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

/** An error answer outside tRPC, in tRPC's envelope so that tRPC clients read it too. */
export function sendError(
  res: ServerResponse,
  status: number,
  code: string,
  jsonRpcCode: number,
  message: string,
): void {
  sendJson(res, status, { error: { message, code: jsonRpcCode, data: { code, httpStatus: status } } });
}
