import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { TRPCError } from "@trpc/server";
import { getHTTPStatusCodeFromError } from "@trpc/server/http";
import type { FastifyReply, FastifyRequest } from "fastify";
import { type Export, ExportState } from "../gen/keyward/v1/export_pb.js";
import { exportResourceWords } from "../shared/contract/enums.js";
import type { KeyServiceClient } from "../shared/contract/service-client.js";
import { exportFilePath, isSafeExportId, removeExportFiles } from "../shared/exports/export-files.js";
import { verifyExportLink } from "../shared/exports/links.js";
import type { Logger } from "../shared/logger.js";
import { authenticate, type Principal } from "./auth.js";
import { createHTTPContextFactory, type WebSession } from "./context.js";
import { errorAnswer, fromServiceError } from "./errors.js";

/** GET /exports/<id>/download: the one path this handler answers (the gateway routes every method here). */
export const EXPORT_DOWNLOAD_ROUTE = "/exports/:id/download";

export interface ExportDownloadDeps {
  service: KeyServiceClient;
  logger: Logger;
  /** <data dir>/exports, where the workers (and exports.create) write the files. */
  dir: string;
  linkSecret: Buffer;
  /** Milliseconds since the epoch; tests move it. */
  now?: () => number;
  /** The console's session of a request: a signed-in browser downloads without an Authorization header. */
  webSession?: (request: FastifyRequest, reply: FastifyReply) => WebSession;
}

/**
 * Serves an export's CSV to an admin holding a valid link. In this order:
 * the caller's admin key, from the Authorization header or the console's
 * session cookie (401 without one, or for a browser a redirect to the
 * console's sign-in page, which comes back here; 403 for a member), the link's
 * signature in constant time (403 when changed), the export's life (410 once
 * expired, and the file is deleted if the sweep has not yet), then the file.
 */
export function createExportDownloadHandler(deps: ExportDownloadDeps) {
  const contextOf = createHTTPContextFactory({ service: deps.service, logger: deps.logger });
  const now = deps.now ?? Date.now;

  return async function handleExportDownload(
    request: FastifyRequest<{ Params: { id: string } }>,
    res: FastifyReply,
  ): Promise<FastifyReply | undefined> {
    const req = request.raw;
    try {
      const url = new URL(req.url ?? "/", "http://gateway.invalid");
      if (req.method !== "GET" && req.method !== "HEAD") {
        return fail(res, 405, "METHOD_NOT_SUPPORTED", "use GET to download an export");
      }
      // Fastify has percent-decoded the segment (a malformed one never reaches here).
      const exportId = request.params.id;
      if (!exportId || !isSafeExportId(exportId)) return fail(res, 404, "NOT_FOUND", "no such export");

      let principal: Principal;
      try {
        principal = await authenticate(contextOf({ req, web: deps.webSession?.(request, res) }));
      } catch (error) {
        // A mail's link opened in a browser, signed out: the console signs in, then comes back here.
        if (error instanceof TRPCError && error.code === "UNAUTHORIZED" && !req.headers.authorization) {
          if (/\btext\/html\b/i.test(req.headers.accept ?? "")) {
            const next = `${url.pathname}${url.search}`;
            return res
              .code(303)
              .header("location", `/sign-in?next=${encodeURIComponent(next)}`)
              .send();
          }
        }
        throw error;
      }
      if (principal.role !== "admin") {
        return fail(res, 403, "FORBIDDEN", "only admins can download exports; this key is a member key");
      }
      const link = verifyExportLink(deps.linkSecret, {
        exportId,
        expires: url.searchParams.get("expires"),
        sig: url.searchParams.get("sig"),
      });
      if (!link.ok)
        return fail(res, 403, "FORBIDDEN", "this download link is not valid: it was changed or not issued by Keyward");

      const record = await getExport(deps.service, exportId);
      if (!record) return fail(res, 404, "NOT_FOUND", `export ${exportId} does not exist`);
      const expiresAt = Math.min(
        link.expiresAtMs,
        record.expireTime ? timestampDate(record.expireTime).getTime() : Infinity,
      );
      if (record.state === ExportState.EXPIRED || now() >= expiresAt) {
        // The sweep deletes expired files; an early request does it first, so "expired" always means "gone".
        await removeExportFiles(deps.dir, exportId);
        return fail(res, 410, "GONE", "this export has expired and its file has been deleted; ask for a new export");
      }
      if (record.state !== ExportState.READY) {
        const state = record.state === ExportState.FAILED ? `failed: ${record.error}` : "is still being produced";
        return fail(res, 409, "CONFLICT", `this export ${state}`);
      }
      // Returned: an async handler that sends a stream must return the reply, or Fastify ends the answer empty.
      return await sendFile(req, res, deps, record, principal);
    } catch (error) {
      const mapped = fromServiceError(error, deps.logger);
      if (mapped instanceof TRPCError) {
        return fail(res, getHTTPStatusCodeFromError(mapped), mapped.code, mapped.message);
      }
      deps.logger.error({ err: error }, "export download failed");
      if (!res.sent) return fail(res, 500, "INTERNAL_SERVER_ERROR", "the download failed");
      res.raw.destroy();
      return undefined;
    }
  };
}

async function sendFile(
  req: FastifyRequest["raw"],
  res: FastifyReply,
  deps: ExportDownloadDeps,
  record: Export,
  principal: Principal,
): Promise<FastifyReply> {
  const path = exportFilePath(deps.dir, record.id);
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch {
    // READY in the service but not on this disk: the gateway and the workers do not share KEYWARD_DATA_DIR.
    deps.logger.error(
      { exportId: record.id, path },
      "export is READY but its file is missing from this gateway's data dir",
    );
    return fail(res, 404, "NOT_FOUND", "the export's file is not on this server");
  }
  const resource = exportResourceWords.word(record.resource) ?? "export";
  res.code(200).headers({
    "content-type": "text/csv; charset=utf-8",
    "content-disposition": `attachment; filename="keyward-${resource}-${record.id}.csv"`,
    "content-length": size,
  });
  deps.logger.info({ exportId: record.id, by: principal.email, bytes: size }, "export downloaded");
  if (req.method === "HEAD") return res.send();
  const file = createReadStream(path);
  // Fastify ends the answer if the file fails mid-way; the reason is ours to log.
  file.once("error", (error) => deps.logger.error({ err: error, exportId: record.id }, "export download failed"));
  return res.send(file);
}

async function getExport(service: KeyServiceClient, id: string): Promise<Export | undefined> {
  try {
    return (await service.getExport({ id })).export;
  } catch (error) {
    if (error instanceof ConnectError && error.code === Code.NotFound) return undefined;
    throw error;
  }
}

function fail(res: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return res.code(status).send(errorAnswer(status, code, message));
}
