const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `check` every 50 ms until it stops throwing, and returns its value; past `timeoutMs` its last error is thrown. */
export async function eventually<T>(check: () => Promise<T> | T, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(50);
    }
  }
}
