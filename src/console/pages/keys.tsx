import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import {
  KEY_STATUS_WORDS,
  type KeyStatusWord,
  PERMISSION_WORDS,
  type PermissionWord,
} from "../../shared/contract/words.js";
import { ErrorNote, Pager } from "../components/bits.js";
import { StatusBadge } from "../components/status.js";
import { absoluteTime, count, PERMISSION_LABELS, relativeTime, STATUS_LABELS } from "../format.js";
import { usePaging } from "../paging.js";
import { Link, navigate, useLocation, withQuery } from "../router.js";
import { useIsAdmin } from "../session.js";
import { type Key, trpc } from "../trpc.js";
import { ExportResult, useStartExport } from "./exports.js";

const PAGE_SIZE = 25;

function isStatus(text: string | null): text is KeyStatusWord {
  return (KEY_STATUS_WORDS as readonly string[]).includes(text ?? "");
}
function isPermission(text: string | null): text is PermissionWord {
  return (PERMISSION_WORDS as readonly string[]).includes(text ?? "");
}

/** The keys page's filters, read from its URL. */
export function keyFilters(q: URLSearchParams) {
  return {
    status: isStatus(q.get("status")) ? (q.get("status") as KeyStatusWord) : undefined,
    permission: isPermission(q.get("permission")) ? (q.get("permission") as PermissionWord) : undefined,
    subject: q.get("subject")?.trim() || undefined,
    nameContains: q.get("name")?.trim() || undefined,
  };
}

/** keys.list's query for a page of these filters: the page and the start-up prefetch share it. */
export function keysListQuery(filters: ReturnType<typeof keyFilters>, pageToken?: string) {
  return trpc.keys.list.queryOptions({ ...filters, pageSize: PAGE_SIZE, pageToken });
}

/** The API keys: filters in the URL, a count per status, keyset pages, newest first. */
export function KeysPage() {
  const location = useLocation();
  const admin = useIsAdmin();
  const { status, permission, subject, nameContains: name } = keyFilters(location.query);
  const filters = { permission, subject, nameContains: name };
  const paging = usePaging(JSON.stringify({ status, ...filters }));

  const keys = useQuery({
    ...keysListQuery({ status, ...filters }, paging.pageToken),
    placeholderData: keepPreviousData,
  });
  const counts = useQuery(trpc.keys.counts.queryOptions(filters));
  const startExport = useStartExport();

  const [nameDraft, setNameDraft] = useState(name ?? "");
  const [subjectDraft, setSubjectDraft] = useState(subject ?? "");
  useEffect(() => setNameDraft(name ?? ""), [name]);
  useEffect(() => setSubjectDraft(subject ?? ""), [subject]);
  // Typing narrows the list after a pause; the URL keeps the filter.
  useEffect(() => {
    const timer = setTimeout(() => {
      if (nameDraft.trim() !== (name ?? "") || subjectDraft.trim() !== (subject ?? "")) {
        navigate(withQuery(location, { name: nameDraft.trim(), subject: subjectDraft.trim() }), { replace: true });
      }
    }, 300);
    return () => clearTimeout(timer);
  }, [nameDraft, subjectDraft, name, subject, location]);

  const setFilter = (changes: Record<string, string | undefined>) => navigate(withQuery(location, changes));
  const total = counts.data ? Object.values(counts.data).reduce((a, b) => a + b, 0) : undefined;

  return (
    <section>
      <div className="page-head">
        <h1>API keys</h1>
        <div className="actions">
          {admin ? (
            <button
              type="button"
              className="button"
              disabled={startExport.isPending}
              onClick={() => startExport.mutate({ resource: "api_keys", filters: { ...filters, status } })}
            >
              Export CSV
            </button>
          ) : null}
          {admin ? (
            <Link href="/keys/new" className="button primary">
              Create API key
            </Link>
          ) : null}
        </div>
      </div>
      <ExportResult state={startExport} />

      <nav className="tabs" aria-label="Status">
        <button
          type="button"
          className="tab"
          aria-pressed={status === undefined}
          onClick={() => setFilter({ status: undefined })}
        >
          All <span className="tab-count">{total === undefined ? "…" : count(total)}</span>
        </button>
        {KEY_STATUS_WORDS.map((s) => (
          <button
            key={s}
            type="button"
            className="tab"
            aria-pressed={status === s}
            onClick={() => setFilter({ status: s })}
          >
            <span className={`dot dot-${s}`} aria-hidden="true" /> {STATUS_LABELS[s]}{" "}
            <span className="tab-count">{counts.data ? count(counts.data[s]) : "…"}</span>
          </button>
        ))}
      </nav>

      <form className="filters" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          <span>Name</span>
          <input
            type="search"
            value={nameDraft}
            placeholder="Search names"
            onChange={(e) => setNameDraft(e.target.value)}
          />
        </label>
        <label>
          <span>Status</span>
          <select value={status ?? ""} onChange={(e) => setFilter({ status: e.target.value })}>
            <option value="">Any status</option>
            {KEY_STATUS_WORDS.map((s) => (
              <option key={s} value={s}>
                {STATUS_LABELS[s]}
              </option>
            ))}
          </select>
        </label>
        <label>
          <span>Permission</span>
          <select value={permission ?? ""} onChange={(e) => setFilter({ permission: e.target.value })}>
            <option value="">Any permission</option>
            {PERMISSION_WORDS.map((p) => (
              <option key={p} value={p}>
                {PERMISSION_LABELS[p]}
              </option>
            ))}
          </select>
        </label>
        <label>
          <span>Subject</span>
          <input value={subjectDraft} placeholder="user_123" onChange={(e) => setSubjectDraft(e.target.value)} />
        </label>
      </form>

      <ErrorNote error={keys.error} />
      {keys.data ? (
        <KeysTable keys={keys.data.keys} />
      ) : keys.isPending ? (
        <p className="muted">Loading API keys…</p>
      ) : null}
      {keys.data && keys.data.keys.length === 0 ? (
        <p className="empty">
          {status || permission || subject || name ? "No API key matches these filters." : "No API keys yet."}
        </p>
      ) : null}
      <Pager
        hasPrevious={paging.hasPrevious}
        next={keys.data?.nextPageToken ?? null}
        onPrevious={paging.previous}
        onNext={() => paging.next(keys.data?.nextPageToken ?? null)}
      />
    </section>
  );
}

