import { Code, ConnectError } from "@connectrpc/connect";

/**
 * A failure as one sentence for the admin's mail and the export's `error`
 * field: what went wrong, never a stack, a token or a header.
 */
export function failureText(error: unknown): string {
  if (error instanceof ConnectError) {
    if (error.code === Code.Unavailable || error.code === Code.DeadlineExceeded) {
      return "the key service was unavailable while the rows were read";
    }
    return `the key service refused the export (${Code[error.code]}): ${error.rawMessage}`.slice(0, 500);
  }
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === "EACCES" || code === "EPERM" || code === "EROFS")
    return "the export file could not be written: permission denied";
  if (code === "ENOSPC") return "the export file could not be written: the disk is full";
  if (typeof code === "string" && /^E[A-Z]+$/.test(code)) return `the export failed: ${code}`;
  const message = error instanceof Error ? error.message : String(error);
  return `the export failed: ${message}`.slice(0, 500);
}
