import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import * as grpc from "@grpc/grpc-js";
import { BaseServerInterceptingCall } from "@grpc/grpc-js/build/src/server-interceptors.js";
import { isRepeatedHeader } from "../../shared/raw-headers.js";
import { AMBIGUOUS_AUTHORIZATION } from "../mapping/credentials.js";

/**
 * Three answers grpc-js gives to malformed calls before any handler or
 * server interceptor can see them, re-coded where grpc-js makes them (its
 * private BaseServerInterceptingCall methods), because Keyward's contract is
 * that a bad input is INVALID_ARGUMENT and that no input is INTERNAL. All
 * three were found by the fuzz suite; test/reliability/fuzz/regressions.test.ts
 * fails if a grpc-js upgrade moves them.
 *
 * 1. A compressed message that does not decompress: INTERNAL "Failed to
 *    decompress message" becomes INVALID_ARGUMENT (too large after
 *    decompression stays RESOURCE_EXHAUSTED, an unknown encoding UNIMPLEMENTED).
 * 2. A grpc-timeout header that is not `<1-8 digits><H|M|S|m|u|n>`: INTERNAL
 *    becomes INVALID_ARGUMENT.
 * 3. A grpc-timeout longer than a Node timer can wait (2^31 ms, ~24.8 days):
 *    grpc-js truncates it to 32 bits, so a 30-day deadline wrapped around and
 *    the call failed at once with DEADLINE_EXCEEDED. It is clamped instead.
 * 4. `authorization` sent twice: Node's HTTP/2 keeps the first value only, so
 *    a right and a wrong credential passed or failed by their order. The
 *    stream handler (grpc-js's private Server methods) now sees the raw
 *    headers and marks such a call ambiguous; the credential check answers it
 *    UNAUTHENTICATED.
 */
export function applyGrpcJsFixes(): void {
  const prototype = BaseServerInterceptingCall.prototype as unknown as Record<string | symbol, unknown>;
  if (prototype[APPLIED] === true) return;
  const decompress = prototype.decompressMessage as Decompress | undefined;
  const handleTimeout = prototype.handleTimeoutHeader as HandleTimeout | undefined;
  if (typeof decompress !== "function" || typeof handleTimeout !== "function") return;

  prototype.decompressMessage = function (this: unknown, message: Buffer, encoding: string) {
    const result = decompress.call(this, message, encoding);
    // Identity comes back as a Buffer at once: that path stays as it is.
    if (!(result instanceof Promise)) return result;
    return result.catch((status: Partial<grpc.StatusObject>) => {
      throw status?.code === grpc.status.INTERNAL ? { ...status, code: grpc.status.INVALID_ARGUMENT } : status;
    });
  } satisfies Decompress;

  prototype.handleTimeoutHeader = function (this: Call, header: unknown) {
    const match = DEADLINE.exec(String(header));
    if (match === null) {
      // As grpc-js does it: after the constructor has finished.
      process.nextTick(() =>
        this.sendStatus({
          code: grpc.status.INVALID_ARGUMENT,
          details: `invalid grpc-timeout value "${String(header)}"`,
          metadata: null,
        }),
      );
      return;
    }
    const ms = Number(match[1]) * (UNIT_MS[match[2] as keyof typeof UNIT_MS] ?? 1);
    handleTimeout.call(this, ms > MAX_TIMER_MS ? `${Math.floor(MAX_TIMER_MS / 1000)}S` : header);
  } satisfies HandleTimeout;

  const server = grpc.Server.prototype as unknown as Record<string, unknown>;
  for (const name of ["_streamHandler", "_channelzHandler"]) {
    const original = server[name] as StreamHandler | undefined;
    if (typeof original !== "function") continue;
    server[name] = function (this: unknown, interceptors, stream, headers, flags, rawHeaders) {
      if (
        headers.authorization !== undefined &&
        rawHeaders !== undefined &&
        isRepeatedHeader(rawHeaders, "authorization")
      ) {
        headers.authorization = AMBIGUOUS_AUTHORIZATION;
      }
      return original.call(this, interceptors, stream, headers, flags, rawHeaders);
    } satisfies StreamHandler;
  }

  prototype[APPLIED] = true;
}

type StreamHandler = (
  this: unknown,
  interceptors: unknown,
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  flags?: number,
  rawHeaders?: string[],
) => void;

type Decompress = (this: unknown, message: Buffer, encoding: string) => Buffer | Promise<Buffer>;
type HandleTimeout = (this: Call, header: unknown) => void;
interface Call {
  sendStatus(status: { code: grpc.status; details: string; metadata: null }): void;
}

const APPLIED = Symbol.for("keyward.grpc-js-fixes");
/** The gRPC spec's TimeoutValue and TimeoutUnit, as grpc-js parses them. */
const DEADLINE = /^(\d{1,8})\s*([HMSmun])$/;
const UNIT_MS = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000_001 };
const MAX_TIMER_MS = 2 ** 31 - 1;
