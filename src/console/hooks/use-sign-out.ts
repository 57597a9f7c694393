import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { startOutage } from "../outage.js";
import { navigate } from "../router.js";
import { errorMessage, httpStatusOf, isUnavailable, trpcClient } from "../trpc.js";

/**
 * Sign out: the gateway ends the session, then the console forgets what it
 * loaded and shows the sign-in page. Only the gateway can end the session
 * (its cookie is out of the page's reach), so when it did not, the console
 * stays signed in rather than look signed out while the session lives on:
 * a 503 (its sessions' Redis is away) is the outage every call meets, shown
 * by the banner; no answer or another refusal is `failure`, shown by the
 * button until the next try. A 401 means the session had already ended:
 * the page signs out.
 */
export function useSignOut(onSignedOut: () => void): { signOut: () => Promise<void>; failure: string | undefined } {
  const queryClient = useQueryClient();
  const [failure, setFailure] = useState<string | undefined>();
  const signOut = async () => {
    setFailure(undefined);
    try {
      await trpcClient.session.signOut.mutate();
    } catch (error) {
      if (isUnavailable(error)) {
        startOutage(errorMessage(error));
        return;
      }
      if (httpStatusOf(error) !== 401) {
        const why = httpStatusOf(error) === undefined ? "the gateway did not answer" : errorMessage(error);
        setFailure(`Sign out did not go through (${why}). You are still signed in; try again.`);
        return;
      }
    }
    queryClient.clear();
    onSignedOut();
    navigate("/sign-in", { replace: true });
  };
  return { signOut, failure };
}
