import { useQuery } from "@tanstack/react-query";
import { absoluteTime, relativeTime } from "../format.js";
import { trpc, type Webhook, type WebhookAttempt } from "../trpc.js";

/** Enabled or Disabled: a coloured dot beside the word, and "failing since" while every attempt fails. */
export function WebhookState({ endpoint: w }: { endpoint: Pick<Webhook, "enabled" | "failingSince"> }) {
  return (
    <span className="status-cell">
      <span className={`status ${w.enabled ? "status-enabled" : "status-disabled"}`}>
        <span className="dot" aria-hidden="true" />
        {w.enabled ? "Enabled" : "Disabled"}
      </span>
      {w.failingSince ? (
        <span className="tag tag-warn" title={`every attempt has failed since ${absoluteTime(w.failingSince)}`}>
          Failing since {relativeTime(w.failingSince)}
        </span>
      ) : null}
    </span>
  );
}

/** An attempt's outcome: Succeeded or Failed, with the response code when there was one. */
export function AttemptOutcome({ attempt: a }: { attempt: Pick<WebhookAttempt, "status" | "responseCode"> }) {
  return (
    <span className={`outcome ${a.status === "succeeded" ? "outcome-ok" : "outcome-bad"}`}>
      {a.status === "succeeded" ? "Succeeded" : "Failed"}
    </span>
  );
}

/** The newest attempt to an endpoint (the attempts are listed newest first). */
export function LastDelivery({ endpointId }: { endpointId: string }) {
  const latest = useQuery(trpc.webhooks.attempts.queryOptions({ endpointId, pageSize: 1 }));
  if (latest.isPending) return <span className="muted">…</span>;
  if (latest.error) return <span className="muted">unknown</span>;
  const a = latest.data.attempts[0];
  if (!a) return <span className="muted">No deliveries yet</span>;
  return (
    <span className="last-delivery">
      <AttemptOutcome attempt={a} />
      {a.responseCode !== null ? <span className="mono"> {a.responseCode}</span> : null}{" "}
      <code className="muted">{a.eventType}</code>
      <span className="sub">
        <time dateTime={a.time ?? undefined} title={absoluteTime(a.time)}>
          {relativeTime(a.time)}
        </time>
      </span>
    </span>
  );
}

/** The event types an endpoint gets, or All events. */
export function EventChips({ eventTypes }: { eventTypes: string[] }) {
  if (eventTypes.length === 0) return <span>All events</span>;
  return (
    <span className="chips">
      {eventTypes.map((t) => (
        <code key={t} className="chip">
          {t}
        </code>
      ))}
    </span>
  );
}
