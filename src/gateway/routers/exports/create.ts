import { timestampDate } from "@bufbuild/protobuf/wkt";
import { ConnectError } from "@connectrpc/connect";
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { ExportMailState, ExportState } from "../../../gen/keyward/v1/export_pb.js";
import {
  EXPORT_RESOURCE_WORDS,
  toExportResource,
  toKeyStatus,
  toPermission,
  toVerifyCode,
} from "../../../shared/contract/enums.js";
import { exportJson, required } from "../../../shared/contract/json.js";
import { asPrincipal } from "../../../shared/contract/service-client.js";
import { writeExportFile } from "../../../shared/exports/export-files.js";
import { failureText } from "../../../shared/exports/failure-text.js";
import { exportDownloadUrl } from "../../../shared/exports/links.js";
import { adminProcedure } from "../../auth.js";
import { ExportQueueUnavailableError, gatewayExportsFor } from "../../export-queue.js";
import { defined, timestamp } from "../../request.js";
import {
  DomainIdSchema,
  IdSchema,
  KeyStatusSchema,
  PermissionSchema,
  SubjectSchema,
  TimeSchema,
  VerifyCodeSchema,
} from "../../schemas.js";

/** Up to this many rows the CSV is written during the request; above, a worker writes it and mails a link. */
export const IMMEDIATE_EXPORT_MAX_ROWS = 1000;

/** The immediate path reads at most 1,000 rows; this bounds it well above the usual second. */
const IMMEDIATE_STREAM_TIMEOUT_MS = 60_000;

const KEY_FILTERS = ["status", "permission", "subject", "domainId", "nameContains"] as const;
const LOG_FILTERS = ["keyId", "code", "from", "to"] as const;

export const ExportFiltersInputSchema = z.strictObject({
  // api_keys
  status: KeyStatusSchema.optional(),
  permission: PermissionSchema.optional(),
  subject: SubjectSchema.optional(),
  domainId: DomainIdSchema.optional(),
  nameContains: z.string().trim().min(1, "must not be empty").max(100, "must be at most 100 characters").optional(),
  // key_logs
  keyId: IdSchema.optional(),
  code: VerifyCodeSchema.optional(),
  from: TimeSchema.optional(),
  to: TimeSchema.optional(),
});

export const CreateExportInputSchema = z
  .strictObject({
    resource: z.enum(EXPORT_RESOURCE_WORDS, "must be api_keys or key_logs"),
    filters: ExportFiltersInputSchema.optional(),
  })
  .superRefine((input, ctx) => {
    // A filter of the other resource would be silently ignored by the service: refuse it instead.
    const foreign = input.resource === "api_keys" ? LOG_FILTERS : KEY_FILTERS;
    for (const name of foreign) {
      if (input.filters?.[name] !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["filters", name],
          message: `does not apply to ${input.resource} exports`,
        });
      }
    }
    const { from, to } = input.filters ?? {};
    if (from !== undefined && to !== undefined && Date.parse(from) >= Date.parse(to)) {
      ctx.addIssue({ code: "custom", path: ["filters", "from"], message: "must be before filters.to" });
    }
  });

/**
 * exports.create (admins only). At most 1,000 matching rows: the CSV is
 * written now and the answer carries `downloadUrl`. More: the export stays
 * PENDING, a worker writes it and mails the admin a link; `downloadUrl` is
 * null. With the job queue (Redis) down, a large export is refused with 503
 * at once, and its record is marked FAILED rather than left pending.
 */
export const create = adminProcedure.input(CreateExportInputSchema).mutation(async ({ ctx, input }) => {
  const parts = gatewayExportsFor(ctx.service);
  if (!parts) {
    throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: "exports are not set up in this gateway" });
  }
  const f = input.filters ?? {};
  const created = await ctx.service.createExport(
    {
      resource: toExportResource(input.resource),
      filters: defined({
        status: f.status && toKeyStatus(f.status),
        permission: f.permission && toPermission(f.permission),
        subject: f.subject,
        domainId: f.domainId,
        nameContains: f.nameContains,
        keyId: f.keyId,
        code: f.code && toVerifyCode(f.code),
        fromTime: timestamp(f.from),
        toTime: timestamp(f.to),
      }),
    },
    asPrincipal(ctx.principal),
  );
  const record = required(created.export, "the export");

  if (record.matchingRows > BigInt(IMMEDIATE_EXPORT_MAX_ROWS)) {
    try {
      await parts.queue.enqueue(record.id);
    } catch (error) {
      if (!(error instanceof ExportQueueUnavailableError)) throw error;
      await ctx.service
        .updateExport({
          id: record.id,
          state: ExportState.FAILED,
          error: "the job queue (Redis) was unavailable when it was asked for",
          // The refusal is the answer: no mail follows.
          mailState: ExportMailState.NONE,
        })
        .catch((secondary: unknown) =>
          ctx.logger.warn({ err: secondary, exportId: record.id }, "could not mark the export FAILED"),
        );
      throw new TRPCError({
        code: "SERVICE_UNAVAILABLE",
        message: `exports of more than ${IMMEDIATE_EXPORT_MAX_ROWS.toLocaleString("en-US")} rows go through the job queue, which is unavailable (Redis is down); try again shortly, or narrow the filters to ${IMMEDIATE_EXPORT_MAX_ROWS.toLocaleString("en-US")} rows or fewer`,
        cause: error,
      });
    }
    return { export: exportJson(record), downloadUrl: null };
  }

  // Small enough to answer with: the same CSV code as the workers, written now.
  let ready: typeof record;
  try {
    const written = await writeExportFile({
      service: ctx.service,
      exportId: record.id,
      resource: input.resource,
      dir: parts.dir,
      timeoutMs: IMMEDIATE_STREAM_TIMEOUT_MS,
    });
    const updated = await ctx.service.updateExport({
      id: record.id,
      state: ExportState.READY,
      rowCount: BigInt(written.rowCount),
      byteSize: BigInt(written.byteSize),
      attempts: 1,
      // Answered with its link: there is no mail to send.
      mailState: ExportMailState.NONE,
    });
    ready = required(updated.export, "the export");
  } catch (error) {
    await ctx.service
      .updateExport({
        id: record.id,
        state: ExportState.FAILED,
        error: failureText(error),
        attempts: 1,
        mailState: ExportMailState.NONE,
      })
      .catch(() => undefined);
    // Service errors are mapped by the procedure middleware; anything else becomes one plain sentence.
    if (error instanceof ConnectError) throw error;
    throw new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: failureText(error), cause: error });
  }
  const expiresAt = ready.expireTime ? timestampDate(ready.expireTime).getTime() : Date.now() + 7 * 86_400_000;
  return {
    export: exportJson(ready),
    downloadUrl: exportDownloadUrl(parts.publicUrl, parts.linkSecret, ready.id, expiresAt),
  };
});
