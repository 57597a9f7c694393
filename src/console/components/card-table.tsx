import type { ReactNode } from "react";

/** A column head: its label, right-aligned when it holds numbers, or only for screen readers (an actions column). */
export type Column = string | { label: string; numeric?: boolean; hiddenLabel?: boolean };

/**
 * A table that turns into one card per row on phones (styles.css labels each
 * cell from its data-label). Columns that are false are left out, so that a
 * column shown to admins only reads as `admin && "Download"`.
 */
export function CardTable({ columns, children }: { columns: Array<Column | false>; children: ReactNode }) {
  return (
    <div className="table-wrap">
      <table className="table cards">
        <thead>
          <tr>
            {columns.map((column) => (column === false ? null : <ColumnHead key={labelOf(column)} column={column} />))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}

const labelOf = (column: Column) => (typeof column === "string" ? column : column.label);

function ColumnHead({ column }: { column: Column }) {
  if (typeof column === "string") return <th scope="col">{column}</th>;
  return (
    <th scope="col" className={column.numeric ? "num" : undefined}>
      {column.hiddenLabel ? <span className="visually-hidden">{column.label}</span> : column.label}
    </th>
  );
}
