import { z } from "zod";
import { exportJson, required } from "../../../shared/contract/json.js";
import { memberProcedure } from "../../auth.js";
import { IdSchema } from "../../schemas.js";

export const GetExportInputSchema = z.strictObject({ id: IdSchema });

/** exports.get: one export and its state. */
export const get = memberProcedure.input(GetExportInputSchema).query(async ({ ctx, input }) => {
  const response = await ctx.service.getExport({ id: input.id });
  return exportJson(required(response.export, "the export"));
});
