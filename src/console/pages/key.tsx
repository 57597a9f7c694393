import { keepPreviousData, useMutation, useQuery } from "@tanstack/react-query";
import { type FormEvent, lazy, Suspense, useEffect, useMemo, useState } from "react";
import { VERIFY_CODE_WORDS, type VerifyCodeWord } from "../../shared/contract/words.js";
import { CardTable } from "../components/card-table.js";
import { Crumbs } from "../components/crumbs.js";
import { type DetailRow, DetailsCard, detailRow as row } from "../components/details-card.js";
import { Dialog } from "../components/dialog.js";
import { DialogActions } from "../components/dialog-actions.js";
import { EnableToggle } from "../components/enable-toggle.js";
import { ErrorNote } from "../components/error-note.js";
import { ExportResult } from "../components/export-result.js";
import { Field } from "../components/field.js";
import { FilterSelect } from "../components/filter-select.js";
import { FormErrorNote } from "../components/form-error-note.js";
import {
  ClaimsSyntaxError,
  formOfKey,
  issuesByField,
  KeyFields,
  type KeyFormValues,
  updateInput,
} from "../components/key-form.js";
import { Loading } from "../components/loading.js";
import { PagedList } from "../components/paged-list.js";
import { RelativeTime } from "../components/relative-time.js";
import { StatusBadge } from "../components/status.js";
import { TokenOnce } from "../components/token-once.js";
import { count, duration, OUTCOME_LABELS, PERMISSION_LABELS, plural, relativeTime } from "../format.js";
import { useInvalidate } from "../hooks/use-invalidate.js";
import { useStartExport } from "../hooks/use-start-export.js";
import { usePaging } from "../paging.js";
import { Link, navigate } from "../router.js";
import { useIsAdmin } from "../session.js";
import { fieldIssues, type Key, trpc } from "../trpc.js";

const UsageChart = lazy(() => import("../components/usage-chart.js"));

/** One key: every field, its usage and logs; for admins edit, rotate, disable/enable, delete. */
export default function KeyPage({ id }: { id: string }) {
  const admin = useIsAdmin();
  const key = useQuery(trpc.keys.get.queryOptions({ id }));
  const [dialog, setDialog] = useState<"edit" | "rotate" | "delete" | null>(null);
  const close = () => setDialog(null);

  if (key.isPending) return <Loading what="the API key" />;
  if (key.error || !key.data) {
    return (
      <section>
        <Crumbs href="/keys" label="API keys" />
        <h1>API key</h1>
        <ErrorNote error={key.error} />
      </section>
    );
  }
  const k = key.data;
  const revoked = k.status === "revoked";
  return (
    <section>
      <Crumbs href="/keys" label="API keys" />
      <div className="page-head">
        <div>
          <h1 className="key-title">{k.name}</h1>
          <p className="key-sub">
            <span className="mono">{k.tokenHint}</span> <StatusBadge keyItem={k} />
          </p>
        </div>
        {admin && !revoked ? (
          <div className="actions">
            <button type="button" className="button" onClick={() => setDialog("edit")}>
              Edit
            </button>
            <button type="button" className="button" onClick={() => setDialog("rotate")}>
              Rotate
            </button>
            <KeyEnableToggle keyItem={k} />
            <button type="button" className="button danger" onClick={() => setDialog("delete")}>
              Delete
            </button>
          </div>
        ) : null}
      </div>
      {k.rotatedToId ? (
        <p className="note">
          This key was rotated{revoked ? "" : " and works until its grace period ends"}: its successor is{" "}
          <Link href={`/keys/${k.rotatedToId}`}>the new key</Link>.
        </p>
      ) : null}
      {revoked ? (
        <p className="note note-danger">
          Revoked {relativeTime(k.revokeTime)}
          {k.revocationReason ? `: ${k.revocationReason}` : ""}.
        </p>
      ) : null}

      <p className="key-links">
        <Link href={`/audit?key=${k.id}`}>Audit log of this key</Link>
      </p>
      <KeyDetails keyItem={k} />
      <Usage id={id} />
      <Logs keyItem={k} admin={admin} />

      {admin ? (
        <>
          <Dialog title="Edit API key" open={dialog === "edit"} onClose={close}>
            <EditForm keyItem={k} onDone={close} />
          </Dialog>
          <Dialog title="Rotate API key" open={dialog === "rotate"} onClose={close}>
            <RotateForm keyItem={k} onDone={close} />
          </Dialog>
          <Dialog title="Delete API key" open={dialog === "delete"} onClose={close}>
            <DeleteForm keyItem={k} onDone={close} />
          </Dialog>
        </>
      ) : null}
    </section>
  );
}

