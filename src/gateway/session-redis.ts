import { Redis } from "ioredis";
import { z } from "zod";
import type { Logger } from "../shared/logger.js";
import { reconnectDelay } from "../shared/queues/queues.js";
import { within } from "../shared/within.js";
import type { SealedToken } from "./session-seal.js";

/**
 * Where console sessions are kept: Redis (REDIS_URL, the export queue's
 * Redis), so that every gateway replica sees every session and a restart
 * signs nobody out. One key per session, named by the lookup (SHA-256 of the
 * cookie's id) under the queue prefix, holding exactly what console-session.ts
 * gives it: the sealed token, the CSRF token and the expiry. Redis removes
 * the key itself when the session's time is up (PX).
 */

/** Thrown when Redis cannot be asked now; errors.ts answers 503 with this message. */
export class SessionsUnavailableError extends Error {
  constructor() {
    super("sessions are unavailable: Redis cannot be reached; try again shortly");
    this.name = "SessionsUnavailableError";
  }
}

/** One session as Redis holds it. */
export interface StoredSession extends SealedToken {
  csrf: string;
  expiresAt: number;
}

export interface SessionStorage {
  /** Keeps the session for ttlMs; Redis deletes it then. */
  put(lookup: string, session: StoredSession, ttlMs: number): Promise<void>;
  /** undefined when there is none (or what is there is not a session of ours). */
  get(lookup: string): Promise<StoredSession | undefined>;
  remove(lookup: string): Promise<void>;
  close(): Promise<void>;
}

/** How long after start a call waits for Redis's first connection. */
const FIRST_CONNECTION_MS = 1_000;
/** A call that Redis does not answer within this is refused (503) rather than left hanging. */
const COMMAND_TIMEOUT_MS = 1_000;

/** The Redis key of a session: beside BullMQ's `<prefix>:<queue>:…` keys, never one of them. */
export function sessionKey(prefix: string, lookup: string): string {
  return `${prefix}:console-session:${lookup}`;
}

const base64url = z.string().regex(/^[A-Za-z0-9_-]*$/);
const StoredSessionSchema = z.strictObject({
  iv: base64url,
  sealed: base64url,
  tag: base64url,
  csrf: z.string().min(1),
  expiresAt: z.number().int(),
});

/**
 * One Redis connection of its own that never queues a command while Redis is
 * away (enableOfflineQueue false) and never replays one after an outage: a
 * call either gets its answer within COMMAND_TIMEOUT_MS or is refused with
 * SessionsUnavailableError, and the connection keeps reconnecting by itself.
 * The export queue's Redis monitor already reports outages once; this
 * connection's own errors are only debug lines.
 */
export function createRedisSessionStorage(options: {
  redisUrl: string;
  prefix: string;
  logger: Logger;
}): SessionStorage {
  const { logger, prefix } = options;
  const redis = new Redis(options.redisUrl, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    connectTimeout: 2_000,
    commandTimeout: COMMAND_TIMEOUT_MS,
    retryStrategy: reconnectDelay,
    connectionName: "keyward-console-sessions",
  });
  redis.on("error", (error: Error) => logger.debug({ reason: error.message }, "console sessions connection error"));
  const createdAt = Date.now();
  let everReady = false;
  redis.on("ready", () => {
    everReady = true;
  });
  // One waiter for the first "ready", however many calls arrive before it.
  let firstReady: Promise<true> | undefined;

  const usable = async (): Promise<void> => {
    if (redis.status === "ready") return;
    // Just after start the first connection may still be opening; after that, down means down.
    const opening = FIRST_CONNECTION_MS - (Date.now() - createdAt);
    if (!everReady && opening > 0) {
      firstReady ??= new Promise<true>((resolve) => redis.once("ready", () => resolve(true)));
      if (await within(firstReady, opening)) return;
    }
    throw new SessionsUnavailableError();
  };

  const ask = async <T>(what: string, command: () => Promise<T>): Promise<T> => {
    await usable();
    try {
      return await command();
    } catch (error) {
      // Redis's own message (a timeout, a dropped connection, OOM): it never holds the values sent.
      logger.warn({ reason: (error as Error).message, what }, "console sessions: Redis refused or did not answer");
      throw new SessionsUnavailableError();
    }
  };

  return {
    async put(lookup, session, ttlMs) {
      const value = JSON.stringify({
        iv: session.iv.toString("base64url"),
        sealed: session.sealed.toString("base64url"),
        tag: session.tag.toString("base64url"),
        csrf: session.csrf,
        expiresAt: session.expiresAt,
      });
      await ask("store a session", () => redis.set(sessionKey(prefix, lookup), value, "PX", ttlMs));
    },
    async get(lookup) {
      const text = await ask("read a session", () => redis.get(sessionKey(prefix, lookup)));
      if (text === null) return undefined;
      const parsed = StoredSessionSchema.safeParse(parseJson(text));
      if (!parsed.success) {
        // Not written by us (or by an incompatible version): no session, rather than a failed call.
        logger.warn("console sessions: a stored session is not readable; treated as signed out");
        return undefined;
      }
      const { iv, sealed, tag, csrf, expiresAt } = parsed.data;
      return {
        iv: Buffer.from(iv, "base64url"),
        sealed: Buffer.from(sealed, "base64url"),
        tag: Buffer.from(tag, "base64url"),
        csrf,
        expiresAt,
      };
    },
    async remove(lookup) {
      await ask("delete a session", () => redis.del(sessionKey(prefix, lookup)));
    },
    async close() {
      redis.disconnect();
    },
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
