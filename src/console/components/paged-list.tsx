import type { ReactNode } from "react";
import type { Paging } from "../paging.js";
import { ErrorNote } from "./error-note.js";
import { Pager } from "./pager.js";

/** What a keyset-paged list query gives this component: useQuery's result, narrowed. */
interface PagedQuery {
  error: unknown;
  isPending: boolean;
  data?: { nextPageToken?: string | null } | undefined;
}

/**
 * One page of a keyset-paged list and its states: the error, a loading note
 * while the first page comes (only where `loading` is given), the rows or the
 * empty note, and the pager under them.
 */
export function PagedList<T>(props: {
  query: PagedQuery;
  items: T[] | undefined;
  paging: Paging;
  empty: ReactNode;
  loading?: string;
  /** The API keys list has always kept its column heads above the empty note; the other lists show the note alone. */
  headsWhenEmpty?: boolean;
  children: (items: T[]) => ReactNode;
}) {
  const { query, items } = props;
  const showRows = items !== undefined && (items.length > 0 || props.headsWhenEmpty);
  return (
    <>
      <ErrorNote error={query.error} />
      {showRows ? props.children(items) : null}
      {!showRows && query.isPending && props.loading ? <p className="muted">{props.loading}</p> : null}
      {items?.length === 0 ? <p className="empty">{props.empty}</p> : null}
      <Pager paging={props.paging} next={query.data?.nextPageToken} />
    </>
  );
}
