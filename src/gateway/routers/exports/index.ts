import { router } from "../../trpc.js";
import { create } from "./create.js";
import { get } from "./get.js";
import { list } from "./list.js";

/** exports.*: `create` (admins only, through the workers' queue above 1,000 rows), `list` and `get`. */
export const exportsRouter = router({ create, list, get });
