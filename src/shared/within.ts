/**
 * The promise's value, or undefined if it has not settled within `ms`. A
 * rejection before then rejects; one after it is ignored, so a promise left
 * behind never becomes an unhandled rejection.
 */
export function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  promise.catch(() => undefined);
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}
