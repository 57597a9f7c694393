import { type QueryKey, useQueryClient } from "@tanstack/react-query";

/** After a change: marks these queries stale, so that every list and page showing them loads again. */
export function useInvalidate(queryKey: QueryKey): () => Promise<void> {
  const queryClient = useQueryClient();
  return () => queryClient.invalidateQueries({ queryKey });
}
