import { parentPort, workerData } from "node:worker_threads";
import { createCreditStatements } from "./credits.js";
import { openDatabase } from "./open-database.js";
import { type PackedUsage, unpackUsage } from "./packed-usage.js";
import { createUsageWriter } from "./usage-writer.js";
import type { WriterRequest, WriterResponse } from "./writer-protocol.js";

/**
 * The hot-path writer: usage flushes, credit spends and WAL checkpoints run on
 * this thread's own connection, so their transactions never stall the event
 * loop that answers VerifyKey. The main thread keeps the rare admin writes.
 */
const { path, checkpointIntervalMs } = workerData as { path: string; checkpointIntervalMs: number };
const db = openDatabase(path);
const writeUsage = createUsageWriter(db);
const credits = createCreditStatements(db);
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

port.on("message", (request: WriterRequest) => {
  let response: WriterResponse;
  try {
    switch (request.kind) {
      case "usage":
        writeUsage(unpackUsage(request.packed as PackedUsage));
        response = { id: request.id, ok: true, result: null };
        break;
      case "spend":
        response = { id: request.id, ok: true, result: credits.spendMany(request.spends) };
        break;
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
    response = { id: request.id, ok: false, error: error instanceof Error ? error.message : String(error) };
  }
  port.postMessage(response);
  if (request.kind === "close") port.close();
});
