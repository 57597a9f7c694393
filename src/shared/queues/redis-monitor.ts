import { Redis } from "ioredis";
import type { Logger } from "../logger.js";
import { reconnectDelay } from "./queues.js";

/** Whether Redis answers, as one small connection sees it. */
export interface RedisMonitor {
  /** True once connected and until the connection drops. */
  isUp(): boolean;
  /** True once Redis has answered at least once since start. */
  everUp(): boolean;
  /** Resolves true as soon as Redis is up, false after timeoutMs (for the first moments after start). */
  whenUp(timeoutMs: number): Promise<boolean>;
  /** Called on every (re)connection, e.g. to re-create a schedule lost with Redis's data. */
  onUp(listener: () => void): void;
  close(): Promise<void>;
}

export interface RedisMonitorOptions {
  redisUrl: string;
  logger: Logger;
  /** What pauses while Redis is away, for the log line: "exports and sweeps". */
  pausedWork: string;
}

/**
 * Watches one Redis connection and says so, once, when Redis goes away and
 * when it comes back, instead of a line per failed reconnect. BullMQ's own
 * connections reconnect by themselves; this one only reports.
 */
export function createRedisMonitor(options: RedisMonitorOptions): RedisMonitor {
  const { logger } = options;
  const redis = new Redis(options.redisUrl, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 2_000,
    retryStrategy: reconnectDelay,
    connectionName: "keyward-redis-monitor",
  });
  const listeners: Array<() => void> = [];
  let up = false;
  let everUp = false;
  let reportedDown = false;
  let closing = false;

  const wentDown = (reason: string) => {
    up = false;
    if (reportedDown || closing) return;
    reportedDown = true;
    // The URL may hold a password: only its host is logged.
    logger.error(
      { redis: redisHost(options.redisUrl), reason },
      `REDIS IS UNREACHABLE: ${options.pausedWork} are paused until it is back (reconnecting by itself); key verification is not affected`,
    );
  };

  redis.on("ready", () => {
    up = true;
    everUp = true;
    if (reportedDown)
      logger.info({ redis: redisHost(options.redisUrl) }, `Redis is back: ${options.pausedWork} resume`);
    reportedDown = false;
    for (const listener of listeners) listener();
  });
  redis.on("error", (error: Error) => wentDown(error.message));
  redis.on("close", () => {
    if (up) wentDown("connection closed");
  });

  return {
    isUp: () => up,
    everUp: () => everUp,
    whenUp(timeoutMs) {
      if (up) return Promise.resolve(true);
      return new Promise((resolve) => {
        const timer = setTimeout(() => resolve(false), timeoutMs);
        redis.once("ready", () => {
          clearTimeout(timer);
          resolve(true);
        });
      });
    },
    onUp(listener) {
      listeners.push(listener);
      if (up) listener();
    },
    async close() {
      closing = true;
      redis.disconnect();
    },
  };
}

/** host:port of a Redis URL, without credentials. */
export function redisHost(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || "6379"}`;
  } catch {
    return "(unparseable REDIS_URL)";
  }
}
