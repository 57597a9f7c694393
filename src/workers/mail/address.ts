/** Whether a claims.email or requested_by is something a mail can be sent to (`key:<id>` is not). */
export function isEmail(value: string): boolean {
  return /^[^\s@<>,;]+@[^\s@<>,;]+\.[^\s@<>,;]+$/.test(value);
}
