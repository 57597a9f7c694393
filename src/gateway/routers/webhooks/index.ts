import { router } from "../../trpc.js";
import { create } from "./create.js";
import { attempts, get, list } from "./read.js";
import { deleteWebhook, resend, update } from "./write.js";

/** webhooks.*: reads for every console key, changes (and resends) for admins only. */
export const webhooksRouter = router({ create, list, get, update, delete: deleteWebhook, attempts, resend });
