import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { KeyServiceClient } from "../contract/service-client.js";
import { createCsvStringifier, type ExportResourceName, keyLogRow, keyRow } from "./csv.js";

/**
 * Export files on disk: `<data dir>/exports/<id>.csv`, written under a
 * temporary dot-name and renamed when complete, so that a reader (the
 * download route) never sees half a file and a retried job replaces rather
 * than adds. The gateway and the workers share this directory.
 */

export function exportsDir(dataDir: string): string {
  return join(dataDir, "exports");
}

/** Export ids are UUIDs; anything else never becomes part of a path. */
export function isSafeExportId(id: string): boolean {
  return /^[A-Za-z0-9-]{1,64}$/.test(id);
}

export function exportFilePath(dir: string, exportId: string): string {
  if (!isSafeExportId(exportId)) throw new Error("not an export id");
  return join(dir, `${exportId}.csv`);
}

export interface WrittenExport {
  path: string;
  rowCount: number;
  byteSize: number;
}

export interface WriteExportOptions {
  service: KeyServiceClient;
  exportId: string;
  resource: ExportResourceName;
  dir: string;
  /** Rows per streamed message, 1-1000; default 1000. */
  batchSize?: number;
  /** Deadline of the whole stream; a million rows take a while. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** How long one export stream may take by default. */
export const EXPORT_STREAM_TIMEOUT_MS = 30 * 60_000;

/**
 * Streams an export's rows from the service into its CSV file. Memory stays
 * flat: rows are pulled from the RPC stream only as fast as the file takes
 * them (the pipeline's backpressure pauses the HTTP response, which pauses
 * the service), and no more than a few batches are held at a time.
 */
export async function writeExportFile(options: WriteExportOptions): Promise<WrittenExport> {
  const { service, exportId, resource, dir } = options;
  const finalPath = exportFilePath(dir, exportId);
  await mkdir(dir, { recursive: true });
  const tempPath = join(dir, `.${exportId}.${randomBytes(6).toString("hex")}.tmp`);
  let rowCount = 0;

  // One batch (up to 1,000 rows) at a time: per-row async iteration costs more than the CSV itself.
  async function* batches() {
    const stream = service.streamExportRows(
      { id: exportId, batchSize: options.batchSize ?? 1000 },
      { timeoutMs: options.timeoutMs ?? EXPORT_STREAM_TIMEOUT_MS, signal: options.signal },
    );
    for await (const batch of stream) {
      rowCount += resource === "api_keys" ? batch.keys.length : batch.logs.length;
      yield resource === "api_keys" ? batch.keys.map(keyRow) : batch.logs.map(keyLogRow);
    }
  }
  const toRows = new Transform({
    objectMode: true,
    transform(rows: object[], _encoding, done) {
      for (const row of rows) this.push(row);
      done();
    },
  });

  try {
    await pipeline(
      Readable.from(batches()),
      toRows,
      createCsvStringifier(resource),
      // flush: fsync before close, so the rename below publishes a file that is on disk.
      createWriteStream(tempPath, { flags: "wx", mode: 0o600, flush: true }),
    );
    const { size } = await stat(tempPath);
    await rename(tempPath, finalPath);
    return { path: finalPath, rowCount, byteSize: size };
  } catch (error) {
    await rm(tempPath, { force: true });
    throw error;
  }
}

/** Removes an export's file, its temporary files and its mail receipts. Idempotent. */
export async function removeExportFiles(dir: string, exportId: string): Promise<boolean> {
  if (!isSafeExportId(exportId)) return false;
  let existed = false;
  try {
    await stat(exportFilePath(dir, exportId));
    existed = true;
  } catch {
    // already gone
  }
  let names: string[] = [];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const mine = names.filter((n) => n === `${exportId}.csv` || n.startsWith(`.${exportId}.`));
  await Promise.all(mine.map((n) => rm(join(dir, n), { force: true })));
  return existed;
}

/** A temporary file of a write in progress: `.<export id>.<random>.tmp`. */
function isTempFileOf(name: string, exportId?: string): boolean {
  return name.endsWith(".tmp") && name.startsWith(exportId === undefined ? "." : `.${exportId}.`);
}

async function namesIn(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
}

/**
 * Removes what earlier attempts of this export left: a worker killed
 * mid-write (kill -9, out of memory) never reaches its own cleanup. Called
 * when an attempt starts and when the export is given up; only one attempt
 * of an export runs at a time (the job's lock), so none of these is in use.
 */
export async function removeExportTempFiles(dir: string, exportId: string): Promise<number> {
  if (!isSafeExportId(exportId)) return 0;
  const mine = (await namesIn(dir)).filter((n) => isTempFileOf(n, exportId));
  await Promise.all(mine.map((n) => rm(join(dir, n), { force: true })));
  return mine.length;
}

/**
 * Removes every temporary file untouched for longer than any write may
 * take: an attempt starts before its file's last write and gives up after
 * EXPORT_STREAM_TIMEOUT_MS, so such a file belongs to nobody. For the
 * leftovers of exports that ended another way (a crashed gateway, an export
 * finished by a later run); run at worker start and by the maintenance sweep.
 */
export async function removeStaleTempFiles(
  dir: string,
  olderThanMs: number = EXPORT_STREAM_TIMEOUT_MS + 60_000,
  now: number = Date.now(),
): Promise<number> {
  let removed = 0;
  for (const name of (await namesIn(dir)).filter((n) => isTempFileOf(n))) {
    const path = join(dir, name);
    try {
      if (now - (await stat(path)).mtimeMs <= olderThanMs) continue;
      await rm(path, { force: true });
      removed++;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
  }
  return removed;
}
