import pg from "pg";
import type { Logger } from "../../../shared/logger.js";
import { KEY_CHANGES_CHANNEL } from "../migrations.js";

const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 5_000;

/**
 * LISTENs for committed key changes on a connection of its own (not from
 * the pool: a pooled connection would be handed to other work). Calls
 * `onWake` for each notification, `onConnected(false)` as soon as the
 * connection fails or ends, and `onConnected(true)` once LISTEN runs again
 * (the first time too). It reconnects with exponential backoff, 100 ms to
 * 5 s. A notification missed while disconnected is not replayed: a follower
 * reads the change record when it is connected again. Returns the stop
 * function; after it resolves, no callback runs.
 */
export function listenForChanges(
  config: pg.ClientConfig,
  onWake: () => void,
  onConnected: (connected: boolean) => void,
  logger?: Logger,
): () => Promise<void> {
  let stopped = false;
  let client: pg.Client | undefined;
  let timer: NodeJS.Timeout | undefined;
  let delay = FIRST_RETRY_MS;
  let connected: boolean | undefined;

  const report = (now: boolean) => {
    if (stopped || connected === now) return;
    connected = now;
    onConnected(now);
  };

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(connect, delay);
    delay = Math.min(delay * 2, MAX_RETRY_MS);
  };

  async function connect(): Promise<void> {
    timer = undefined;
    if (stopped) return;
    const c = new pg.Client(config);
    client = c;
    let failed = false;
    const fail = (error?: Error) => {
      if (failed) return;
      failed = true;
      if (client === c) client = undefined;
      if (!stopped && error !== undefined)
        logger?.warn({ err: error }, "postgres: the change listener lost its connection");
      c.end().catch(() => {});
      report(false);
      schedule();
    };
    // Kept for the connection's whole life: an 'error' without a listener would crash the process.
    c.on("error", fail);
    c.on("end", () => fail());
    c.on("notification", (message) => {
      if (!stopped && !failed && message.channel === KEY_CHANGES_CHANNEL) onWake();
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${KEY_CHANGES_CHANNEL}`);
    } catch (error) {
      fail(error as Error);
      return;
    }
    if (stopped || failed) return;
    delay = FIRST_RETRY_MS;
    report(true);
  }

  void connect();

  return async () => {
    stopped = true;
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    const c = client;
    client = undefined;
    await c?.end().catch(() => {});
  };
}
