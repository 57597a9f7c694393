import { randomUUID } from "node:crypto";
import { create, type DescMethod, type DescService, type Message, toBinary } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { Code, ConnectError, createHandlerContext } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import { asBuffer, MalformedRequest } from "./grpc-definition.js";

/** What a ServiceImpl method is, seen without its per-method types. */
type AnyMethodImpl = (request: Message, context: HandlerContext) => unknown;

/**
 * grpc-js handlers that run the Connect ServiceImpl: the same handler object
 * serves both transports. Each call gets a HandlerContext like connect-node
 * builds (request headers from metadata, the deadline, a signal aborted when
 * the caller cancels or the call ends); a ConnectError becomes the gRPC status
 * with the same code number and its message; anything else is logged and
 * answered INTERNAL with only a request id.
 */
export function createGrpcImplementation(
  service: DescService,
  impl: object,
  logger: Logger,
): grpc.UntypedServiceImplementation {
  const handlers: grpc.UntypedServiceImplementation = {};
  const methods = impl as Record<string, AnyMethodImpl | undefined>;
  for (const method of service.methods) {
    const fn = methods[method.localName];
    const bound: AnyMethodImpl | undefined = typeof fn === "function" ? fn.bind(impl) : undefined;
    switch (method.methodKind) {
      case "unary":
        handlers[method.localName] = unaryHandler(service, method, bound, logger);
        break;
      case "server_streaming":
        handlers[method.localName] = serverStreamingHandler(service, method, bound, logger);
        break;
      default:
        // KeyService has no client or bidi streams; say so instead of hanging.
        handlers[method.localName] = (_call: unknown, callback?: grpc.sendUnaryData<unknown>) => {
          const status = { code: grpc.status.UNIMPLEMENTED, details: `${method.name} is not served over grpc-js` };
          if (callback) callback(status);
        };
    }
  }
  return handlers;
}

function unaryHandler(
  service: DescService,
  method: DescMethod,
  fn: AnyMethodImpl | undefined,
  logger: Logger,
): grpc.handleUnaryCall<Message | MalformedRequest, Buffer> {
  return (call, callback) => {
    const request = call.request;
    if (request instanceof MalformedRequest) {
      callback(malformedStatus(request));
      return;
    }
    if (fn === undefined) {
      callback({ code: grpc.status.UNIMPLEMENTED, details: `${method.name} is not implemented` });
      return;
    }
    const context = handlerContext(service, method, call);
    const onCancel = () => context.abort(new ConnectError("call cancelled by the client", Code.Canceled));
    call.once("cancelled", onCancel);
    Promise.resolve()
      .then(() => fn(request, context))
      .then(
        (response) => {
          let bytes: Buffer;
          try {
            bytes = asBuffer(toBinary(method.output, create(method.output, response as never)));
          } catch (error) {
            callback(statusFrom(error, method, logger));
            return;
          }
          callback(null, bytes);
        },
        (error: unknown) => callback(statusFrom(error, method, logger)),
      )
      .finally(() => {
        call.off("cancelled", onCancel);
        // Ends the deadline timer; the HandlerContext contract aborts the
        // signal when the call completes, too.
        context.abort();
      });
  };
}

function serverStreamingHandler(
  service: DescService,
  method: DescMethod,
  fn: AnyMethodImpl | undefined,
  logger: Logger,
): grpc.handleServerStreamingCall<Message | MalformedRequest, Buffer> {
  return (call) => {
    const request = call.request;
    if (request instanceof MalformedRequest) {
      call.emit("error", malformedStatus(request));
      return;
    }
    if (fn === undefined) {
      call.emit("error", { code: grpc.status.UNIMPLEMENTED, details: `${method.name} is not implemented` });
      return;
    }
    const context = handlerContext(service, method, call);
    const onCancel = () => context.abort(new ConnectError("call cancelled by the client", Code.Canceled));
    call.once("cancelled", onCancel);
    void (async () => {
      try {
        const responses = fn(request, context) as AsyncIterable<unknown>;
        for await (const response of responses) {
          if (call.cancelled) break;
          const bytes = asBuffer(toBinary(method.output, create(method.output, response as never)));
          // Backpressure: a slow reader holds the producer (and the store
          // cursor behind it) instead of growing an unbounded queue.
          if (!call.write(bytes)) await drainedOrCancelled(call);
        }
        if (!call.cancelled) call.end();
      } catch (error) {
        if (!call.cancelled) call.emit("error", statusFrom(error, method, logger));
      } finally {
        call.off("cancelled", onCancel);
        context.abort();
      }
    })();
  };
}

function drainedOrCancelled(call: grpc.ServerWritableStream<unknown, unknown>): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      call.off("drain", done);
      call.off("cancelled", done);
      resolve();
    };
    call.once("drain", done);
    call.once("cancelled", done);
  });
}

function handlerContext(
  service: DescService,
  method: DescMethod,
  call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>,
): ReturnType<typeof createHandlerContext> {
  const deadline = call.getDeadline();
  const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
  return createHandlerContext({
    service,
    method,
    protocolName: "grpc",
    requestMethod: "POST",
    url: call.getPath(),
    // grpc-js reports "no deadline" as Infinity.
    timeoutMs: Number.isFinite(deadlineMs) ? Math.max(0, deadlineMs - Date.now()) : undefined,
    requestHeader: headersFrom(call.metadata),
  });
}

/** gRPC metadata as fetch Headers; binary (`-bin`) values in their wire form, base64. */
function headersFrom(metadata: grpc.Metadata): [string, string][] {
  const entries: [string, string][] = [];
  const all = metadata.toJSON();
  for (const key in all) {
    if (key.charCodeAt(0) === 58 /* ":" */) continue;
    for (const value of all[key] ?? []) {
      entries.push([key, typeof value === "string" ? value : value.toString("base64")]);
    }
  }
  return entries;
}

function malformedStatus(request: MalformedRequest): Partial<grpc.StatusObject> {
  return { code: grpc.status.INVALID_ARGUMENT, details: `malformed request message: ${request.reason}` };
}

/** Connect codes are gRPC status numbers, so a ConnectError maps one to one. */
function statusFrom(error: unknown, method: DescMethod, logger: Logger): Partial<grpc.StatusObject> {
  if (error instanceof ConnectError) return { code: error.code as number, details: error.rawMessage };
  const requestId = randomUUID();
  logger.error({ err: error, requestId, rpc: method.name }, "unexpected error in gRPC transport");
  return { code: grpc.status.INTERNAL, details: `internal error (request id ${requestId})` };
}
