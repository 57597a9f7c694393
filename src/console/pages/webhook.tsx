import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { CardTable } from "../components/card-table.js";
import { Crumbs } from "../components/crumbs.js";
import { type DetailRow, DetailsCard, detailRow as row } from "../components/details-card.js";
import { Dialog } from "../components/dialog.js";
import { DialogActions } from "../components/dialog-actions.js";
import { EnableToggle } from "../components/enable-toggle.js";
import { ErrorNote } from "../components/error-note.js";
import { FormErrorNote } from "../components/form-error-note.js";
import { issuesByField } from "../components/key-form.js";
import { Loading } from "../components/loading.js";
import { PagedList } from "../components/paged-list.js";
import { RelativeTime } from "../components/relative-time.js";
import {
  formOfWebhook,
  updateWebhookInput,
  WebhookFields,
  type WebhookFormValues,
} from "../components/webhook-form.js";
import { AttemptOutcome, EventChips, WebhookState } from "../components/webhook-status.js";
import { count } from "../format.js";
import { useInvalidate } from "../hooks/use-invalidate.js";
import { usePaging } from "../paging.js";
import { navigate } from "../router.js";
import { useIsAdmin } from "../session.js";
import { errorMessage, fieldIssues, trpc, type Webhook, type WebhookAttempt } from "../trpc.js";

const ATTEMPTS_PAGE_SIZE = 25;

/** One webhook endpoint: every field and its delivery attempts; for admins edit, disable/enable, delete, resend. */
export default function WebhookPage({ id }: { id: string }) {
  const admin = useIsAdmin();
  const endpoint = useQuery(trpc.webhooks.get.queryOptions({ id }));
  const [dialog, setDialog] = useState<"edit" | "delete" | null>(null);
  const close = () => setDialog(null);

  if (endpoint.isPending) return <Loading what="the webhook endpoint" />;
  if (endpoint.error || !endpoint.data) {
    return (
      <section>
        <Crumbs href="/webhooks" label="Webhooks" />
        <h1>Webhook endpoint</h1>
        <ErrorNote error={endpoint.error} />
      </section>
    );
  }
  const w = endpoint.data;
  return (
    <section>
      <Crumbs href="/webhooks" label="Webhooks" />
      <div className="page-head webhook-head">
        <div className="page-title">
          <h1 className="key-title webhook-title">{w.url}</h1>
          <p className="key-sub">
            {w.description ? <span>{w.description}</span> : null} <WebhookState endpoint={w} />
          </p>
        </div>
        {admin ? (
          <div className="actions">
            <button type="button" className="button" onClick={() => setDialog("edit")}>
              Edit
            </button>
            <WebhookEnableToggle endpoint={w} />
            <button type="button" className="button danger" onClick={() => setDialog("delete")}>
              Delete
            </button>
          </div>
        ) : null}
      </div>
      {!w.enabled ? (
        <p className="note note-danger">
          Disabled{w.disabledReason ? `: ${w.disabledReason}` : ""}. No event is sent to it until it is enabled again.
        </p>
      ) : null}

      <WebhookDetails endpoint={w} />
      <Attempts endpoint={w} admin={admin} />

      {admin ? (
        <>
          <Dialog title="Edit endpoint" open={dialog === "edit"} onClose={close}>
            <EditForm endpoint={w} onDone={close} />
          </Dialog>
          <Dialog title="Delete endpoint" open={dialog === "delete"} onClose={close}>
            <DeleteForm endpoint={w} onDone={close} />
          </Dialog>
        </>
      ) : null}
    </section>
  );
}

const useWebhookChanged = () => useInvalidate(trpc.webhooks.pathKey());

function WebhookEnableToggle({ endpoint: w }: { endpoint: Webhook }) {
  const changed = useWebhookChanged();
  const toggle = useMutation(trpc.webhooks.update.mutationOptions({ onSuccess: changed }));
  return (
    <EnableToggle
      enabled={w.enabled}
      busy={toggle.isPending}
      error={toggle.error}
      onToggle={() => toggle.mutate({ id: w.id, enabled: !w.enabled })}
    />
  );
}

const when = (iso: string | null) => (iso ? <RelativeTime time={iso} /> : "—");

function WebhookDetails({ endpoint: w }: { endpoint: Webhook }) {
  const rows: DetailRow[] = [
    row("ID", <span className="mono">{w.id}</span>),
    row("URL", <span className="mono">{w.url}</span>),
    row("Description", w.description ?? "—"),
    row("Events", <EventChips eventTypes={w.eventTypes} />),
    row("State", <WebhookState endpoint={w} />),
    row("Created", when(w.createTime)),
    row("Created by", w.createdBy ?? "—"),
    row("Updated", when(w.updateTime)),
    row("Failing since", when(w.failingSince)),
    row("Disabled because", w.disabledReason ?? "—"),
    row("Signing secret", <span className="muted">shown once when the endpoint was added</span>),
  ];
  return <DetailsCard rows={rows} />;
}

