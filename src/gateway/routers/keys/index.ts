import { router } from "../../trpc.js";
import { counts } from "./counts.js";
import { create } from "./create.js";
import { deleteKey } from "./delete.js";
import { get } from "./get.js";
import { list } from "./list.js";
import { logs } from "./logs.js";
import { reportLeak } from "./report-leak.js";
import { rotate } from "./rotate.js";
import { update } from "./update.js";
import { usage } from "./usage.js";

/** keys.*: reads for every console key, changes for admins only. */
export const keysRouter = router({
  create,
  list,
  counts,
  get,
  update,
  delete: deleteKey,
  rotate,
  usage,
  logs,
  reportLeak,
});
