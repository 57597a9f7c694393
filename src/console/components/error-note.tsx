import { useOutage } from "../outage.js";
import { errorMessage } from "../trpc.js";

/**
 * The gateway's refusal (or any failure) as one sentence, announced to screen
 * readers. When the outage banner above the page already says the same, the
 * note points there instead of repeating it (a read that failed with the
 * 503 the banner shows loads again by itself).
 */
export function ErrorNote({ error }: { error: unknown }) {
  const outage = useOutage();
  if (!error) return null;
  const message = errorMessage(error);
  if (outage !== undefined && message === outage) {
    return <p className="muted">The gateway cannot answer now: see the notice at the top of the page.</p>;
  }
  return (
    <p className="error" role="alert">
      {message}
    </p>
  );
}