const useKeyChanged = () => useInvalidate(trpc.keys.pathKey());

function KeyEnableToggle({ keyItem: k }: { keyItem: Key }) {
  const changed = useKeyChanged();
  const toggle = useMutation(trpc.keys.update.mutationOptions({ onSuccess: changed }));
  return (
    <EnableToggle
      enabled={k.enabled}
      busy={toggle.isPending}
      error={toggle.error}
      onToggle={() => toggle.mutate({ id: k.id, enabled: !k.enabled, etag: k.etag })}
    />
  );
}

function KeyDetails({ keyItem: k }: { keyItem: Key }) {
  const rows: DetailRow[] = [
    row("ID", <span className="mono">{k.id}</span>),
    row("Description", k.description ?? "—"),
    row("Permission", PERMISSION_LABELS[k.permission]),
    row("Domain", k.domainId ?? "—"),
    row("Subject", k.subject ?? "—"),
    row(
      "Scopes",
      k.scopes.length
        ? k.scopes.map((s) => (
            <code key={s} className="chip">
              {s}
            </code>
          ))
        : "—",
    ),
    row("Created", <RelativeTime time={k.createTime} />),
    row("Created by", k.createdBy ?? "—"),
    row("Updated", <RelativeTime time={k.updateTime} />),
    row("Last used", <RelativeTime time={k.lastUsedTime} never="never" neverTitle="never used" />),
    row("Requests", count(k.requestCount)),
    row("Expires", k.expireTime ? <RelativeTime time={k.expireTime} /> : "never"),
    row("Enabled", k.enabled ? "Yes" : "No"),
    row("Allowed CIDRs", k.allowedCidrs.length ? k.allowedCidrs.join(", ") : "any address"),
    row(
      "Rate limits",
      k.ratelimits.length
        ? k.ratelimits.map((r) => `${r.name}: ${count(r.limit)} per ${duration(r.durationSeconds)}`).join("; ")
        : "none",
    ),
    row("Credits", k.remaining === null ? "unlimited" : count(k.remaining)),
    row(
      "Refill",
      k.refill
        ? `${count(k.refill.amount)} ${k.refill.interval === "monthly" ? `monthly${k.refill.dayOfMonth ? ` on day ${k.refill.dayOfMonth}` : ""}` : "daily"}`
        : "none",
    ),
    row("Claims", k.claims ? <code className="mono claims">{JSON.stringify(k.claims)}</code> : "—"),
  ];
  if (k.rotatedFromId) rows.push(row("Rotated from", <Link href={`/keys/${k.rotatedFromId}`}>the previous key</Link>));
  if (k.rotatedToId) rows.push(row("Rotated to", <Link href={`/keys/${k.rotatedToId}`}>the new key</Link>));
  if (k.revokeTime) rows.push(row("Revoked", <RelativeTime time={k.revokeTime} />));
  if (k.revocationReason) rows.push(row("Revocation reason", k.revocationReason));
  return <DetailsCard rows={rows} />;
}

type Granularity = "hour" | "day";

function Usage({ id }: { id: string }) {
  const [granularity, setGranularity] = useState<Granularity>("hour");
  const usage = useQuery({ ...trpc.keys.usage.queryOptions({ id, granularity }), placeholderData: keepPreviousData });
  const { points, codes, totals } = useMemo(
    () => slots(usage.data?.buckets ?? [], granularity),
    [usage.data, granularity],
  );
  const total = usage.data?.total ?? 0;
  return (
    <section className="card" aria-labelledby="usage-heading">
      <div className="section-head">
        <h2 id="usage-heading">Usage</h2>
        <fieldset className="segmented">
          <legend className="visually-hidden">Period</legend>
          <button type="button" aria-pressed={granularity === "hour"} onClick={() => setGranularity("hour")}>
            24 hours
          </button>
          <button type="button" aria-pressed={granularity === "day"} onClick={() => setGranularity("day")}>
            30 days
          </button>
        </fieldset>
      </div>
      <ErrorNote error={usage.error} />
      <p className="muted" aria-live="polite">
        {plural(total, "request")} in the last {granularity === "hour" ? "24 hours (hourly)" : "30 days (daily)"}
        {codes.length
          ? `: ${codes.map((c) => `${count(totals[c] ?? 0)} ${OUTCOME_LABELS[c].toLowerCase()}`).join(", ")}`
          : ""}
        .
      </p>
      <Suspense fallback={<div className="chart" />}>
        <UsageChart points={points} codes={codes} />
      </Suspense>
    </section>
  );
}

