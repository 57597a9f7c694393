import { isIP } from "node:net";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { Permission } from "../gen/keyward/v1/key_pb.js";
import { KeyService } from "../gen/keyward/v1/key_service_pb.js";
import {
  VerifyKeyRequestSchema,
  type VerifyKeyResponse,
  VerifyKeyResponseSchema,
} from "../gen/keyward/v1/verify_pb.js";
import { type KeyPermission, resultOf, type VerifyResult } from "./result.js";

export interface VerifierOptions {
  /**
   * Where the service's gRPC port is: `host:port` (DNS, every address it
   * resolves to), `dns:keyward.internal:50051`, or a fixed list such as
   * `ipv4:10.0.0.5:50051,10.0.0.6:50051`. Calls are spread round-robin over
   * every address that is up.
   */
  target: string;
  /** What a verification may take in all, retries included; default 250 ms. */
  deadlineMs?: number;
  /**
   * What `verify` answers when no replica answered within the deadline:
   * "deny" (valid false) or "allow" (valid true, `checked: false`). No default:
   * fail-open or fail-closed is a decision each caller makes.
   */
  onUnavailable: "deny" | "allow";
  /** Sent as `authorization: Bearer <token>`; needed when the service runs with KEYWARD_VERIFY_REQUIRES_AUTH=true. */
  serviceToken?: string;
  /** Extra metadata sent with every call. */
  metadata?: Record<string, string>;
  /** Channel credentials; default insecure (plaintext, as the service listens). */
  credentials?: grpc.ChannelCredentials;
  /** grpc-js channel options, merged over the verifier's own (e.g. keepalive). */
  channelOptions?: grpc.ChannelOptions;
}

/** What one request needs of its key, and what the service should log about it. */
export interface VerifyOptions {
  /** "FULL_ACCESS" refuses sending-access keys; unset accepts both. */
  permission?: KeyPermission;
  /** A key restricted to another domain fails with DOMAIN_MISMATCH. */
  domainId?: string;
  /** The key must carry every one of these (a key scope `read:*` grants `read:users`). */
  scopes?: readonly string[];
  /** Units of credit and rate limit this request spends; default 1, 0 allowed. */
  cost?: number;
  /** The key's rate limits to apply, by name; unset applies all of them. */
  ratelimits?: readonly string[];
  /** The end user's request, for the key's IP allowlist and its request log. Over-long fields are cut. */
  context?: VerifyContextInput;
  /** This call's deadline instead of the verifier's. */
  deadlineMs?: number;
}

export interface VerifyContextInput {
  /** The end user's IPv4 or IPv6 address; anything else is left out. */
  ip?: string;
  method?: string;
  path?: string;
  userAgent?: string;
  /** At most 10 tags (keys up to 64, values up to 256 characters). */
  tags?: Record<string, string>;
}

export interface Verifier {
  /** Verifies a token. Never throws: every outcome, an unreachable service included, is a result. */
  verify(token: string, options?: VerifyOptions): Promise<VerifyResult>;
  /** Closes the channel; verifications after this answer UNAVAILABLE. */
  close(): void;
  /** The underlying grpc-js client, for what this one does not cover. */
  readonly client: grpc.Client;
}

const SERVICE = KeyService.typeName;
const VERIFY_PATH = `/${SERVICE}/${KeyService.method.verifyKey.name}`;
/** Attempts after the first UNAVAILABLE that our own loop makes (gRPC's retry policy makes its own inside each). */
const MAX_ROUNDS = 4;
const ROUND_BACKOFF_MS = [5, 15, 40, 80];

/**
 * The channel's service config: round-robin over every resolved address, and
 * gRPC's own retry of VerifyKey on UNAVAILABLE (a replica that died or refused
 * the stream), each retry picking the next ready replica.
 */
export function verifierServiceConfig(): object {
  return {
    loadBalancingConfig: [{ round_robin: {} }],
    methodConfig: [
      {
        name: [{ service: SERVICE, method: "VerifyKey" }],
        retryPolicy: {
          maxAttempts: 3,
          initialBackoff: "0.005s",
          maxBackoff: "0.05s",
          backoffMultiplier: 2,
          retryableStatusCodes: ["UNAVAILABLE"],
        },
      },
    ],
  };
}

// The request is encoded once, before the first attempt; retries send the same bytes.
const passBytes = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
const decodeResponse = (bytes: Buffer): VerifyKeyResponse => fromBinary(VerifyKeyResponseSchema, bytes);

const LIMITS = { method: 16, path: 1024, userAgent: 512 } as const;
const cut = (value: string | undefined, max: number): string =>
  value === undefined ? "" : value.length > max ? value.slice(0, max) : value;

// The service refuses a context whose ip is not an address; leave such a value out instead.
const isIpAddress = (value: string): boolean => value.length <= 64 && isIP(value) !== 0;

/** The VerifyKeyRequest bytes for a token and its options. Throws only for a cost that is not a whole number. */
export function encodeVerifyRequest(token: string, options: VerifyOptions): Uint8Array {
  const ctx = options.context;
  const cost = options.cost;
  if (cost !== undefined && !Number.isSafeInteger(cost)) throw new RangeError("cost must be a whole number");
  const message = create(VerifyKeyRequestSchema, {
    token,
    requiredPermission:
      options.permission === "FULL_ACCESS"
        ? Permission.FULL_ACCESS
        : options.permission === "SENDING_ACCESS"
          ? Permission.SENDING_ACCESS
          : Permission.UNSPECIFIED,
    domainId: options.domainId ?? "",
    requiredScopes: options.scopes === undefined ? [] : [...options.scopes],
    ratelimits: options.ratelimits === undefined ? [] : [...options.ratelimits],
    cost: cost === undefined ? undefined : BigInt(cost),
    context:
      ctx === undefined
        ? undefined
        : {
            ip: ctx.ip !== undefined && isIpAddress(ctx.ip) ? ctx.ip : "",
            method: cut(ctx.method, LIMITS.method),
            path: cut(ctx.path, LIMITS.path),
            userAgent: cut(ctx.userAgent, LIMITS.userAgent),
            tags: ctx.tags ?? {},
          },
  });
  return toBinary(VerifyKeyRequestSchema, message);
}

