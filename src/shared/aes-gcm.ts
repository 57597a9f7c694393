import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

/**
 * AES-256-GCM as Keyward uses it wherever it keeps something it must read
 * back but no one else should (a console session's token, a webhook signing
 * secret at rest): a fresh 12-byte iv each time, a 16-byte tag, and optional
 * additional data that must match at opening (what the sealed text belongs to).
 */
export interface AesGcmSealed {
  iv: Buffer;
  sealed: Buffer;
  tag: Buffer;
}

export const AES_GCM_IV_BYTES = 12;
export const AES_GCM_TAG_BYTES = 16;

export function sealAesGcm(plain: string, key: Buffer, additionalData?: Buffer): AesGcmSealed {
  const iv = randomBytes(AES_GCM_IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  if (additionalData) cipher.setAAD(additionalData);
  const sealed = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
  return { iv, sealed, tag: cipher.getAuthTag() };
}

/** The plain text; undefined when the key or the additional data is not the one it was sealed with, or the bytes were altered. */
export function openAesGcm(sealed: AesGcmSealed, key: Buffer, additionalData?: Buffer): string | undefined {
  try {
    // A tag of exactly 16 bytes: a shortened one (stored data altered) would make forgeries cheaper.
    const decipher = createDecipheriv("aes-256-gcm", key, sealed.iv, { authTagLength: AES_GCM_TAG_BYTES });
    if (additionalData) decipher.setAAD(additionalData);
    decipher.setAuthTag(sealed.tag);
    return Buffer.concat([decipher.update(sealed.sealed), decipher.final()]).toString("utf8");
  } catch {
    return undefined;
  }
}