/** Every hour (or day) of the period, empty ones included, with counts per outcome. */
function slots(
  buckets: Array<{ startTime: string | null; outcomes: Array<{ code: VerifyCodeWord | null; count: number }> }>,
  granularity: Granularity,
) {
  const step = granularity === "hour" ? 3_600_000 : 86_400_000;
  const n = granularity === "hour" ? 24 : 30;
  const last = Math.floor(Date.now() / step) * step;
  const byStart = new Map<number, Record<string, number>>();
  const totals: Partial<Record<VerifyCodeWord, number>> = {};
  for (const b of buckets) {
    if (!b.startTime) continue;
    const start = Math.floor(Date.parse(b.startTime) / step) * step;
    const slot = byStart.get(start) ?? {};
    for (const o of b.outcomes) {
      if (!o.code) continue;
      slot[o.code] = (slot[o.code] ?? 0) + o.count;
      totals[o.code] = (totals[o.code] ?? 0) + o.count;
    }
    byStart.set(start, slot);
  }
  const codes = VERIFY_CODE_WORDS.filter((c) => (totals[c] ?? 0) > 0);
  const fmt =
    granularity === "hour"
      ? new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit" })
      : new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short" });
  const points = Array.from({ length: n }, (_, i) => {
    const start = last - (n - 1 - i) * step;
    return { label: fmt.format(new Date(start)), ...(byStart.get(start) ?? {}) };
  });
  return { points, codes, totals };
}

function Logs({ keyItem: k, admin }: { keyItem: Key; admin: boolean }) {
  const [code, setCode] = useState<VerifyCodeWord | "">("");
  const paging = usePaging(code);
  const logs = useQuery({
    ...trpc.keys.logs.queryOptions({ id: k.id, code: code || undefined, pageSize: 25, pageToken: paging.pageToken }),
    placeholderData: keepPreviousData,
  });
  const startExport = useStartExport();
  useEffect(() => {
    if (window.location.hash === "#logs" && logs.data) document.getElementById("logs")?.scrollIntoView();
  }, [logs.data]);
  return (
    <section className="card" id="logs" aria-labelledby="logs-heading">
      <div className="section-head">
        <h2 id="logs-heading">Request logs</h2>
        <div className="actions">
          <FilterSelect
            className="inline"
            label="Outcome"
            anyLabel="Any outcome"
            value={code}
            choices={VERIFY_CODE_WORDS}
            labelOf={(c) => OUTCOME_LABELS[c]}
            onChange={setCode}
          />
          {admin ? (
            <button
              type="button"
              className="button"
              disabled={startExport.isPending}
              onClick={() =>
                startExport.mutate({ resource: "key_logs", filters: { keyId: k.id, ...(code ? { code } : {}) } })
              }
            >
              Export logs
            </button>
          ) : null}
        </div>
      </div>
      <ExportResult state={startExport} />
      <PagedList
        query={logs}
        items={logs.data?.logs}
        paging={paging}
        empty={`No requests${code ? " with this outcome" : ""} yet.`}
      >
        {(list) => (
          <CardTable columns={["Time", "Outcome", "IP", "Request", "User agent"]}>
            {list.map((l) => (
              <tr key={l.id}>
                <td data-label="Time">
                  <RelativeTime time={l.time} />
                </td>
                <td data-label="Outcome">
                  <span className={`outcome ${l.code === "valid" ? "outcome-ok" : "outcome-bad"}`}>
                    {l.code ? OUTCOME_LABELS[l.code] : "—"}
                  </span>
                </td>
                <td data-label="IP" className="mono">
                  {l.ip ?? "—"}
                </td>
                <td data-label="Request" className="mono">
                  {[l.method, l.path].filter(Boolean).join(" ") || "—"}
                </td>
                <td data-label="User agent" className="ua">
                  {l.userAgent ?? "—"}
                </td>
              </tr>
            ))}
          </CardTable>
        )}
      </PagedList>
    </section>
  );
}

