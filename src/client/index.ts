/**
 * keyward/client: verify API keys from a service, over gRPC.
 *
 * ```ts
 * import { createVerifier } from "keyward/client";
 * const verifier = createVerifier({ target: "keyward:50051", onUnavailable: "deny" });
 * const result = await verifier.verify(token, { scopes: ["read:users"] });
 * ```
 *
 * Middlewares: keyward/client/express, keyward/client/fastify,
 * keyward/client/hono, keyward/client/connect. See docs/clients.md.
 */
export {
  createGuard,
  denialOf,
  type ErrorBody,
  type Guard,
  type GuardOutcome,
  type HttpDenial,
  httpStatusOf,
  type KeyRequirements,
  type MiddlewareOptions,
  type RequestFacts,
  tokenFrom,
} from "./http.js";
export type {
  ErrorResult,
  InvalidResult,
  KeyFailureCode,
  KeyPermission,
  KeywardKey,
  PassedVerification,
  RateLimitInfo,
  UnavailableResult,
  ValidResult,
  VerifyResult,
  VerifyResultCode,
} from "./result.js";
export {
  createVerifier,
  encodeVerifyRequest,
  type Verifier,
  type VerifierOptions,
  type VerifyContextInput,
  type VerifyOptions,
  verifierServiceConfig,
} from "./verifier.js";
