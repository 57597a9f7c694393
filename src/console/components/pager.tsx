import type { Paging } from "../paging.js";

/** Keyset paging: back through the tokens seen, forward with the answer's next token. */
export function Pager({ paging, next }: { paging: Paging; next: string | null | undefined }) {
  if (!paging.hasPrevious && !next) return null;
  return (
    <nav className="pager" aria-label="Pages">
      <button type="button" className="button" disabled={!paging.hasPrevious} onClick={paging.previous}>
        Previous
      </button>
      <button type="button" className="button" disabled={!next} onClick={() => paging.next(next ?? null)}>
        Next
      </button>
    </nav>
  );
}
