import { AES_GCM_IV_BYTES, AES_GCM_TAG_BYTES, openAesGcm, sealAesGcm } from "../../shared/aes-gcm.js";

/**
 * Webhook signing secrets at rest: `kwsealed1:<base64url(iv | tag | ciphertext)>`,
 * AES-256-GCM under KEYWARD_SECRETS_KEY with the endpoint's id as additional
 * data, so a sealed secret copied into another endpoint's row does not open.
 * Without a key secrets are kept as they come (plain text), and a plain
 * text read back is used as is: sealing is the operator's choice.
 */
export const SEALED_PREFIX = "kwsealed1:";

/** `stale`: opened with a KEYWARD_SECRETS_KEY_PREVIOUS key, so the next start seals it again under the current one. */
export type OpenedSecret = { ok: true; secret: string; stale: boolean } | { ok: false; reason: string };

export interface SecretSealer {
  /** Whether a key is set, so that seal() seals. */
  readonly sealing: boolean;
  /** The secret as the store keeps it: sealed with the key, or plain without one. */
  seal(endpointId: string, secret: string): string;
  /** The secret a stored text holds; a reason (never the secret or the key) when it cannot be opened. */
  open(endpointId: string, stored: string): OpenedSecret;
}

export function isSealed(stored: string): boolean {
  return stored.startsWith(SEALED_PREFIX);
}

/**
 * `keyBase64`: KEYWARD_SECRETS_KEY as config.ts validated it (32 bytes), or
 * undefined; `previousBase64`: KEYWARD_SECRETS_KEY_PREVIOUS, keys that still
 * open what they sealed (a rotation under way) but never seal.
 */
export function createSecretSealer(
  keyBase64: string | undefined,
  previousBase64: readonly string[] = [],
): SecretSealer {
  const key = keyBase64 === undefined ? undefined : Buffer.from(keyBase64, "base64");
  const previous = previousBase64.map((text) => Buffer.from(text, "base64"));
  return {
    sealing: key !== undefined,
    seal(endpointId, secret) {
      if (key === undefined) return secret;
      const { iv, tag, sealed } = sealAesGcm(secret, key, Buffer.from(endpointId, "utf8"));
      return `${SEALED_PREFIX}${Buffer.concat([iv, tag, sealed]).toString("base64url")}`;
    },
    open(endpointId, stored) {
      if (!isSealed(stored)) return { ok: true, secret: stored, stale: false };
      if (key === undefined) {
        return { ok: false, reason: "the endpoint's secret is sealed but KEYWARD_SECRETS_KEY is not set" };
      }
      const bytes = Buffer.from(stored.slice(SEALED_PREFIX.length), "base64url");
      if (bytes.length > AES_GCM_IV_BYTES + AES_GCM_TAG_BYTES) {
        const parts = {
          iv: bytes.subarray(0, AES_GCM_IV_BYTES),
          tag: bytes.subarray(AES_GCM_IV_BYTES, AES_GCM_IV_BYTES + AES_GCM_TAG_BYTES),
          sealed: bytes.subarray(AES_GCM_IV_BYTES + AES_GCM_TAG_BYTES),
        };
        const aad = Buffer.from(endpointId, "utf8");
        for (const [index, candidate] of [key, ...previous].entries()) {
          const opened = openAesGcm(parts, candidate, aad);
          if (opened !== undefined) return { ok: true, secret: opened, stale: index > 0 };
        }
      }
      return {
        ok: false,
        reason: "the endpoint's secret is sealed with another KEYWARD_SECRETS_KEY (or for another endpoint)",
      };
    },
  };
}
