import { requireCsrf } from "../../auth.js";
import { publicProcedure } from "../../trpc.js";

/** session.signOut: ends the console session and clears its cookies; nothing to do without one. */
export const signOut = publicProcedure.mutation(async ({ ctx }) => {
  const web = ctx.web;
  if (!web) return { signedOut: false };
  await requireCsrf(ctx);
  // Redis down: 503 and the cookies stay, since the session itself would live on; signing out again works once Redis is back.
  await web.sessions.destroy(web.cookie);
  web.end();
  return { signedOut: true };
});
