import { useQuery, useQueryClient } from "@tanstack/react-query";
import { lazy, Suspense, useEffect, useState } from "react";
import { BrandMark } from "./components/brand.js";
import { ConsoleUnavailable } from "./components/console-unavailable.js";
import { Loading } from "./components/loading.js";
import { OutageBanner } from "./components/outage-banner.js";
import { useSignOut } from "./hooks/use-sign-out.js";
import { useOutage } from "./outage.js";
import { AuditPage } from "./pages/audit.js";
import { ExportsPage } from "./pages/exports.js";
import { KeysPage } from "./pages/keys.js";
import { goNext, SignInPage } from "./pages/sign-in.js";
import { Link, navigate, safeNext, useLocation } from "./router.js";
import { MeContext } from "./session.js";
import { httpStatusOf, trpc, whenSignedOut } from "./trpc.js";

// The pages with forms and the chart load when first opened: the keys list comes first.
const CreateKeyPage = lazy(() => import("./pages/create-key.js"));
const KeyPage = lazy(() => import("./pages/key.js"));
const WebhooksPage = lazy(() => import("./pages/webhooks.js"));
const WebhookPage = lazy(() => import("./pages/webhook.js"));

const NAV: Array<[string, string, (path: string) => boolean]> = [
  ["/keys", "API keys", (p) => p === "/" || p.startsWith("/keys")],
  ["/webhooks", "Webhooks", (p) => p.startsWith("/webhooks")],
  ["/exports", "Exports", (p) => p.startsWith("/exports")],
  ["/audit", "Audit log", (p) => p.startsWith("/audit")],
];

/** How often the console asks again while the gateway answers 503. */
const OUTAGE_RETRY_MS = 3_000;

export function App() {
  const location = useLocation();
  const queryClient = useQueryClient();
  const [signedOut, setSignedOut] = useState(false);
  const outage = useOutage();
  const me = useQuery({
    ...trpc.me.queryOptions(),
    retry: false,
    staleTime: 60_000,
    enabled: !signedOut,
    // The cheapest call that goes through the session: its first success ends the outage (trpc.ts).
    refetchInterval: outage ? OUTAGE_RETRY_MS : false,
  });
  const { signOut, failure: signOutFailure } = useSignOut(() => setSignedOut(true));

  useEffect(() => {
    whenSignedOut(() => {
      setSignedOut(true);
      queryClient.clear();
    });
  }, [queryClient]);

  const onSignInPage = location.path === "/sign-in";
  const next = safeNext(location.query.get("next"));
  // Only the gateway refusing the session signs out; a 503 or no answer leaves it as it is.
  const refused = signedOut || (me.isError && isSignedOutError(me.error));

  useEffect(() => {
    if (me.data && !signedOut && onSignInPage) goNext(next);
  }, [me.data, signedOut, onSignInPage, next]);
  useEffect(() => {
    // Any page asked for while signed out: sign in, then come back to it.
    if (refused && !onSignInPage) {
      const here = `${location.path}${location.query.size ? `?${location.query}` : ""}`;
      navigate(here === "/" ? "/sign-in" : `/sign-in?next=${encodeURIComponent(here)}`, { replace: true });
    }
  }, [refused, onSignInPage, location]);

  if (!refused && me.isError && !me.data) {
    return <ConsoleUnavailable error={me.error} retrying={outage !== undefined} />;
  }
  if (onSignInPage || refused) {
    if (me.data && !signedOut) return <Loading what="the console" />;
    return (
      <SignInPage
        onSignedIn={() => {
          setSignedOut(false);
        }}
      />
    );
  }
  if (!me.data) return <Loading what="the console" />;

  return (
    <MeContext.Provider value={me.data}>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link href="/keys" className="brand">
          <BrandMark />
          Keyward
        </Link>
        <nav aria-label="Main" className="nav">
          {NAV.map(([href, label, active]) => (
            <Link key={href} href={href} aria-current={active(location.path) ? "page" : undefined}>
              {label}
            </Link>
          ))}
        </nav>
        <div className="who">
          <span className="who-email" title={me.data.keyName}>
            {me.data.email}
          </span>
          <span className={`tag ${me.data.role === "admin" ? "tag-admin" : "tag-member"}`}>
            {me.data.role === "admin" ? "Admin" : "Member (read-only)"}
          </span>
          <button type="button" className="button" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" className="page">
        {signOutFailure ? (
          <p className="error sign-out-failure" role="alert">
            {signOutFailure}
          </p>
        ) : null}
        <OutageBanner message={outage} />
        <Suspense fallback={<Loading what="the page" />}>
          <Route path={location.path} />
        </Suspense>
      </main>
    </MeContext.Provider>
  );
}

function Route({ path }: { path: string }) {
  if (path === "/" || path === "/keys") return <KeysPage />;
  if (path === "/keys/new") return <CreateKeyPage />;
  const key = /^\/keys\/([0-9a-f-]{36})$/i.exec(path);
  if (key?.[1]) return <KeyPage id={key[1]} />;
  if (path === "/webhooks") return <WebhooksPage />;
  const webhook = /^\/webhooks\/([0-9a-f-]{36})$/i.exec(path);
  if (webhook?.[1]) return <WebhookPage id={webhook[1]} />;
  if (path === "/exports") return <ExportsPage />;
  if (path === "/audit") return <AuditPage />;
  return (
    <section>
      <h1>Not found</h1>
      <p>
        There is no page at {path}. <Link href="/keys">Go to the API keys.</Link>
      </p>
    </section>
  );
}

function isSignedOutError(error: unknown): boolean {
  const status = httpStatusOf(error);
  return status === 401 || status === 403;
}
