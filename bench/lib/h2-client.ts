/**
 * One HTTP/2 connection to a Keyward gRPC port, for the propagation trials of
 * bench/replicas.ts: CreateKey and DeleteKey with the service credential, and
 * VerifyKey, all over the same connection, so that with several service
 * processes behind one port (node:cluster hands out whole connections) every
 * call of one client lands on the same process. `localPort` names the
 * connection for /proc (see socketOwner in lib/procfs.ts).
 *
 * node:http2's client costs ~100 µs of CPU per call: fine for a few calls a
 * millisecond, not for load (that is loadgen.ts).
 */
import http2 from "node:http2";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  CreateKeyRequestSchema,
  CreateKeyResponseSchema,
  DeleteKeyRequestSchema,
} from "../../src/gen/keyward/v1/key_service_pb.js";
import { encodeVerifyRequest, grpcFrame, readVerifyCode, VERIFY_CODES, VERIFY_PATH } from "./wire.js";

const SERVICE = "/keyward.v1.KeyService";

export interface UnaryAnswer {
  grpcStatus: string;
  grpcMessage: string;
  /** The response message without the gRPC prefix (empty on error). */
  message: Buffer;
  /** performance.now() when the stream closed: the moment the answer was complete. */
  at: number;
}

export class H2Client {
  readonly session: http2.ClientHttp2Session;
  readonly ready: Promise<void>;

  constructor(
    readonly port: number,
    private readonly serviceToken: string,
    private readonly actor = "bench-replicas",
  ) {
    this.session = http2.connect(`http://127.0.0.1:${port}`);
    this.session.on("error", () => {});
    this.ready = new Promise((resolve, reject) => {
      this.session.once("connect", () => resolve());
      this.session.once("error", reject);
    });
  }

  /** The client side's port of this connection (after `ready`). */
  get localPort(): number {
    return this.session.socket.localPort as number;
  }

  unary(path: string, body: Uint8Array, admin: boolean, timeoutMs = 10_000): Promise<UnaryAnswer> {
    return new Promise((resolve, reject) => {
      const headers: http2.OutgoingHttpHeaders = {
        ":method": "POST",
        ":path": path,
        "content-type": "application/grpc",
        te: "trailers",
      };
      if (admin) {
        headers.authorization = `Bearer ${this.serviceToken}`;
        headers["keyward-actor"] = this.actor;
      }
      const stream = this.session.request(headers);
      let status = "";
      let message = "";
      const chunks: Buffer[] = [];
      const timer = setTimeout(() => {
        stream.close(http2.constants.NGHTTP2_CANCEL);
        reject(new Error(`${path}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      const read = (h: http2.IncomingHttpHeaders) => {
        if (h["grpc-status"] !== undefined) status = String(h["grpc-status"]);
        if (h["grpc-message"] !== undefined) message = decodeURIComponent(String(h["grpc-message"]));
      };
      stream.on("response", read);
      stream.on("trailers", read);
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      stream.on("close", () => {
        const at = performance.now();
        clearTimeout(timer);
        const bytes = Buffer.concat(chunks);
        const body = bytes.length >= 5 ? bytes.subarray(5, 5 + bytes.readUInt32BE(1)) : Buffer.alloc(0);
        resolve({ grpcStatus: status, grpcMessage: message, message: body, at });
      });
      stream.end(grpcFrame(body));
    });
  }

  async createKey(name: string): Promise<{ id: string; token: string }> {
    const answer = await this.unary(
      `${SERVICE}/CreateKey`,
      toBinary(CreateKeyRequestSchema, create(CreateKeyRequestSchema, { name })),
      true,
    );
    if (answer.grpcStatus !== "0") throw new Error(`CreateKey: grpc-status ${answer.grpcStatus} ${answer.grpcMessage}`);
    const response = fromBinary(CreateKeyResponseSchema, answer.message);
    return { id: response.key?.id ?? "", token: response.token };
  }

  /** Resolves with the moment the acknowledgement (grpc-status 0) arrived. */
  async deleteKey(id: string, reason: string): Promise<number> {
    const answer = await this.unary(
      `${SERVICE}/DeleteKey`,
      toBinary(DeleteKeyRequestSchema, create(DeleteKeyRequestSchema, { id, reason })),
      true,
    );
    if (answer.grpcStatus !== "0") throw new Error(`DeleteKey: grpc-status ${answer.grpcStatus} ${answer.grpcMessage}`);
    return answer.at;
  }

  /** VerifyKey's code name (or `grpc-<status>`) and when the answer arrived. */
  async verify(token: string): Promise<{ code: string; at: number }> {
    const answer = await this.unary(VERIFY_PATH, encodeVerifyRequest(token, false), false);
    if (answer.grpcStatus !== "0") return { code: `grpc-${answer.grpcStatus}`, at: answer.at };
    const code = readVerifyCode(answer.message, 0, answer.message.length);
    return { code: VERIFY_CODES[code] ?? String(code), at: answer.at };
  }

  close(): void {
    this.session.close();
  }
}
