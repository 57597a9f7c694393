import { type UseMutationResult, useMutation } from "@tanstack/react-query";
import { downloadPath } from "../download-path.js";
import { type Inputs, type Outputs, trpc } from "../trpc.js";
import { useInvalidate } from "./use-invalidate.js";

export type StartExport = UseMutationResult<Outputs["exports"]["create"], unknown, Inputs["exports"]["create"]>;

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