const statusError = (code: grpc.status, details: string): Partial<grpc.ServiceError> => ({ code, details });

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A VerifyKey client over one long-lived grpc-js channel. Create it once per
 * process and share it; `verify` answers every outcome as a result.
 *
 * ```ts
 * const verifier = createVerifier({ target: "keyward:50051", onUnavailable: "deny" });
 * const result = await verifier.verify(token, { scopes: ["read:users"] });
 * if (!result.valid) return deny(result.code);
 * ```
 */
export function createVerifier(options: VerifierOptions): Verifier {
  if (options.onUnavailable !== "deny" && options.onUnavailable !== "allow") {
    throw new TypeError('createVerifier: onUnavailable must be "deny" or "allow"');
  }
  const deadlineMs = options.deadlineMs ?? 250;
  if (!(deadlineMs > 0)) throw new TypeError("createVerifier: deadlineMs must be more than 0");
  const allow = options.onUnavailable === "allow";

  const client = new grpc.Client(options.target, options.credentials ?? grpc.credentials.createInsecure(), {
    "grpc.service_config": JSON.stringify(verifierServiceConfig()),
    // Our service config is the one: no DNS TXT look-ups for another.
    "grpc.service_config_disable_resolution": 1,
    "grpc.enable_retries": 1,
    // A replica that went away is tried again soon, and never less often than every 5 s.
    "grpc.initial_reconnect_backoff_ms": 200,
    "grpc.max_reconnect_backoff_ms": 5_000,
    ...options.channelOptions,
  });
  // Connect now, so that the first verification does not wait for it.
  client.getChannel().getConnectivityState(true);

  const base = new grpc.Metadata();
  if (options.serviceToken !== undefined) base.set("authorization", `Bearer ${options.serviceToken}`);
  for (const [name, value] of Object.entries(options.metadata ?? {})) base.set(name, value);

  let closed = false;

  const unavailable = (reason: string): VerifyResult => ({ valid: allow, code: "UNAVAILABLE", checked: false, reason });

  const channel = client.getChannel();
  // One call straight on the channel (resolver, round-robin, retries and deadline are all the channel's):
  // the Client's interceptor layer, its per-call EventEmitter and the caller stack it captures cost about
  // a tenth of a round trip and give a unary call with no interceptors nothing.
  const call = (bytes: Uint8Array, deadline: number) =>
    new Promise<VerifyKeyResponse>((resolve, reject) => {
      const stream = channel.createCall(VERIFY_PATH, deadline, undefined, null, null);
      let answer: Buffer | undefined;
      stream.start(base.clone(), {
        onReceiveMetadata() {},
        onReceiveMessage(message: Buffer) {
          answer = message;
        },
        onReceiveStatus(status: grpc.StatusObject) {
          if (status.code !== grpc.status.OK) return reject(statusError(status.code, status.details));
          if (answer === undefined) return reject(statusError(grpc.status.INTERNAL, "no answer in the response"));
          try {
            resolve(decodeResponse(answer));
          } catch (error) {
            reject(statusError(grpc.status.INTERNAL, `the answer does not decode: ${(error as Error).message}`));
          }
        },
      });
      stream.startRead();
      stream.sendMessageWithContext({}, passBytes(bytes));
      stream.halfClose();
    });

  async function verify(token: string, verifyOptions: VerifyOptions = {}): Promise<VerifyResult> {
    const budget = verifyOptions.deadlineMs ?? deadlineMs;
    const end = Date.now() + budget;
    let bytes: Uint8Array;
    try {
      bytes = encodeVerifyRequest(token, verifyOptions);
    } catch (error) {
      return { valid: false, code: "ERROR", checked: false, reason: (error as Error).message };
    }
    let reason = "no attempt";
    for (let round = 0; ; round++) {
      if (closed) return unavailable("the verifier is closed");
      try {
        return resultOf(await call(bytes, end));
      } catch (error) {
        const e = error as Partial<grpc.ServiceError>;
        if (e.code === grpc.status.DEADLINE_EXCEEDED) return unavailable(`deadline exceeded after ${budget} ms`);
        if (e.code !== grpc.status.UNAVAILABLE && e.code !== grpc.status.CANCELLED) {
          if (closed) return unavailable("the verifier is closed");
          return { valid: false, code: "ERROR", checked: false, reason: e.details ?? String(error), grpcCode: e.code };
        }
        reason = e.details ?? "unavailable";
      }
      // UNAVAILABLE after gRPC's own retries: every replica it tried failed. Go round again while time is left.
      const left = end - Date.now();
      const pause = ROUND_BACKOFF_MS[round] ?? 0;
      if (round + 1 >= MAX_ROUNDS || left <= pause + 1) return unavailable(reason);
      await sleep(pause);
    }
  }

  return {
    client,
    verify,
    close() {
      closed = true;
      client.close();
    },
  };
}
