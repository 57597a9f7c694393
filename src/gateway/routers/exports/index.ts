import { router } from "../../trpc.js";
import { get } from "./get.js";
import { list } from "./list.js";

/**
 * exports.*: `create` (admins only, with the workers' queue) joins this
 * router from its own file, ./create.ts, when the exports issue lands.
 */
export const exportsRouter = router({ list, get });
