import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { AUDIT_ACTION_WORDS } from "../../shared/contract/words.js";
import { CardTable } from "../components/card-table.js";
import { FilterSelect } from "../components/filter-select.js";
import { PagedList } from "../components/paged-list.js";
import { RelativeTime } from "../components/relative-time.js";
import { useUrlTextFilters } from "../hooks/use-url-text-filters.js";
import { usePaging } from "../paging.js";
import { Link, navigate, useLocation, withQuery } from "../router.js";
import { trpc } from "../trpc.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Who did what to which key, newest first; filters (key, actor, action) in the URL. */
export function AuditPage() {
  const location = useLocation();
  const keyId = location.query.get("key")?.trim() || undefined;
  const actor = location.query.get("actor")?.trim() || undefined;
  const action = location.query.get("action")?.trim() || undefined;
  const validKey = keyId === undefined || UUID.test(keyId);
  const paging = usePaging(JSON.stringify({ keyId, actor, action }));
  const events = useQuery({
    ...trpc.audit.list.queryOptions({
      keyId: validKey ? keyId : undefined,
      actor,
      action,
      pageSize: 50,
      pageToken: paging.pageToken,
    }),
    placeholderData: keepPreviousData,
    enabled: validKey,
  });

  const [drafts, setDraft] = useUrlTextFilters({ key: keyId, actor }, 400);

  return (
    <section>
      <div className="page-head">
        <h1>Audit log</h1>
      </div>
      <form className="filters" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          <span>Key id</span>
          <input value={drafts.key} placeholder="0190…" onChange={(e) => setDraft("key", e.target.value)} />
        </label>
        <label>
          <span>Actor</span>
          <input
            value={drafts.actor}
            placeholder="ops@example.com"
            onChange={(e) => setDraft("actor", e.target.value)}
          />
        </label>
        <FilterSelect
          label="Action"
          anyLabel="Any action"
          value={action}
          choices={AUDIT_ACTION_WORDS}
          labelOf={(a) => a}
          onChange={(a) => navigate(withQuery(location, { action: a }))}
        />
      </form>
      {!validKey ? <p className="error">A key id is a UUID, e.g. 0190d3c2-…</p> : null}
      <PagedList query={events} items={events.data?.events} paging={paging} empty="No audit events match.">
        {(list) => (
          <CardTable columns={["When", "Actor", "Action", "Key", "What"]}>
            {list.map((e) => (
              <tr key={e.id}>
                <td data-label="When">
                  <RelativeTime time={e.time} />
                </td>
                <td data-label="Actor">{e.actor}</td>
                <td data-label="Action">
                  <code>{e.action}</code>
                </td>
                <td data-label="Key">
                  {e.keyId ? (
                    <Link href={`/keys/${e.keyId}`}>{e.keyId.slice(0, 8)}…</Link>
                  ) : (
                    <span className="muted">—</span>
                  )}
                </td>
                <td data-label="What">
                  {e.summary}
                  {e.changedFields.length ? <span className="sub">changed: {e.changedFields.join(", ")}</span> : null}
                </td>
              </tr>
            ))}
          </CardTable>
        )}
      </PagedList>
    </section>
  );
}
