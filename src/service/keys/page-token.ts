import { ValidationError } from "./errors.js";

/**
 * Opaque page tokens: base64url JSON of the last row's sort key. Opaque so
 * callers cannot depend on the shape; validated so a forged one is
 * INVALID_ARGUMENT, never a crash.
 */

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

export function pageSize(size: number | undefined): number {
  if (size === undefined || size === 0) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) {
    throw new ValidationError("page_size", `must be 1-${MAX_PAGE_SIZE}`);
  }
  return size;
}

export function encodePageToken(value: Record<string, string | number>): string {
  return Buffer.from(JSON.stringify(value), "utf8").toString("base64url");
}

function decode(token: string): Record<string, unknown> {
  if (token.length > 512 || !/^[A-Za-z0-9_-]+$/.test(token)) throw new ValidationError("page_token", "is not valid");
  try {
    const value: unknown = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    if (value && typeof value === "object" && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // fall through to the error below
  }
  throw new ValidationError("page_token", "is not valid");
}

/** A (createdAt, id) cursor, or undefined for the first page. */
export function decodeTimeCursor(token: string | undefined): { createdAt: number; id: string } | undefined {
  if (!token) return undefined;
  const value = decode(token);
  if (
    typeof value.t !== "number" ||
    !Number.isSafeInteger(value.t) ||
    typeof value.i !== "string" ||
    value.i.length > 64
  ) {
    throw new ValidationError("page_token", "is not valid");
  }
  return { createdAt: value.t, id: value.i };
}

export function encodeTimeCursor(row: { createdAt: number; id: string }): string {
  return encodePageToken({ t: row.createdAt, i: row.id });
}

/** A row-id cursor for logs and audit events. */
export function decodeIdCursor(token: string | undefined): number | undefined {
  if (!token) return undefined;
  const value = decode(token);
  if (typeof value.b !== "number" || !Number.isSafeInteger(value.b) || value.b < 0) {
    throw new ValidationError("page_token", "is not valid");
  }
  return value.b;
}

export function encodeIdCursor(id: number): string {
  return encodePageToken({ b: id });
}
