import type { Queue, Worker } from "bullmq";
import type { Logger } from "../logger.js";
import { within } from "../within.js";

type RedisClient = { status: string; disconnect(reconnect?: boolean): void };

/**
 * Closes a BullMQ worker or queue without hanging when Redis is away.
 *
 * A graceful close waits for the running job and quits the connections,
 * which works while Redis answers. While a connection is reconnecting, the
 * blocking connection's disconnect waits for an "end" that never comes, so
 * then the worker is closed by force (the running job's lock lapses and the
 * job runs again later, which it is written to survive). Whatever happens,
 * no socket or reconnect timer of it outlives this call.
 */
export async function closeBullmq(
  target: Worker | Queue,
  options: { logger: Logger; name: string; limitMs: number; isWorker: boolean },
): Promise<void> {
  const backend = target.getBackend();
  const clients = (
    await Promise.all([settled(backend.client), backend.blockingClient ? settled(backend.blockingClient) : undefined])
  ).filter((c): c is RedisClient => c !== undefined);
  const healthy = clients.length > 0 && clients.every((c) => c.status === "ready");
  const closing = options.isWorker ? (target as Worker).close(!healthy) : target.close();
  const finished = await within(
    closing.then(
      () => true,
      (error: unknown) => {
        options.logger.debug({ reason: (error as Error).message, part: options.name }, "closing with Redis away");
        return true;
      },
    ),
    options.limitMs,
  );
  if (!finished) options.logger.warn({ part: options.name }, "did not stop in time; dropping its Redis connections");
  for (const client of clients) if (client.status !== "end") client.disconnect();
}

/** The client once connected, or undefined if it is still waiting for Redis a moment later. */
function settled(client: Promise<unknown>): Promise<RedisClient | undefined> {
  return within(
    client.then(
      (c) => c as RedisClient,
      () => undefined,
    ),
    200,
  );
}
