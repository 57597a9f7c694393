import { daysUntil, relativeTime, STATUS_LABELS } from "../format.js";
import type { Key } from "../trpc.js";

/** A key's status: a coloured dot beside the word (colour is never the only sign), and "expires soon" within 7 days. */
export function StatusBadge({ keyItem }: { keyItem: Pick<Key, "status" | "expireTime"> }) {
  const status = keyItem.status ?? "active";
  const days = daysUntil(keyItem.expireTime);
  const soon = status === "active" || status === "inactive" ? days !== undefined && days >= 0 && days <= 7 : false;
  return (
    <span className="status-cell">
      <span className={`status status-${status}`}>
        <span className="dot" aria-hidden="true" />
        {STATUS_LABELS[status]}
      </span>
      {soon && days !== undefined ? (
        <span className="tag tag-warn" title={`expires ${new Date(keyItem.expireTime ?? "").toISOString()}`}>
          Expires {relativeTime(keyItem.expireTime)}
        </span>
      ) : null}
    </span>
  );
}
