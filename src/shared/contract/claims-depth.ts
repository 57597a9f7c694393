/**
 * How deep claims may nest, the same at the gateway and the service: deeper
 * than this is no claim set anyone means. The gateway measures it before it
 * parses or encodes anything (so a 10,000-deep array costs a loop, not the
 * stack), and the service again on what arrives.
 */
export const CLAIMS_MAX_DEPTH = 32;

/**
 * The path (keys and indexes) of the first value nested deeper than
 * `maxDepth` arrays or objects, or undefined when none is. Iterative: the
 * input may be nested far deeper than the stack allows.
 */
export function pathTooDeep(value: unknown, maxDepth = CLAIMS_MAX_DEPTH): (string | number)[] | undefined {
  const stack: { value: unknown; path: (string | number)[] }[] = [{ value, path: [] }];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    if (next.value === null || typeof next.value !== "object") continue;
    if (next.path.length > maxDepth) return next.path;
    const entries: [string | number, unknown][] = Array.isArray(next.value)
      ? next.value.map((item, i) => [i, item])
      : Object.entries(next.value);
    for (const [key, item] of entries) stack.push({ value: item, path: [...next.path, key] });
  }
  return undefined;
}
