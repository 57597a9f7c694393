import { z } from "zod";
import { toExportState } from "../../../shared/contract/enums.js";
import { exportJson, nextPage } from "../../../shared/contract/json.js";
import { memberProcedure } from "../../auth.js";
import { defined } from "../../request.js";
import { ExportStateSchema, PageSchema } from "../../schemas.js";

export const ListExportsInputSchema = z.strictObject({ ...PageSchema, state: ExportStateSchema.optional() }).optional();

/** exports.list: every export, newest first; members may see the list (not download). */
export const list = memberProcedure.input(ListExportsInputSchema).query(async ({ ctx, input = {} }) => {
  const response = await ctx.service.listExports(
    defined({
      pageSize: input.pageSize,
      pageToken: input.pageToken,
      state: input.state && toExportState(input.state),
    }),
  );
  return { exports: response.exports.map(exportJson), nextPageToken: nextPage(response.nextPageToken) };
});
