import { errorMessage } from "../trpc.js";

/** The gateway's refusal (or any failure) as one sentence, announced to screen readers. */
export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <p className="error" role="alert">
      {errorMessage(error)}
    </p>
  );
}
