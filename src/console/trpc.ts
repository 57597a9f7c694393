import { MutationCache, type Query, QueryCache, QueryClient } from "@tanstack/react-query";
import { createTRPCClient, httpBatchLink, httpLink, splitLink, TRPCClientError } from "@trpc/client";
import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";
import { createTRPCOptionsProxy } from "@trpc/tanstack-react-query";
import type { AppRouter } from "../gateway/routers/_app.js";
import { endOutage, inOutage, startOutage } from "./outage.js";

/**
 * The console's client of the gateway, typed by the gateway's AppRouter (a
 * type only: nothing of the server is bundled). The browser authenticates
 * with the session cookie the gateway set at sign-in; the page never holds
 * the admin's token. Every call carries the CSRF token the gateway left in a
 * readable cookie, as the x-keyward-csrf header.
 */

export type Outputs = inferRouterOutputs<AppRouter>;
export type Inputs = inferRouterInputs<AppRouter>;
export type Key = Outputs["keys"]["get"];
export type Me = Outputs["me"];
export type ExportEntry = Outputs["exports"]["list"]["exports"][number];
export type Webhook = Outputs["webhooks"]["get"];
export type WebhookAttempt = Outputs["webhooks"]["attempts"]["attempts"][number];

const CSRF_COOKIE = "keyward_csrf";

function csrfToken(): string {
  const match = document.cookie.split(/;\s*/).find((part) => part.startsWith(`${CSRF_COOKIE}=`));
  // Sign-in has no session yet: any value shows the request came from a page that may set headers.
  return match ? decodeURIComponent(match.slice(CSRF_COOKIE.length + 1)) : "sign-in";
}

const headers = () => ({ "x-keyward-csrf": csrfToken() });

export const trpcClient = createTRPCClient<AppRouter>({
  links: [
    splitLink({
      // Reads of one page go in one request; changes go alone, so each answer is its own. The
      // status counts scan the keys table: alone too, so that the rows never wait for them.
      condition: (op) => op.type === "query" && op.path !== "keys.counts",
      true: httpBatchLink({ url: "/trpc", headers, maxItems: 10 }),
      false: httpLink({ url: "/trpc", headers }),
    }),
  ],
});

/** Called when the gateway says the session is gone (401): the app shows the sign-in page. */
let onSignedOut: () => void = () => undefined;
export function whenSignedOut(handler: () => void): void {
  onSignedOut = handler;
}

/** The HTTP status the gateway answered with; undefined when there was no answer (network, CORS). */
export function httpStatusOf(error: unknown): number | undefined {
  if (!(error instanceof TRPCClientError)) return undefined;
  return (error.data as { httpStatus?: number } | undefined)?.httpStatus;
}

/** 503: something the gateway needs is away for now; the same call works again later. */
export function isUnavailable(error: unknown): boolean {
  return httpStatusOf(error) === 503;
}

/** A read answered 503: the whole console is affected (every call authenticates), so outage.ts shows it. */
function readFailed(error: unknown): void {
  if (httpStatusOf(error) === 401) onSignedOut();
  else if (isUnavailable(error)) startOutage(errorMessage(error));
}

const failedUnavailable = (q: Query) => q.state.status === "error" && isUnavailable(q.state.error);
let recovering = false;

/**
 * A successful answer during an outage: the reads it made fail load again,
 * without waiting for the admin, and the outage ends once none of them
 * still answers 503. Ending it at the first success would make the banner
 * come and go every few seconds while one read keeps failing and the
 * outage probe (app.tsx) succeeds.
 */
async function answered(): Promise<void> {
  if (!inOutage() || recovering) return;
  recovering = true;
  try {
    await queryClient.refetchQueries({ type: "active", predicate: failedUnavailable });
    if (queryClient.getQueryCache().findAll({ type: "active", predicate: failedUnavailable }).length === 0) endOutage();
  } finally {
    recovering = false;
  }
}

export const queryClient = new QueryClient({
  queryCache: new QueryCache({ onError: readFailed, onSuccess: () => void answered() }),
  mutationCache: new MutationCache({
    // A change's 503 shows at its own form or button: an export's job queue can be away while all else works.
    onError: (error) => {
      if (httpStatusOf(error) === 401) onSignedOut();
    },
    onSuccess: () => void answered(),
  }),
  defaultOptions: {
    queries: {
      retry: (count, error) => count < 2 && httpStatusOf(error) === undefined,
      staleTime: 5_000,
      refetchOnWindowFocus: false,
    },
  },
});

export const trpc = createTRPCOptionsProxy<AppRouter>({ client: trpcClient, queryClient });

/** The gateway's error as one sentence, and the message of each field it names. */
export function errorMessage(error: unknown): string {
  if (error instanceof TRPCClientError) return error.message;
  if (error instanceof Error) return error.message;
  return "something went wrong";
}

export interface FieldIssue {
  field: string;
  message: string;
}

export function fieldIssues(error: unknown): FieldIssue[] {
  if (!(error instanceof TRPCClientError)) return [];
  const issues = (error.data as { issues?: FieldIssue[] | null } | undefined)?.issues;
  return Array.isArray(issues) ? issues : [];
}
