import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, type ContextValues, createContextValues, type HandlerContext } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";

type GrpcCall = grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>;

/** The abort reason once a call has ended normally; shared, as it carries nothing per call. */
const CALL_ENDED = new ConnectError("call ended", Code.Canceled);

/**
 * A Connect HandlerContext over a grpc-js call, built lazily. Connect's
 * createHandlerContext eagerly makes two AbortControllers, three Headers and
 * (when aborted without a reason) a DOMException with a stack: measured here,
 * several times the cost of a cached VerifyKey. VerifyKey reads none of it
 * unless KEYWARD_VERIFY_REQUIRES_AUTH is set, so each part is made on first
 * use and the hot path pays for nothing it does not touch.
 */
export class GrpcHandlerContext implements HandlerContext {
  readonly protocolName = "grpc";
  readonly requestMethod = "POST";
  #requestHeader: Headers | undefined;
  #responseHeader: Headers | undefined;
  #responseTrailer: Headers | undefined;
  #values: ContextValues | undefined;
  #controller: AbortController | undefined;
  #onCancel: (() => void) | undefined;

  constructor(
    readonly service: DescService,
    readonly method: DescMethod,
    private readonly call: GrpcCall,
  ) {}

  get url(): string {
    return this.call.getPath();
  }

  get requestHeader(): Headers {
    this.#requestHeader ??= headersFromMetadata(this.call.metadata);
    return this.#requestHeader;
  }

  get responseHeader(): Headers {
    this.#responseHeader ??= new Headers();
    return this.#responseHeader;
  }

  get responseTrailer(): Headers {
    this.#responseTrailer ??= new Headers();
    return this.#responseTrailer;
  }

  get values(): ContextValues {
    this.#values ??= createContextValues();
    return this.#values;
  }

  /** Aborted when the client cancels, when the deadline passes (grpc-js cancels the call then) and when the call ends. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      const controller = new AbortController();
      this.#controller = controller;
      if (this.call.cancelled) {
        controller.abort(this.#cancelReason());
      } else {
        this.#onCancel = () => controller.abort(this.#cancelReason());
        this.call.once("cancelled", this.#onCancel);
      }
    }
    return this.#controller.signal;
  }

  timeoutMs(): number | undefined {
    const deadline = deadlineMs(this.call);
    return deadline === undefined ? undefined : deadline - Date.now();
  }

  /** Response headers a handler set, as metadata to send before the first message; undefined when none. */
  responseMetadata(): grpc.Metadata | undefined {
    return this.#responseHeader === undefined ? undefined : metadataFromHeaders(this.#responseHeader);
  }

  /** Response trailers a handler set, as metadata; undefined when none. */
  trailerMetadata(): grpc.Metadata | undefined {
    return this.#responseTrailer === undefined ? undefined : metadataFromHeaders(this.#responseTrailer);
  }

  /** Ends the context: the signal, if anyone asked for it, aborts, and the cancel listener goes. */
  end(): void {
    if (this.#onCancel !== undefined) this.call.off("cancelled", this.#onCancel);
    if (this.#controller !== undefined && !this.#controller.signal.aborted) this.#controller.abort(CALL_ENDED);
  }

  #cancelReason(): ConnectError {
    const deadline = deadlineMs(this.call);
    return deadline !== undefined && Date.now() >= deadline
      ? new ConnectError("the deadline passed", Code.DeadlineExceeded)
      : new ConnectError("call cancelled by the client", Code.Canceled);
  }
}

/** grpc-js reports "no deadline" as Infinity. */
function deadlineMs(call: GrpcCall): number | undefined {
  const deadline = call.getDeadline();
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(ms) ? ms : undefined;
}

/** gRPC metadata as fetch Headers; binary (`-bin`) values in their wire form, base64. */
function headersFromMetadata(metadata: grpc.Metadata): Headers {
  const headers = new Headers();
  const all = metadata.toJSON();
  for (const key in all) {
    for (const value of all[key] ?? []) {
      headers.append(key, typeof value === "string" ? value : value.toString("base64"));
    }
  }
  return headers;
}

function metadataFromHeaders(headers: Headers): grpc.Metadata | undefined {
  let metadata: grpc.Metadata | undefined;
  headers.forEach((value, key) => {
    metadata ??= new grpc.Metadata();
    metadata.add(key, key.endsWith("-bin") ? Buffer.from(value, "base64") : value);
  });
  return metadata;
}
