import { keepPreviousData, type UseMutationResult, useMutation, useQuery } from "@tanstack/react-query";
import { ErrorNote } from "../components/bits.js";
import { CardTable } from "../components/card-table.js";
import { PagedList } from "../components/paged-list.js";
import { RelativeTime } from "../components/relative-time.js";
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
import { useInvalidate } from "../hooks/use-invalidate.js";
import { usePaging } from "../paging.js";
import { Link } from "../router.js";
import { useIsAdmin } from "../session.js";
import { type ExportEntry, type Inputs, type Outputs, trpc } from "../trpc.js";

/** The path and query of a download link: the browser fetches it from this origin, with the session cookie. */
export function downloadPath(url: string): string {
  const u = new URL(url, window.location.origin);
  return `${u.pathname}${u.search}`;
}

type StartExport = UseMutationResult<Outputs["exports"]["create"], unknown, Inputs["exports"]["create"]>;

/** exports.create: at most 1,000 rows download at once; more are written by a worker and mailed as a link. */
export function useStartExport(): StartExport {
  const exportsChanged = useInvalidate(trpc.exports.list.queryKey());
  return useMutation(
    trpc.exports.create.mutationOptions({
      onSuccess: async (answer) => {
        if (answer.downloadUrl) window.location.assign(downloadPath(answer.downloadUrl));
        await exportsChanged();
      },
    }),
  ) as StartExport;
}

export function ExportResult({ state }: { state: StartExport }) {
  if (state.isPending)
    return (
      <p className="note" aria-live="polite">
        Preparing the export…
      </p>
    );
  if (state.error) return <ErrorNote error={state.error} />;
  const answer = state.data;
  if (!answer) return null;
  if (answer.downloadUrl) {
    return (
      <p className="note" aria-live="polite">
        Exported {count(answer.export.rowCount)} rows: the download has started.{" "}
        <a href={downloadPath(answer.downloadUrl)}>Download again</a>
      </p>
    );
  }
  return (
    <p className="note" aria-live="polite">
      This export has {count(answer.export.matchingRows)} rows, more than 1,000: a link will be mailed to you when the
      file is ready. It is also listed under <Link href="/exports">Exports</Link>.
    </p>
  );
}

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
