import { z } from "zod";
import { toExportState } from "../../../shared/contract/enums.js";
import { nextPage } from "../../../shared/contract/json.js";
import { memberProcedure } from "../../auth.js";
import { gatewayExportsFor } from "../../export-queue.js";
import { defined } from "../../request.js";
import { ExportStateSchema, PageSchema } from "../../schemas.js";
import { exportEntryJson } from "./download-url.js";

export const ListExportsInputSchema = z.strictObject({ ...PageSchema, state: ExportStateSchema.optional() }).optional();

/** exports.list: every export, newest first; members may see the list, admins also get each READY one's `downloadUrl`. */
export const list = memberProcedure.input(ListExportsInputSchema).query(async ({ ctx, input = {} }) => {
  const response = await ctx.service.listExports(
    defined({
      pageSize: input.pageSize,
      pageToken: input.pageToken,
      state: input.state && toExportState(input.state),
    }),
  );
  const parts = gatewayExportsFor(ctx.service);
  return {
    exports: response.exports.map((e) => exportEntryJson(parts, ctx.principal, e)),
    nextPageToken: nextPage(response.nextPageToken),
  };
});
