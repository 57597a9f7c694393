import { type DescMessage, type DescService, fromBinary, type Message, toBinary } from "@bufbuild/protobuf";
import type * as grpc from "@grpc/grpc-js";
import { decodeFailure } from "./decode-failure.js";
import { decodeVerifyKeyRequest } from "./verify-codec.js";

/**
 * What the server's deserializer hands the handler when the request bytes are
 * not a valid message. grpc-js answers INTERNAL when a deserializer throws;
 * the contract says a bad input is INVALID_ARGUMENT, so the deserializer never
 * throws and the call adapter answers for it.
 */
export class MalformedRequest {
  constructor(readonly reason: string) {}
}

/** A Uint8Array as a Buffer over the same memory (Buffer.from(u8) would copy). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function serializer(schema: DescMessage) {
  // Already-encoded bytes pass through: the server adapter encodes inside its
  // own try so that an encoding failure is logged and answered as INTERNAL.
  return (value: unknown): Buffer => asBuffer(value instanceof Uint8Array ? value : toBinary(schema, value as Message));
}

/**
 * The grpc-js ServiceDefinition of a protobuf-es service descriptor, for
 * servers and clients alike: paths `/<package.Service>/<Method>`, binary
 * protobuf serializers, implementation names the methods' local names
 * (`createKey`), as ServiceImpl has them.
 */
export function createGrpcServiceDefinition(service: DescService): grpc.ServiceDefinition {
  const definition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methods) {
    const kind = method.methodKind;
    definition[method.localName] = {
      path: `/${service.typeName}/${method.name}`,
      originalName: method.localName,
      requestStream: kind === "client_streaming" || kind === "bidi_streaming",
      responseStream: kind === "server_streaming" || kind === "bidi_streaming",
      requestSerialize: serializer(method.input),
      requestDeserialize: (bytes: Buffer) => {
        try {
          // The hot path has its own decoder (same results, a fraction of the cost).
          return method.input.typeName === "keyward.v1.VerifyKeyRequest"
            ? decodeVerifyKeyRequest(bytes)
            : fromBinary(method.input, bytes);
        } catch (error) {
          return new MalformedRequest(decodeFailure(error));
        }
      },
      responseSerialize: serializer(method.output),
      responseDeserialize: (bytes: Buffer) => fromBinary(method.output, bytes),
    };
  }
  return definition;
}
