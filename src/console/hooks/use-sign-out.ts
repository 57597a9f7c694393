import { useQueryClient } from "@tanstack/react-query";
import { startOutage } from "../outage.js";
import { navigate } from "../router.js";
import { errorMessage, isUnavailable, trpcClient } from "../trpc.js";

/**
 * Sign out: the gateway ends the session, then the console forgets what it
 * loaded and shows the sign-in page. When the gateway cannot end it now (503:
 * its sessions' Redis is away), the session lives on, so the console stays
 * signed in and says why rather than look signed out; Sign out works again
 * once the outage is over.
 */
export function useSignOut(onSignedOut: () => void): () => Promise<void> {
  const queryClient = useQueryClient();
  return async () => {
    try {
      await trpcClient.session.signOut.mutate();
    } catch (error) {
      if (isUnavailable(error)) {
        startOutage(errorMessage(error));
        return;
      }
      // Any other failure (401: already ended) signs the page out, as it always has.
    }
    queryClient.clear();
    onSignedOut();
    navigate("/sign-in", { replace: true });
  };
}
