import { keepPreviousData, useMutation, useQuery } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { CardTable } from "../components/card-table.js";
import { Dialog } from "../components/dialog.js";
import { DialogActions } from "../components/dialog-actions.js";
import { FormErrorNote } from "../components/form-error-note.js";
import { issuesByField } from "../components/key-form.js";
import { PagedList } from "../components/paged-list.js";
import { RelativeTime } from "../components/relative-time.js";
import { TokenOnce } from "../components/token-once.js";
import {
  createWebhookInput,
  EMPTY_WEBHOOK_FORM,
  WebhookFields,
  type WebhookFormValues,
} from "../components/webhook-form.js";
import { EventChips, LastDelivery, WebhookState } from "../components/webhook-status.js";
import { useInvalidate } from "../hooks/use-invalidate.js";
import { usePaging } from "../paging.js";
import { Link, navigate } from "../router.js";
import { useIsAdmin } from "../session.js";
import { fieldIssues, trpc, type Webhook } from "../trpc.js";

const PAGE_SIZE = 25;

/** The webhook endpoints, newest first; admins add one here (its signing secret shown once). */
export default function WebhooksPage() {
  const admin = useIsAdmin();
  const paging = usePaging("webhooks");
  const [adding, setAdding] = useState(false);
  const endpoints = useQuery({
    ...trpc.webhooks.list.queryOptions({ pageSize: PAGE_SIZE, pageToken: paging.pageToken }),
    placeholderData: keepPreviousData,
  });
  return (
    <section>
      <div className="page-head webhook-head">
        <div>
          <h1>Webhooks</h1>
          <p className="muted lead">
            Keyward POSTs key and export events to these endpoints, signed as Standard Webhooks, and retries failed
            deliveries for about a day.
          </p>
        </div>
        {admin ? (
          <div className="actions">
            <button type="button" className="button primary" onClick={() => setAdding(true)}>
              Add endpoint
            </button>
          </div>
        ) : null}
      </div>

      <PagedList
        query={endpoints}
        items={endpoints.data?.endpoints}
        paging={paging}
        loading="Loading webhook endpoints…"
        empty={`No webhook endpoints yet${admin ? ": add one to hear of key changes." : "."}`}
      >
        {(list) => <WebhooksTable endpoints={list} />}
      </PagedList>

      {admin ? <AddEndpointDialog open={adding} onClose={() => setAdding(false)} /> : null}
    </section>
  );
}

function WebhooksTable({ endpoints }: { endpoints: Webhook[] }) {
  return (
    <CardTable columns={["URL", "Description", "Events", "State", "Created", "Latest delivery"]}>
      {endpoints.map((w) => (
        <tr key={w.id}>
          <td data-label="URL" className="name-cell url-cell">
            <Link href={`/webhooks/${w.id}`} className="mono">
              {w.url}
            </Link>
          </td>
          <td data-label="Description">{w.description ?? <span className="muted">—</span>}</td>
          <td data-label="Events">
            <EventChips eventTypes={w.eventTypes} />
          </td>
          <td data-label="State">
            <WebhookState endpoint={w} />
          </td>
          <td data-label="Created">
            <RelativeTime time={w.createTime} />
          </td>
          <td data-label="Latest delivery">
            <LastDelivery endpointId={w.id} />
          </td>
        </tr>
      ))}
    </CardTable>
  );
}

/** Add endpoint: the form, then the signing secret once; closing the dialog forgets it. */
function AddEndpointDialog({ open, onClose }: { open: boolean; onClose: () => void }) {
  const webhooksChanged = useInvalidate(trpc.webhooks.pathKey());
  const [values, setValues] = useState<WebhookFormValues>(EMPTY_WEBHOOK_FORM);
  const [created, setCreated] = useState<{ id: string; secret: string } | null>(null);
  const create = useMutation(
    trpc.webhooks.create.mutationOptions({
      onSuccess: async (answer) => {
        setCreated({ id: answer.endpoint.id, secret: answer.secret });
        await webhooksChanged();
      },
    }),
  );
  const close = () => {
    // The secret goes with this state; the mutation's answer is dropped from memory too.
    setCreated(null);
    create.reset();
    setValues(EMPTY_WEBHOOK_FORM);
    onClose();
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate(createWebhookInput(values));
  };
  const errors = issuesByField(fieldIssues(create.error));
  return (
    <Dialog title={created ? "Endpoint added" : "Add endpoint"} open={open} onClose={close}>
      {created ? (
        <>
          <p>
            Receivers verify each delivery's <code>webhook-signature</code> with this signing secret (any Standard
            Webhooks library does).
          </p>
          <TokenOnce
            token={created.secret}
            label="Signing secret"
            fieldId="new-webhook-secret"
            warning="Copy this signing secret now. You won't be able to see it again: Keyward never shows it after this."
            onDone={() => {
              const id = created.id;
              close();
              navigate(`/webhooks/${id}`);
            }}
          />
        </>
      ) : (
        <form className="form" onSubmit={submit} noValidate>
          <WebhookFields mode="create" values={values} errors={errors} onChange={setValues} />
          <FormErrorNote error={create.error} fieldErrors={errors} />
          <DialogActions submit="Add" onCancel={close} busy={create.isPending} />
        </form>
      )}
    </Dialog>
  );
}