function KeysTable({ keys }: { keys: Key[] }) {
  return (
    <div className="table-wrap">
      <table className="table cards">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Token</th>
            <th scope="col">Permission</th>
            <th scope="col">Domain</th>
            <th scope="col">Subject</th>
            <th scope="col">Created</th>
            <th scope="col">Last used</th>
            <th scope="col" className="num">
              Requests
            </th>
            <th scope="col">Status</th>
          </tr>
        </thead>
        <tbody>
          {keys.map((key) => (
            <tr key={key.id}>
              <td data-label="Name" className="name-cell">
                <Link href={`/keys/${key.id}`}>{key.name}</Link>
                {key.rotatedToId && key.status !== "revoked" ? (
                  <span className="sub">
                    Rotated, in grace · <Link href={`/keys/${key.rotatedToId}`}>successor</Link>
                  </span>
                ) : null}
              </td>
              <td data-label="Token" className="mono">
                {key.tokenHint}
              </td>
              <td data-label="Permission">{PERMISSION_LABELS[key.permission]}</td>
              <td data-label="Domain">{key.domainId ?? <span className="muted">—</span>}</td>
              <td data-label="Subject">{key.subject ?? <span className="muted">—</span>}</td>
              <td data-label="Created">
                <time dateTime={key.createTime ?? undefined} title={absoluteTime(key.createTime)}>
                  {relativeTime(key.createTime)}
                </time>
              </td>
              <td data-label="Last used">
                <time dateTime={key.lastUsedTime ?? undefined} title={absoluteTime(key.lastUsedTime, "never used")}>
                  {relativeTime(key.lastUsedTime, "never")}
                </time>
              </td>
              <td data-label="Requests" className="num">
                <Link
                  href={`/keys/${key.id}#logs`}
                  aria-label={`${count(key.requestCount)} requests: logs of ${key.name}`}
                >
                  {count(key.requestCount)}
                </Link>
              </td>
              <td data-label="Status">
                <StatusBadge keyItem={key} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
