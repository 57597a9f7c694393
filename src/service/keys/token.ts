import { hash, randomBytes } from "node:crypto";
import { crc32 } from "node:zlib";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const RANDOM_LENGTH = 32; // 32 base62 characters carry 190 bits.
const CHECKSUM_LENGTH = 6; // 62^6 > 2^32, so any CRC32 fits.
const TOKEN_SHAPE = /^[a-z][a-z0-9]{0,15}_[0-9A-Za-z]{38}$/;
const MAX_TOKEN_LENGTH = 16 + 1 + RANDOM_LENGTH + CHECKSUM_LENGTH;

function base62Fixed(value: number, length: number): string {
  let out = "";
  let rest = value;
  for (let i = 0; i < length; i++) {
    out = ALPHABET[rest % 62] + out;
    rest = Math.floor(rest / 62);
  }
  return out;
}

function randomBase62(length: number): string {
  let out = "";
  while (out.length < length) {
    // Rejection sampling: bytes >= 248 would bias the modulo.
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248 && out.length < length) out += ALPHABET[byte % 62];
    }
  }
  return out;
}

function checksum(randomPart: string): string {
  return base62Fixed(crc32(randomPart), CHECKSUM_LENGTH);
}

/** A new token `<prefix>_<32 random base62><6 base62 of CRC32 of the random part>`. */
export function generateToken(prefix: string): string {
  const randomPart = randomBase62(RANDOM_LENGTH);
  return `${prefix}_${randomPart}${checksum(randomPart)}`;
}

/**
 * True when the token has the shape and a correct checksum. Any prefix is
 * accepted, so that changing KEYWARD_TOKEN_PREFIX does not break old keys.
 */
export function isWellFormedToken(token: string): boolean {
  if (token.length > MAX_TOKEN_LENGTH || !TOKEN_SHAPE.test(token)) return false;
  const body = token.slice(token.lastIndexOf("_") + 1);
  return checksum(body.slice(0, RANDOM_LENGTH)) === body.slice(RANDOM_LENGTH);
}

/** The stored form: hex SHA-256. */
export function hashToken(token: string): string {
  return hash("sha256", token, "hex");
}

/** A display form, e.g. `kw_Ab12…x9Yz`: the prefix, 4 random characters and the last 4. */
export function tokenHint(token: string): string {
  const underscore = token.lastIndexOf("_");
  return `${token.slice(0, underscore + 5)}…${token.slice(-4)}`;
}
