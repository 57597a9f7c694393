import { parentPort, workerData } from "node:worker_threads";
import { ConflictError, NotFoundError } from "../../keys/errors.js";
import { openDatabase } from "./open-database.js";
import { type PackedUsage, unpackUsage } from "./packed-usage.js";
import { createStoreWrites } from "./store-writes.js";
import type { WriterFailure, WriterRequest, WriterResponse } from "./writer-protocol.js";

/**
 * The store's one writer: every write (admin changes with their audit rows,
 * usage flushes, credit spends and refills, sweeps) and the WAL checkpoints
 * run on this thread's own connection, one at a time. The event loop that
 * answers VerifyKey never waits on an fsync or on another writer's lock.
 */
const { path, checkpointIntervalMs } = workerData as { path: string; checkpointIntervalMs: number };
const db = openDatabase(path);
const writes = createStoreWrites(db);
const port = parentPort;
if (port === null) throw new Error("writer-thread must run as a worker");

function checkpoint(): void {
  db.pragma("wal_checkpoint(TRUNCATE)");
}

// A checkpoint that fails (a reader holds the WAL) is retried at the next tick.
const timer = setInterval(() => {
  try {
    checkpoint();
  } catch {}
}, checkpointIntervalMs);

function failure(error: unknown): WriterFailure {
  if (error instanceof NotFoundError) return { message: error.message, notFound: { what: error.what, id: error.id } };
  if (error instanceof ConflictError) return { message: error.message, conflict: true };
  return { message: error instanceof Error ? error.message : String(error) };
}

port.on("message", (request: WriterRequest) => {
  let response: WriterResponse;
  try {
    switch (request.kind) {
      case "usage":
        writes.applyUsage(unpackUsage(request.packed as PackedUsage));
        response = { id: request.id, ok: true, result: null };
        break;
      case "write": {
        const write = writes[request.op] as (...args: unknown[]) => unknown;
        response = { id: request.id, ok: true, result: write(...request.args) ?? null };
        break;
      }
      case "checkpoint":
        checkpoint();
        response = { id: request.id, ok: true, result: null };
        break;
      case "close":
        clearInterval(timer);
        try {
          checkpoint();
        } catch {}
        db.close();
        response = { id: request.id, ok: true, result: null };
        break;
    }
  } catch (error) {
    response = { id: request.id, ok: false, error: failure(error) };
  }
  port.postMessage(response);
  if (request.kind === "close") port.close();
});
