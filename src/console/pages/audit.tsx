import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { AUDIT_ACTION_WORDS } from "../../shared/contract/words.js";
import { ErrorNote, Pager } from "../components/bits.js";
import { absoluteTime, relativeTime } from "../format.js";
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

  const [keyDraft, setKeyDraft] = useState(keyId ?? "");
  const [actorDraft, setActorDraft] = useState(actor ?? "");
  useEffect(() => setKeyDraft(keyId ?? ""), [keyId]);
  useEffect(() => setActorDraft(actor ?? ""), [actor]);
  useEffect(() => {
    const timer = setTimeout(() => {
      if (keyDraft.trim() !== (keyId ?? "") || actorDraft.trim() !== (actor ?? "")) {
        navigate(withQuery(location, { key: keyDraft.trim(), actor: actorDraft.trim() }), { replace: true });
      }
    }, 400);
    return () => clearTimeout(timer);
  }, [keyDraft, actorDraft, keyId, actor, location]);

  return (
    <section>
      <div className="page-head">
        <h1>Audit log</h1>
      </div>
      <form className="filters" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          <span>Key id</span>
          <input value={keyDraft} placeholder="0190…" onChange={(e) => setKeyDraft(e.target.value)} />
        </label>
        <label>
          <span>Actor</span>
          <input value={actorDraft} placeholder="ops@example.com" onChange={(e) => setActorDraft(e.target.value)} />
        </label>
        <label>
          <span>Action</span>
          <select value={action ?? ""} onChange={(e) => navigate(withQuery(location, { action: e.target.value }))}>
            <option value="">Any action</option>
            {AUDIT_ACTION_WORDS.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        </label>
      </form>
      {!validKey ? <p className="error">A key id is a UUID, e.g. 0190d3c2-…</p> : null}
      <ErrorNote error={events.error} />
      {events.data?.events.length === 0 ? <p className="empty">No audit events match.</p> : null}
      {events.data && events.data.events.length > 0 ? (
        <div className="table-wrap">
          <table className="table cards">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Actor</th>
                <th scope="col">Action</th>
                <th scope="col">Key</th>
                <th scope="col">What</th>
              </tr>
            </thead>
            <tbody>
              {events.data.events.map((e) => (
                <tr key={e.id}>
                  <td data-label="When">
                    <time dateTime={e.time ?? undefined} title={absoluteTime(e.time)}>
                      {relativeTime(e.time)}
                    </time>
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
            </tbody>
          </table>
        </div>
      ) : null}
      <Pager
        hasPrevious={paging.hasPrevious}
        next={events.data?.nextPageToken ?? null}
        onPrevious={paging.previous}
        onNext={() => paging.next(events.data?.nextPageToken ?? null)}
      />
    </section>
  );
}
