import { createContext, useContext } from "react";
import type { Me } from "./trpc.js";

/** Who is signed in; members see every page with no control that changes anything. */
export const MeContext = createContext<Me | undefined>(undefined);

export function useMe(): Me {
  const me = useContext(MeContext);
  if (!me) throw new Error("useMe outside the signed-in console");
  return me;
}

export function useIsAdmin(): boolean {
  return useMe().role === "admin";
}
