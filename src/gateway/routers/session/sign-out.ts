import { requireCsrf } from "../../auth.js";
import { publicProcedure } from "../../trpc.js";

/** session.signOut: ends the console session and clears its cookies; nothing to do without one. */
export const signOut = publicProcedure.mutation(({ ctx }) => {
  const web = ctx.web;
  if (!web) return { signedOut: false };
  requireCsrf(ctx);
  web.sessions.destroy(web.cookie);
  web.end();
  return { signedOut: true };
});
