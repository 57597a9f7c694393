import { z } from "zod";
import { required } from "../../../shared/contract/json.js";
import { memberProcedure } from "../../auth.js";
import { gatewayExportsFor } from "../../export-queue.js";
import { IdSchema } from "../../schemas.js";
import { exportEntryJson } from "./download-url.js";

export const GetExportInputSchema = z.strictObject({ id: IdSchema });

/** exports.get: one export, its state and its mail; `downloadUrl` for admins once it is READY. */
export const get = memberProcedure.input(GetExportInputSchema).query(async ({ ctx, input }) => {
  const response = await ctx.service.getExport({ id: input.id });
  return exportEntryJson(gatewayExportsFor(ctx.service), ctx.principal, required(response.export, "the export"));
});
