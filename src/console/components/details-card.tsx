import type { ReactNode } from "react";

export type DetailRow = { label: string; value: ReactNode };
export const detailRow = (label: string, value: ReactNode): DetailRow => ({ label, value });

/** The "Details" card of a key or an endpoint: every field as a label and its value. */
export function DetailsCard({ rows }: { rows: DetailRow[] }) {
  return (
    <section className="card" aria-labelledby="details-heading">
      <h2 id="details-heading">Details</h2>
      <dl className="details">
        {rows.map(({ label, value }) => (
          <div key={label}>
            <dt>{label}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}
