import { memberProcedure } from "../auth.js";

/** me: who the caller's key says they are, and what they may do. */
export const me = memberProcedure.query(({ ctx }) => {
  const { email, role, keyId, keyName, scopes } = ctx.principal;
  return { email, role, keyId, keyName, scopes };
});
