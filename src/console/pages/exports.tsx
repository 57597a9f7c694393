import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { CardTable } from "../components/card-table.js";
import { PagedList } from "../components/paged-list.js";
import { RelativeTime } from "../components/relative-time.js";
import { downloadPath } from "../download-path.js";
import {
  absoluteTime,
  bytes,
  count,
  daysUntil,
  OUTCOME_LABELS,
  PERMISSION_LABELS,
  relativeTime,
  STATUS_LABELS,
} from "../format.js";
import { usePaging } from "../paging.js";
import { useIsAdmin } from "../session.js";
import { type ExportEntry, trpc } from "../trpc.js";

const STATE_LABELS = { pending: "Pending", ready: "Ready", failed: "Failed", expired: "Expired" } as const;

/** Every export, newest first: members see the list, admins also download. */
export function ExportsPage() {
  const admin = useIsAdmin();
  const paging = usePaging("exports");
  const exportsList = useQuery({
    ...trpc.exports.list.queryOptions({ pageSize: 25, pageToken: paging.pageToken }),
    placeholderData: keepPreviousData,
    // A pending export becomes ready while the page is open.
    refetchInterval: (query) => (query.state.data?.exports.some((e) => e.state === "pending") ? 3_000 : false),
  });
  return (
    <section>
      <div className="page-head">
        <h1>Exports</h1>
      </div>
      <p className="muted">
        CSV exports of API keys (from the API keys page) and of a key's request logs (from its page). Up to 1,000 rows
        download at once; larger ones are mailed as a link. Files are kept for 7 days
        {admin ? "." : "; only admins can download them."}
      </p>
      <PagedList query={exportsList} items={exportsList.data?.exports} paging={paging} empty="No exports yet.">
        {(list) => (
          <CardTable
            columns={[
              "Created",
              "What",
              "State",
              { label: "Rows", numeric: true },
              { label: "Size", numeric: true },
              "Asked by",
              "Expires",
              admin && "Download",
            ]}
          >
            {list.map((e) => (
              <ExportRow key={e.id} entry={e} admin={admin} />
            ))}
          </CardTable>
        )}
      </PagedList>
    </section>
  );
}

function ExportRow({ entry: e, admin }: { entry: ExportEntry; admin: boolean }) {
  const expired = e.state === "expired" || (daysUntil(e.expireTime) ?? 1) <= 0;
  const state = expired ? "expired" : (e.state ?? "pending");
  return (
    <tr className={expired ? "row-expired" : undefined}>
      <td data-label="Created">
        <RelativeTime time={e.createTime} />
      </td>
      <td data-label="What">
        {e.resource === "key_logs" ? "Request logs" : "API keys"}
        <span className="sub">{filterSummary(e)}</span>
      </td>
      <td data-label="State">
        <span className={`export-state export-${state}`}>{STATE_LABELS[state]}</span>
        {e.state === "failed" && e.error ? <span className="sub">{e.error}</span> : null}
      </td>
      <td data-label="Rows" className="num">
        {e.state === "ready" ? count(e.rowCount) : count(e.matchingRows)}
      </td>
      <td data-label="Size" className="num">
        {e.state === "ready" ? bytes(e.byteSize) : "—"}
      </td>
      <td data-label="Asked by">{e.requestedBy}</td>
      <td data-label="Expires">
        <time dateTime={e.expireTime ?? undefined} title={absoluteTime(e.expireTime)}>
          {expired ? "Expired" : relativeTime(e.expireTime)}
        </time>
      </td>
      {admin ? (
        <td data-label="Download">
          {e.downloadUrl && !expired ? (
            <a href={downloadPath(e.downloadUrl)} download>
              Download CSV
            </a>
          ) : (
            <span className="muted">—</span>
          )}
        </td>
      ) : null}
    </tr>
  );
}

function filterSummary(e: ExportEntry): string {
  const f = e.filters;
  const parts: string[] = [];
  if (f.status) parts.push(STATUS_LABELS[f.status]);
  if (f.permission) parts.push(PERMISSION_LABELS[f.permission]);
  if (f.subject) parts.push(`subject ${f.subject}`);
  if (f.nameContains) parts.push(`name “${f.nameContains}”`);
  if (f.keyId) parts.push(`key ${f.keyId.slice(0, 8)}…`);
  if (f.code) parts.push(OUTCOME_LABELS[f.code]);
  return parts.length ? parts.join(", ") : "all";
}