function EditForm({ keyItem: k, onDone }: { keyItem: Key; onDone: () => void }) {
  const changed = useKeyChanged();
  const [values, setValues] = useState<KeyFormValues>(() => formOfKey(k));
  const [localErrors, setLocalErrors] = useState<Record<string, string>>({});
  const update = useMutation(
    trpc.keys.update.mutationOptions({
      onSuccess: async () => {
        await changed();
        onDone();
      },
    }),
  );
  const submit = (event: FormEvent) => {
    event.preventDefault();
    try {
      const input = updateInput(values, k);
      setLocalErrors({});
      if (Object.keys(input).length <= 2) {
        onDone();
        return;
      }
      update.mutate(input);
    } catch (error) {
      if (error instanceof ClaimsSyntaxError) setLocalErrors({ claims: error.message });
      else throw error;
    }
  };
  const errors = { ...issuesByField(fieldIssues(update.error)), ...localErrors };
  return (
    <form className="form" onSubmit={submit} noValidate>
      <KeyFields mode="edit" values={values} errors={errors} onChange={setValues} />
      <FormErrorNote error={update.error} fieldErrors={errors} />
      <DialogActions submit="Save" onCancel={onDone} busy={update.isPending} />
    </form>
  );
}

const GRACE_CHOICES: Array<[number, string]> = [
  [0, "None: revoke the old key now"],
  [3_600, "1 hour"],
  [86_400, "1 day"],
  [7 * 86_400, "7 days"],
  [30 * 86_400, "30 days"],
];

function RotateForm({ keyItem: k, onDone }: { keyItem: Key; onDone: () => void }) {
  const changed = useKeyChanged();
  const [grace, setGrace] = useState(86_400);
  const [fresh, setFresh] = useState<{ id: string; token: string } | null>(null);
  const rotate = useMutation(
    trpc.keys.rotate.mutationOptions({
      onSuccess: async (answer) => {
        setFresh({ id: answer.key.id, token: answer.token });
        await changed();
      },
    }),
  );
  if (fresh) {
    return (
      <TokenOnce
        token={fresh.token}
        onDone={() => {
          const id = fresh.id;
          setFresh(null);
          rotate.reset();
          onDone();
          navigate(`/keys/${id}`);
        }}
      />
    );
  }
  return (
    <form
      className="form"
      onSubmit={(e) => {
        e.preventDefault();
        rotate.mutate({ id: k.id, gracePeriodSeconds: grace, etag: k.etag });
      }}
    >
      <p>
        A new key with the same settings replaces <strong>{k.name}</strong>. The old key keeps working during the grace
        period, so that services can move to the new one.
      </p>
      <Field
        label="Grace period"
        htmlFor="rotate-grace"
        error={issuesByField(fieldIssues(rotate.error)).gracePeriodSeconds}
      >
        <select id="rotate-grace" value={grace} onChange={(e) => setGrace(Number(e.target.value))}>
          {GRACE_CHOICES.map(([seconds, label]) => (
            <option key={seconds} value={seconds}>
              {label}
            </option>
          ))}
        </select>
      </Field>
      <ErrorNote error={rotate.error} />
      <DialogActions submit="Rotate" onCancel={onDone} busy={rotate.isPending} />
    </form>
  );
}

function DeleteForm({ keyItem: k, onDone }: { keyItem: Key; onDone: () => void }) {
  const changed = useKeyChanged();
  const [reason, setReason] = useState("");
  const [typed, setTyped] = useState("");
  const remove = useMutation(
    trpc.keys.delete.mutationOptions({
      onSuccess: async () => {
        await changed();
        onDone();
      },
    }),
  );
  const confirmed = typed === k.name;
  return (
    <form
      className="form"
      onSubmit={(e) => {
        e.preventDefault();
        if (confirmed) remove.mutate({ id: k.id, reason: reason.trim() || undefined, etag: k.etag });
      }}
    >
      <p>
        Deleting revokes <strong>{k.name}</strong> at once: the next request with it fails. It stays listed as Revoked,
        with its logs. This cannot be undone.
      </p>
      <Field label="Reason" htmlFor="delete-reason" error={issuesByField(fieldIssues(remove.error)).reason}>
        <textarea id="delete-reason" rows={2} value={reason} onChange={(e) => setReason(e.target.value)} />
      </Field>
      <Field label={`Type the key's name, ${k.name}, to confirm`} htmlFor="delete-confirm">
        <input id="delete-confirm" autoComplete="off" value={typed} onChange={(e) => setTyped(e.target.value)} />
      </Field>
      <ErrorNote error={remove.error} />
      <DialogActions submit="Delete API key" onCancel={onDone} busy={remove.isPending} disabled={!confirmed} danger />
    </form>
  );
}
