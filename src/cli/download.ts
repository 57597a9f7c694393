import { createWriteStream } from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { CliError } from "./errors.js";

/**
 * Saves an export's CSV from its signed download link to `file`, which must
 * not exist yet (an earlier export is never overwritten). The link works for
 * an admin's key only, sent as in every call. Resolves with the bytes written.
 */
export async function downloadTo(url: string, token: string, file: string): Promise<number> {
  const res = await fetch(url, {
    headers: { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(120_000),
  });
  if (!res.ok || res.body === null) {
    throw new CliError(`the download failed: the gateway answered ${res.status}`);
  }
  let bytes = 0;
  const out = createWriteStream(file, { flags: "wx" });
  try {
    await pipeline(
      Readable.fromWeb(res.body as WebReadableStream<Uint8Array>).on("data", (chunk: Buffer) => {
        bytes += chunk.length;
      }),
      out,
    );
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") {
      throw new CliError(`${file} exists already: choose another file with --output`);
    }
    throw error;
  }
  return bytes;
}
