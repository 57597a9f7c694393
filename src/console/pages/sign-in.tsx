import { useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { BrandMark } from "../components/brand.js";
import { ErrorNote } from "../components/error-note.js";
import { navigate, safeNext, useLocation } from "../router.js";
import { trpcClient } from "../trpc.js";

/** Where the console goes once signed in: the page asked for, or a mail's download link. */
export function goNext(next: string | undefined): void {
  if (next && /^\/exports\/[^/]+\/download(\?|$)/.test(next)) {
    // A download: the browser fetches it with the new cookie; the console shows the exports meanwhile.
    navigate("/exports", { replace: true });
    window.location.assign(next);
    return;
  }
  navigate(next ?? "/keys", { replace: true });
}

/**
 * Sign in: paste an admin or member key once. The gateway checks it and
 * sets an HttpOnly session cookie; the key leaves the page's memory when
 * this form goes.
 */
const focusOnMount = (input: HTMLInputElement | null) => input?.focus();

export function SignInPage({ onSignedIn }: { onSignedIn: () => void }) {
  const location = useLocation();
  const next = safeNext(location.query.get("next"));
  const queryClient = useQueryClient();
  const [apiKey, setApiKey] = useState("");
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<unknown>(null);
  // Called directly, not through a query-cache mutation, which would keep the key as its variables.
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setPending(true);
    setError(null);
    try {
      await trpcClient.session.signIn.mutate({ apiKey });
      setApiKey("");
      await queryClient.resetQueries();
      onSignedIn();
      goNext(next);
    } catch (failure) {
      setError(failure);
    } finally {
      setPending(false);
    }
  };
  return (
    <main className="sign-in">
      <form className="card sign-in-card" onSubmit={submit} autoComplete="off">
        <h1>
          <BrandMark />
          Keyward
        </h1>
        <p className="muted">Sign in with an admin or member API key (scope console:admin or console:member).</p>
        {next?.startsWith("/exports/") ? <p className="note">Sign in to download the export.</p> : null}
        <div className="field">
          <label htmlFor="api-key">API key</label>
          <input
            id="api-key"
            type="password"
            autoComplete="off"
            spellCheck={false}
            value={apiKey}
            onChange={(e) => setApiKey(e.target.value)}
            required
            ref={focusOnMount}
          />
        </div>
        <ErrorNote error={error} />
        <button type="submit" className="button primary wide" disabled={pending}>
          Sign in
        </button>
      </form>
    </main>
  );
}
