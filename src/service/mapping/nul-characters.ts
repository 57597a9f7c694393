import { ValidationError } from "../keys/errors.js";

const snake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/**
 * Refuses a request that holds U+0000 anywhere in its strings (names,
 * reasons, filters, claims), naming the field. PostgreSQL's text cannot
 * store it, and a value that one store keeps and the other refuses would
 * make the two answer differently; nobody names a key with a NUL.
 */
export function rejectNulCharacters(message: unknown): void {
  const found = findNul(message, "");
  if (found !== undefined) throw new ValidationError(found || "request", "must not contain the character U+0000");
}

function findNul(value: unknown, path: string): string | undefined {
  if (typeof value === "string") return value.includes("\u0000") ? path : undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findNul(value[i], `${path}[${i}]`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (value !== null && typeof value === "object" && !(value instanceof Uint8Array)) {
    // Message fields are named as in the proto; a Struct's own keys as they are.
    const isMessage = "$typeName" in value;
    for (const [key, inner] of Object.entries(value)) {
      if (key === "$typeName") continue;
      if (key.includes("\u0000")) return path || "request";
      const name = isMessage ? snake(key) : key;
      const found = findNul(inner, path ? `${path}.${name}` : name);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}
