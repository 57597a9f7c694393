import { useEffect, useState } from "react";
import { navigate, useLocation, withQuery } from "../router.js";

type Texts<P extends string> = Record<P, string>;

/**
 * Text filters kept in the URL's query: the inputs show drafts, the URL
 * follows them after a pause in typing (replacing the history entry, so
 * that Back does not replay each keystroke), and a draft follows its URL
 * value when that changes otherwise (Back, a link).
 *
 * `current` maps each query parameter to its value in the URL, trimmed.
 */
export function useUrlTextFilters<P extends string>(
  current: Record<P, string | undefined>,
  pauseMs: number,
): [Texts<P>, (param: P, text: string) => void] {
  const location = useLocation();
  const [drafts, setDrafts] = useState<Texts<P>>(() => textsOf(current));
  const [followed, setFollowed] = useState(current);

  const moved = paramsOf(current).filter((p) => current[p] !== followed[p]);
  if (moved.length > 0) {
    // Set while rendering: React renders again at once, before the stale draft is seen.
    setFollowed(current);
    setDrafts((before) => ({ ...before, ...textsOf(current, moved) }));
  }

  // useLocation and `current` are new objects at each render: the timer must restart only when the
  // typed text or the URL changes, not when a list's answer re-renders the page mid-pause.
  const { path } = location;
  const search = location.query.toString();
  useEffect(() => {
    const timer = setTimeout(() => {
      const query = new URLSearchParams(search);
      const params = paramsOf(drafts);
      const typed = params.filter((p) => drafts[p].trim() !== (query.get(p)?.trim() ?? ""));
      if (typed.length > 0) {
        const changes = Object.fromEntries(params.map((p) => [p, drafts[p].trim()]));
        navigate(withQuery({ path, query }, changes), { replace: true });
      }
    }, pauseMs);
    return () => clearTimeout(timer);
  }, [drafts, path, search, pauseMs]);

  const setDraft = (param: P, text: string) => setDrafts((before) => ({ ...before, [param]: text }));
  return [drafts, setDraft];
}

const paramsOf = <P extends string>(values: Record<P, unknown>) => Object.keys(values) as P[];

function textsOf<P extends string>(values: Record<P, string | undefined>, params = paramsOf(values)): Texts<P> {
  return Object.fromEntries(params.map((p) => [p, values[p] ?? ""])) as Texts<P>;
}
