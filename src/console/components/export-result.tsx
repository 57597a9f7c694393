import { downloadPath } from "../download-path.js";
import { count } from "../format.js";
import type { StartExport } from "../hooks/use-start-export.js";
import { Link } from "../router.js";
import { ErrorNote } from "./error-note.js";

/** What became of an export just asked for: downloading now, mailed later, or the gateway's refusal. */
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
