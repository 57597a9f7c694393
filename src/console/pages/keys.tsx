import { keepPreviousData, useQuery } from "@tanstack/react-query";
import {
  KEY_STATUS_WORDS,
  type KeyStatusWord,
  PERMISSION_WORDS,
  type PermissionWord,
} from "../../shared/contract/words.js";
import { CardTable } from "../components/card-table.js";
import { ExportResult } from "../components/export-result.js";
import { FilterSelect } from "../components/filter-select.js";
import { PagedList } from "../components/paged-list.js";
import { RelativeTime } from "../components/relative-time.js";
import { StatusBadge } from "../components/status.js";
import { count, PERMISSION_LABELS, STATUS_LABELS } from "../format.js";
import { useStartExport } from "../hooks/use-start-export.js";
import { useUrlTextFilters } from "../hooks/use-url-text-filters.js";
import { usePaging } from "../paging.js";
import { Link, navigate, useLocation, withQuery } from "../router.js";
import { useIsAdmin } from "../session.js";
import { type Key, trpc } from "../trpc.js";

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

  // Typing narrows the list after a pause; the URL keeps the filter.
  const [drafts, setDraft] = useUrlTextFilters({ name, subject }, 300);

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
            value={drafts.name}
            placeholder="Search names"
            onChange={(e) => setDraft("name", e.target.value)}
          />
        </label>
        <FilterSelect
          label="Status"
          anyLabel="Any status"
          value={status}
          choices={KEY_STATUS_WORDS}
          labelOf={(s) => STATUS_LABELS[s]}
          onChange={(s) => setFilter({ status: s })}
        />
        <FilterSelect
          label="Permission"
          anyLabel="Any permission"
          value={permission}
          choices={PERMISSION_WORDS}
          labelOf={(p) => PERMISSION_LABELS[p]}
          onChange={(p) => setFilter({ permission: p })}
        />
        <label>
          <span>Subject</span>
          <input value={drafts.subject} placeholder="user_123" onChange={(e) => setDraft("subject", e.target.value)} />
        </label>
      </form>

      <PagedList
        query={keys}
        items={keys.data?.keys}
        paging={paging}
        loading="Loading API keys…"
        empty={status || permission || subject || name ? "No API key matches these filters." : "No API keys yet."}
        headsWhenEmpty
      >
        {(list) => <KeysTable keys={list} />}
      </PagedList>
    </section>
  );
}

function KeysTable({ keys }: { keys: Key[] }) {
  return (
    <CardTable
      columns={[
        "Name",
        "Token",
        "Permission",
        "Domain",
        "Subject",
        "Created",
        "Last used",
        { label: "Requests", numeric: true },
        "Status",
      ]}
    >
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
            <RelativeTime time={key.createTime} />
          </td>
          <td data-label="Last used">
            <RelativeTime time={key.lastUsedTime} never="never" neverTitle="never used" />
          </td>
          <td data-label="Requests" className="num">
            <Link href={`/keys/${key.id}#logs`} aria-label={`${count(key.requestCount)} requests: logs of ${key.name}`}>
              {count(key.requestCount)}
            </Link>
          </td>
          <td data-label="Status">
            <StatusBadge keyItem={key} />
          </td>
        </tr>
      ))}
    </CardTable>
  );
}
