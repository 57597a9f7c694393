import { useState } from "react";

/**
 * Keyset paging: the page tokens walked through so far, reset whenever what
 * is listed (`scope`, e.g. the filters) changes.
 */
export function usePaging(scope: string) {
  const [state, setState] = useState<{ scope: string; stack: string[] }>({ scope, stack: [] });
  const stack = state.scope === scope ? state.stack : [];
  return {
    pageToken: stack[stack.length - 1],
    hasPrevious: stack.length > 0,
    next(token: string | null) {
      if (token) setState({ scope, stack: [...stack, token] });
    },
    previous() {
      setState({ scope, stack: stack.slice(0, -1) });
    },
  };
}

export type Paging = ReturnType<typeof usePaging>;
