import type { DescMethodServerStreaming, DescMethodUnary, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";
import { KeyService } from "../../src/gen/keyward/v1/key_service_pb.js";
import { createGrpcServiceDefinition } from "../../src/service/transport/grpc-definition.js";

type Methods = (typeof KeyService)["method"];
export type MethodName = keyof Methods;
export type UnaryMethodName = {
  [K in MethodName]: Methods[K] extends DescMethodUnary ? K : never;
}[MethodName];
export type StreamMethodName = {
  [K in MethodName]: Methods[K] extends DescMethodServerStreaming ? K : never;
}[MethodName];
export type RequestOf<K extends MethodName> = MessageInitShape<Methods[K]["input"]>;
export type ResponseOf<K extends MethodName> = MessageShape<Methods[K]["output"]>;

/** Per-call metadata, merged over the client's defaults; `undefined` removes a default (e.g. the token). */
export type CallMetadata = Record<string, string | undefined>;

export interface KeyServiceGrpcClient {
  /** A unary RPC by its local name: `await client.unary("createKey", { name: "x" })`. Rejects with the grpc ServiceError. */
  unary<K extends UnaryMethodName>(
    method: K,
    request: RequestOf<K>,
    metadata?: CallMetadata,
    options?: grpc.CallOptions,
  ): Promise<ResponseOf<K>>;
  /** A server-streaming RPC; iteration throws the grpc ServiceError. */
  stream<K extends StreamMethodName>(
    method: K,
    request: RequestOf<K>,
    metadata?: CallMetadata,
    options?: grpc.CallOptions,
  ): AsyncIterable<ResponseOf<K>>;
  /** Sends `bytes` as the request message as is, and resolves with the response bytes: for malformed input. */
  raw(method: UnaryMethodName, bytes: Uint8Array, metadata?: CallMetadata, options?: grpc.CallOptions): Promise<Buffer>;
  /** `raw` for a server-streaming RPC: resolves with every response message's bytes, rejects with the status. */
  rawStream(
    method: StreamMethodName,
    bytes: Uint8Array,
    metadata?: CallMetadata,
    options?: grpc.CallOptions,
  ): Promise<Buffer[]>;
  /** grpc.health.v1.Health/Check; resolves with the status name, e.g. "SERVING". */
  health(service?: string): Promise<string>;
  /** The underlying grpc-js client, for what the helpers do not cover. */
  readonly client: grpc.Client;
  close(): void;
}

const definition = createGrpcServiceDefinition(KeyService);
const identity = (bytes: Buffer) => bytes;

/**
 * A typed, promise-based grpc-js client of keyward.v1.KeyService for tests,
 * built from the same protobuf-es descriptor the server uses. `token` is sent
 * as `authorization: Bearer <token>`, `actor` as `keyward-actor`.
 */
export function createKeyServiceGrpcClient(
  address: string,
  options: { token?: string; actor?: string; channelOptions?: grpc.ChannelOptions } = {},
): KeyServiceGrpcClient {
  const client = new grpc.Client(address, grpc.credentials.createInsecure(), options.channelOptions);
  const defaults: CallMetadata = {};
  if (options.token !== undefined) defaults.authorization = `Bearer ${options.token}`;
  if (options.actor !== undefined) defaults["keyward-actor"] = options.actor;

  const metadataFor = (extra: CallMetadata = {}) => {
    const metadata = new grpc.Metadata();
    for (const [key, value] of Object.entries({ ...defaults, ...extra })) {
      if (value !== undefined) metadata.set(key, value);
    }
    return metadata;
  };

  const methodOf = (name: MethodName) => {
    const method = definition[name];
    if (method === undefined) throw new Error(`no method ${String(name)}`);
    return method;
  };

  return {
    client,
    unary(name, request, metadata, callOptions = {}) {
      const method = methodOf(name);
      const message = create(KeyService.method[name].input, request as never);
      return new Promise((resolve, reject) => {
        client.makeUnaryRequest(
          method.path,
          method.requestSerialize,
          method.responseDeserialize,
          message,
          metadataFor(metadata),
          callOptions,
          (error, response) => (error ? reject(error) : resolve(response as never)),
        );
      });
    },
    stream(name, request, metadata, callOptions = {}) {
      const method = methodOf(name);
      const message = create(KeyService.method[name].input, request as never);
      return client.makeServerStreamRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        message,
        metadataFor(metadata),
        callOptions,
      ) as AsyncIterable<never>;
    },
    raw(name, bytes, metadata, callOptions = {}) {
      const method = methodOf(name);
      return new Promise((resolve, reject) => {
        client.makeUnaryRequest(
          method.path,
          (b: Uint8Array) => Buffer.from(b),
          identity,
          bytes,
          metadataFor(metadata),
          callOptions,
          (error, response) => (error ? reject(error) : resolve(response as Buffer)),
        );
      });
    },
    rawStream(name, bytes, metadata, callOptions = {}) {
      const method = methodOf(name);
      const call = client.makeServerStreamRequest(
        method.path,
        (b: Uint8Array) => Buffer.from(b),
        identity,
        bytes,
        metadataFor(metadata),
        callOptions,
      );
      const messages: Buffer[] = [];
      return new Promise((resolve, reject) => {
        call.on("data", (message: Buffer) => messages.push(message));
        call.on("error", reject);
        call.on("end", () => resolve(messages));
      });
    },
    health(service = "") {
      const check = healthService.Check;
      if (check === undefined) throw new Error("grpc-health-check has no Check method");
      return new Promise((resolve, reject) => {
        client.makeUnaryRequest(
          check.path,
          check.requestSerialize,
          check.responseDeserialize,
          { service },
          new grpc.Metadata(),
          (error, response) => (error ? reject(error) : resolve(String((response as { status: unknown }).status))),
        );
      });
    },
    close() {
      client.close();
    },
  };
}
