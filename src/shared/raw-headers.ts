/**
 * Whether Node's raw headers (name, value, name, value, …) carry `name` (lower
 * case) more than once. Node keeps only the first value of a repeated
 * `authorization`, so a right and a wrong credential would pass or fail by
 * their order; the transports refuse such a request instead.
 */
export function isRepeatedHeader(rawHeaders: readonly string[], name: string): boolean {
  let seen = false;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const raw = rawHeaders[i];
    if (raw !== undefined && raw.length === name.length && raw.toLowerCase() === name) {
      if (seen) return true;
      seen = true;
    }
  }
  return false;
}
