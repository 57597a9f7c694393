import type { PackedUsage } from "./packed-usage.js";

/** Messages between the store and its writer thread. */
export type WriterRequest =
  | { id: number; kind: "usage"; packed: PackedUsage }
  | { id: number; kind: "spend"; spends: readonly { keyId: string; cost: number }[] }
  | { id: number; kind: "checkpoint" }
  | { id: number; kind: "close" };

export type WriterResponse =
  | { id: number; ok: true; result: null | (number | null)[] }
  | { id: number; ok: false; error: string };
