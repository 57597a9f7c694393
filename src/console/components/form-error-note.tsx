import { ErrorNote } from "./error-note.js";

/** The gateway's refusal of a form, unless its messages already stand at their fields. */
export function FormErrorNote({ error, fieldErrors }: { error: unknown; fieldErrors: Record<string, string> }) {
  if (Object.keys(fieldErrors).length > 0) return null;
  return <ErrorNote error={error} />;
}
