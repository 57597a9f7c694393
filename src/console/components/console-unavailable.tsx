import { errorMessage } from "../trpc.js";

/**
 * The whole console when it cannot even learn who is signed in, for another
 * reason than a sign-out. `retrying` while the gateway answers 503: it asks
 * again by itself (app.tsx) and this goes once it answers.
 */
export function ConsoleUnavailable({ error, retrying }: { error: unknown; retrying: boolean }) {
  return (
    <main className="sign-in">
      <div className="outage-banner" role="alert">
        <p>
          {retrying ? "The console cannot load" : "The gateway could not be reached"}: {errorMessage(error)}
        </p>
        {retrying ? <p className="muted">The console tries again every few seconds.</p> : null}
      </div>
    </main>
  );
}
