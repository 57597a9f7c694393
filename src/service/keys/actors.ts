import type { Actor } from "./model.js";

/** The service acting on its own (sweeps, workers with the service credential). */
export const SERVICE_ACTOR: Actor = Object.freeze({ name: "service", keyId: null });

/** `keyward bootstrap`, creating the first admin key with the service credential. */
export const BOOTSTRAP_ACTOR: Actor = Object.freeze({ name: "bootstrap", keyId: null });

/**
 * Names only the service's own callers may act under: a person acting
 * through an admin key never appears in the audit log as one of these.
 */
export const RESERVED_ACTOR_NAMES: ReadonlySet<string> = new Set(["service", "bootstrap", "system", "keyward"]);

/** Whether `name` is reserved for the service itself (case and surrounding space ignored). */
export function isReservedActorName(name: string): boolean {
  return RESERVED_ACTOR_NAMES.has(name.trim().toLowerCase());
}
