import type { PackedUsage } from "./packed-usage.js";
import type { WriteOp } from "./store-writes.js";

/** Messages between the store and its writer thread. */
export type WriterRequest =
  | { id: number; kind: "usage"; packed: PackedUsage }
  | { id: number; kind: "write"; op: WriteOp; args: unknown[] }
  | { id: number; kind: "checkpoint" }
  | { id: number; kind: "close" };

/**
 * A failed write: its message, and what was not found or found changed when
 * that was the reason (rethrown as NotFoundError or ConflictError).
 */
export interface WriterFailure {
  message: string;
  notFound?: { what: string; id: string };
  conflict?: true;
}

export type WriterResponse =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: WriterFailure };