function Attempts({ endpoint: w, admin }: { endpoint: Webhook; admin: boolean }) {
  const paging = usePaging(w.id);
  const attempts = useQuery({
    ...trpc.webhooks.attempts.queryOptions({
      endpointId: w.id,
      pageSize: ATTEMPTS_PAGE_SIZE,
      pageToken: paging.pageToken,
    }),
    placeholderData: keepPreviousData,
    // Deliveries happen in the workers: the first page looks again by itself.
    refetchInterval: paging.pageToken ? false : 10_000,
  });
  const queryClient = useQueryClient();
  const [resent, setResent] = useState<string | null>(null);
  const resend = useMutation(
    trpc.webhooks.resend.mutationOptions({
      onSuccess: (_answer, input) => {
        setResent(input.eventId);
        // The new attempt is recorded once the workers have sent it: look again shortly.
        for (const ms of [1_000, 3_000]) {
          setTimeout(() => void queryClient.invalidateQueries({ queryKey: trpc.webhooks.attempts.pathKey() }), ms);
        }
      },
    }),
  );
  return (
    <section className="card" id="attempts" aria-labelledby="attempts-heading">
      <div className="section-head">
        <h2 id="attempts-heading">Delivery attempts</h2>
        <div className="actions">
          <button
            type="button"
            className="button"
            disabled={attempts.isFetching}
            onClick={() => void attempts.refetch()}
          >
            Refresh
          </button>
        </div>
      </div>
      <p className="muted">
        Newest first. A failed delivery is retried after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h; each attempt is
        listed.
        {admin && !w.enabled ? " Resend is off while the endpoint is disabled." : ""}
      </p>
      <div aria-live="polite">
        {resent ? (
          <p className="note">
            Event <code>{resent}</code> is queued to be sent again; its attempt appears here once made.
          </p>
        ) : null}
        {resend.error ? (
          <p className="error" role="alert">
            Could not resend: {errorMessage(resend.error)}
          </p>
        ) : null}
      </div>
      <PagedList
        query={attempts}
        items={attempts.data?.attempts}
        paging={paging}
        loading="Loading delivery attempts…"
        empty="No delivery attempts yet."
      >
        {(list) => (
          <CardTable
            columns={[
              "Time",
              "Event",
              "Status",
              { label: "Response", numeric: true },
              { label: "Duration", numeric: true },
              "Error",
              admin && { label: "Actions", hiddenLabel: true },
            ]}
          >
            {list.map((a) => (
              <AttemptRow
                key={a.id}
                attempt={a}
                admin={admin}
                canResend={w.enabled && !resend.isPending}
                onResend={() => resend.mutate({ endpointId: w.id, eventId: a.eventId })}
              />
            ))}
          </CardTable>
        )}
      </PagedList>
    </section>
  );
}

function AttemptRow(props: { attempt: WebhookAttempt; admin: boolean; canResend: boolean; onResend: () => void }) {
  const a = props.attempt;
  return (
    <tr>
      <td data-label="Time">
        <RelativeTime time={a.time} />
      </td>
      <td data-label="Event" className="event-cell">
        <code>{a.eventType}</code>
        <span className="sub mono" title="webhook-id">
          {a.eventId}
        </span>
        <span className="sub">
          attempt {a.attempt}
          {a.manual ? " · resent" : ""}
        </span>
      </td>
      <td data-label="Status">
        <AttemptOutcome attempt={a} />
      </td>
      <td data-label="Response" className="num">
        {a.responseCode ?? <span className="muted">none</span>}
      </td>
      <td data-label="Duration" className="num">
        {count(a.durationMs)} ms
      </td>
      <td data-label="Error" className="ua">
        {a.error ?? <span className="muted">—</span>}
      </td>
      {props.admin ? (
        <td data-label="Actions">
          <button
            type="button"
            className="button small"
            disabled={!props.canResend}
            aria-label={`Resend ${a.eventType} ${a.eventId}`}
            onClick={props.onResend}
          >
            Resend
          </button>
        </td>
      ) : null}
    </tr>
  );
}

function EditForm({ endpoint: w, onDone }: { endpoint: Webhook; onDone: () => void }) {
  const changed = useWebhookChanged();
  const [values, setValues] = useState<WebhookFormValues>(() => formOfWebhook(w));
  const update = useMutation(
    trpc.webhooks.update.mutationOptions({
      onSuccess: async () => {
        await changed();
        onDone();
      },
    }),
  );
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const input = updateWebhookInput(values, w);
    if (input) update.mutate(input);
    else onDone();
  };
  const errors = issuesByField(fieldIssues(update.error));
  return (
    <form className="form" onSubmit={submit} noValidate>
      <WebhookFields mode="edit" values={values} errors={errors} onChange={setValues} />
      <FormErrorNote error={update.error} fieldErrors={errors} />
      <DialogActions submit="Save" onCancel={onDone} busy={update.isPending} />
    </form>
  );
}

function DeleteForm({ endpoint: w, onDone }: { endpoint: Webhook; onDone: () => void }) {
  const queryClient = useQueryClient();
  const remove = useMutation(
    trpc.webhooks.delete.mutationOptions({
      onSuccess: () => {
        onDone();
        navigate("/webhooks");
        queryClient.removeQueries({ queryKey: trpc.webhooks.get.queryKey({ id: w.id }) });
        void queryClient.invalidateQueries({ queryKey: trpc.webhooks.list.pathKey() });
      },
    }),
  );
  return (
    <form
      className="form"
      onSubmit={(e) => {
        e.preventDefault();
        remove.mutate({ id: w.id });
      }}
    >
      <p>
        Deleting removes <strong className="mono">{w.url}</strong> and every event still waiting to be sent to it. It
        gets no more events. This cannot be undone.
      </p>
      <ErrorNote error={remove.error} />
      <DialogActions submit="Delete endpoint" onCancel={onDone} busy={remove.isPending} danger />
    </form>
  );
}
