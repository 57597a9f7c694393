import { randomUUID } from "node:crypto";
import {
  create,
  type DescMessage,
  type DescMethod,
  type DescService,
  type Message,
  toBinary,
} from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { ConnectError } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import { asBuffer, MalformedRequest } from "./grpc-definition.js";
import { GrpcHandlerContext } from "./grpc-handler-context.js";
import { encodeVerifyKeyResponse } from "./verify-codec.js";

/** What a ServiceImpl method is, seen without its per-method types. */
type AnyMethodImpl = (request: Message, context: HandlerContext) => unknown;

/**
 * grpc-js handlers that run the Connect ServiceImpl, so one handler object
 * serves both transports. Each call gets a HandlerContext (request headers
 * from metadata, the deadline, a signal aborted when the caller cancels or
 * the call ends); a ConnectError becomes the gRPC status with the same code
 * number and its message; anything else is logged and answered INTERNAL with
 * only a request id.
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
    if (typeof fn !== "function") {
      handlers[method.localName] = unimplemented(method);
      continue;
    }
    const bound: AnyMethodImpl = fn.bind(impl);
    switch (method.methodKind) {
      case "unary":
        handlers[method.localName] = unaryHandler(service, method, bound, logger);
        break;
      case "server_streaming":
        handlers[method.localName] = serverStreamingHandler(service, method, bound, logger);
        break;
      default:
        // KeyService has no client or bidi streams; say so instead of hanging.
        handlers[method.localName] = unimplemented(method);
    }
  }
  return handlers;
}

function unaryHandler(
  service: DescService,
  method: DescMethod,
  fn: AnyMethodImpl,
  logger: Logger,
): grpc.handleUnaryCall<Message | MalformedRequest, Buffer> {
  return (call, callback) => {
    const request = call.request;
    if (request instanceof MalformedRequest) {
      callback(malformedStatus(request));
      return;
    }
    runUnary(new GrpcHandlerContext(service, method, call), fn, request, call, callback, logger);
  };
}

/** Answers in the same turn when the method does (a cached VerifyKey), else when its promise settles. */
function runUnary(
  context: GrpcHandlerContext,
  fn: AnyMethodImpl,
  request: Message,
  call: grpc.ServerUnaryCall<unknown, unknown>,
  callback: grpc.sendUnaryData<Buffer>,
  logger: Logger,
): void {
  let answer: unknown;
  try {
    answer = fn(request, context);
  } catch (error) {
    fail(context, error, callback, logger);
    return;
  }
  if (answer instanceof Promise) {
    answer.then(
      (response) => respond(context, response, call, callback, logger),
      (error: unknown) => fail(context, error, callback, logger),
    );
  } else {
    respond(context, answer, call, callback, logger);
  }
}

function respond(
  context: GrpcHandlerContext,
  response: unknown,
  call: grpc.ServerUnaryCall<unknown, unknown>,
  callback: grpc.sendUnaryData<Buffer>,
  logger: Logger,
): void {
  let bytes: Buffer;
  try {
    // Encoded here rather than by grpc-js, so that a failure to encode is
    // logged and answered like any other error.
    bytes = encodeResponse(context.method.output, response);
  } catch (error) {
    fail(context, error, callback, logger);
    return;
  }
  context.end();
  const header = context.responseMetadata();
  if (header !== undefined) call.sendMetadata(header);
  callback(null, bytes, context.trailerMetadata());
}

function fail(context: GrpcHandlerContext, error: unknown, callback: grpc.sendUnaryData<Buffer>, logger: Logger): void {
  context.end();
  callback({ ...statusFrom(error, context.method, logger), metadata: context.trailerMetadata() });
}

function serverStreamingHandler(
  service: DescService,
  method: DescMethod,
  fn: AnyMethodImpl,
  logger: Logger,
): grpc.handleServerStreamingCall<Message | MalformedRequest, Buffer> {
  return (call) => {
    const request = call.request;
    if (request instanceof MalformedRequest) {
      call.emit("error", malformedStatus(request));
      return;
    }
    void runServerStreaming(new GrpcHandlerContext(service, method, call), fn, request, call, logger);
  };
}

async function runServerStreaming(
  context: GrpcHandlerContext,
  fn: AnyMethodImpl,
  request: Message,
  call: grpc.ServerWritableStream<unknown, unknown>,
  logger: Logger,
): Promise<void> {
  const output = context.method.output;
  let headerSent = false;
  try {
    for await (const response of fn(request, context) as AsyncIterable<unknown>) {
      if (call.cancelled) break;
      const bytes = asBuffer(toBinary(output, create(output, response as never)));
      if (!headerSent) {
        headerSent = true;
        const header = context.responseMetadata();
        if (header !== undefined) call.sendMetadata(header);
      }
      // Backpressure: a slow reader holds the producer (and the store cursor
      // behind it) instead of growing an unbounded queue.
      if (!call.write(bytes)) await drainedOrCancelled(call);
    }
    if (!call.cancelled) call.end(context.trailerMetadata());
  } catch (error) {
    if (!call.cancelled) {
      call.emit("error", { ...statusFrom(error, context.method, logger), metadata: context.trailerMetadata() });
    }
  } finally {
    context.end();
  }
}

const encodeGeneric = (output: DescMessage, response: unknown): Buffer =>
  asBuffer(toBinary(output, create(output, response as never)));

/** The VerifyKey response has its own encoder (same bytes, a fraction of the cost). */
function encodeResponse(output: DescMessage, response: unknown): Buffer {
  if (output.typeName === "keyward.v1.VerifyKeyResponse") {
    return encodeVerifyKeyResponse(response as never, (r) => encodeGeneric(output, r));
  }
  return encodeGeneric(output, response);
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

function unimplemented(method: DescMethod) {
  const status = { code: grpc.status.UNIMPLEMENTED, details: `${method.name} is not implemented` };
  return (call: { emit(event: "error", status: unknown): unknown }, callback?: grpc.sendUnaryData<unknown>) => {
    if (callback) callback(status);
    else call.emit("error", status);
  };
}

function malformedStatus(request: MalformedRequest): Partial<grpc.StatusObject> {
  return { code: grpc.status.INVALID_ARGUMENT, details: `malformed request message: ${request.reason}` };
}

/** Connect codes are gRPC status numbers, so a ConnectError maps one to one. */
function statusFrom(error: unknown, method: DescMethod, logger: Logger): Partial<grpc.StatusObject> {
  if (error instanceof ConnectError) return { code: error.code as number, details: error.rawMessage };
  const requestId = randomUUID();
  logger.error({ err: error, requestId, rpc: method.name }, "unexpected error in the gRPC transport");
  return { code: grpc.status.INTERNAL, details: `internal error (request id ${requestId})` };
}
