import type { Config } from "../config.js";
import { createLogger, type Logger } from "../shared/logger.js";
import { resolveServiceToken } from "../shared/service-token.js";
import { ChangeFollower } from "./coherence/change-follower.js";
import { EventSignal } from "./events/event-signal.js";
import { createHandlers } from "./handlers.js";
import { KeyManager } from "./keys/key-manager.js";
import { sealStoredWebhookSecrets } from "./keys/seal-stored-secrets.js";
import { createSecretSealer } from "./keys/secret-seal.js";
import { createWebhooksApi, type WebhooksApi } from "./keys/webhooks.js";
import { createRateLimiter } from "./limits/index.js";
import { createServiceMetrics } from "./service-metrics.js";
import { createKeyStore, storeKind } from "./store/create-store.js";
import { createConnectServer } from "./transport/connect-server.js";
import { createGrpcServer } from "./transport/grpc-server.js";
import { UsageRecorder } from "./usage/usage-recorder.js";

/** With push (PostgreSQL), how often the change record is read anyway, to prove the database answers. */
const HEARTBEAT_MS = 1000;

export interface StartedService {
  grpcPort: number;
  connectPort: number;
  serviceToken: string;
  /** The domain, for in-process callers and tests that need the clock-driven parts. */
  keys: KeyManager;
  webhooks: WebhooksApi;
  /** Stops accepting, drains in-flight calls, flushes usage, closes the database. */
  close(): Promise<void>;
}

export interface StartServiceOptions {
  logger?: Logger;
  /** Milliseconds since the epoch; tests move it instead of waiting. */
  clock?: () => number;
}

/**
 * Builds the key service and starts both transports: grpc-js (gRPC, health,
 * reflection) and connect-node (Connect, gRPC-Web). Ports 0 pick free ports.
 */
export async function startService(config: Config, options: StartServiceOptions = {}): Promise<StartedService> {
  const logger = options.logger ?? createLogger(config.LOG_LEVEL, "service");
  const serviceToken = resolveServiceToken(config);
  const store = await createKeyStore(config, logger);
  const sealer = createSecretSealer(config.KEYWARD_SECRETS_KEY, config.KEYWARD_SECRETS_KEY_PREVIOUS);
  try {
    await sealStoredWebhookSecrets(store, sealer, logger);
  } catch (error) {
    await store.close();
    throw error;
  }
  const usage = new UsageRecorder(store, logger, config.KEYWARD_LOG_LIMIT_PER_KEY);
  usage.start(config.KEYWARD_USAGE_FLUSH_MS);
  const rateLimiter = createRateLimiter({
    shared: config.KEYWARD_RATELIMIT_REDIS,
    redisUrl: config.REDIS_URL,
    onRedisDown: config.KEYWARD_RATELIMIT_ON_REDIS_DOWN,
    redisTimeoutMs: config.KEYWARD_RATELIMIT_REDIS_TIMEOUT_MS,
    logger,
  });
  const signal = new EventSignal();
  const keys = new KeyManager({
    store,
    usage,
    logger,
    clock: options.clock,
    tokenPrefix: config.KEYWARD_TOKEN_PREFIX,
    cacheSize: config.KEYWARD_CACHE_SIZE,
    inactiveDays: config.KEYWARD_INACTIVE_DAYS,
    logRetentionDays: config.KEYWARD_LOG_RETENTION_DAYS,
    rateLimiter,
    // metrics is assigned below, before any export can finish.
    onExportFinished: (state, seconds) => metrics.observeExport(state, seconds),
    onEvents: () => signal.notify(),
  });
  const webhooks = createWebhooksApi({
    store,
    now: options.clock ?? Date.now,
    signal,
    denyCidrs: config.KEYWARD_WEBHOOK_DENY_CIDRS,
    sealer,
    logger,
  });
  let follower: ChangeFollower | undefined;
  const metrics = createServiceMetrics(
    () => keys.cacheStats(),
    () => follower?.lagMs ?? 0,
  );
  const impl = createHandlers({
    keys,
    webhooks,
    observeVerify: metrics.observeVerify,
    serviceToken,
    verifyRequiresAuth: config.KEYWARD_VERIFY_REQUIRES_AUTH,
    logger,
  });
  const closeStorage = async () => {
    signal.close();
    await follower?.stop();
    await usage.stop();
    await rateLimiter.close();
    await store.close();
  };
  let grpc: Awaited<ReturnType<typeof createGrpcServer>> | undefined;
  let connect: Awaited<ReturnType<typeof createConnectServer>> | undefined;
  try {
    follower = await ChangeFollower.start({
      store,
      apply: (changes) => {
        keys.applyChanges(changes);
        // Another replica's key change most likely recorded events: the relay may look now.
        if (changes.length > 0) signal.notify();
      },
      onTrusted: (trusted) => {
        keys.bypassCache(!trusted);
        grpc?.setServing(trusted);
      },
      maxLagMs: config.KEYWARD_CACHE_MAX_LAG_MS,
      pollMs: config.KEYWARD_CHANGE_POLL_MS,
      // Well inside the bound, or a quiet database would look like a lost one.
      heartbeatMs: Math.min(HEARTBEAT_MS, Math.floor(config.KEYWARD_CACHE_MAX_LAG_MS / 4)),
      logger,
    });
    grpc = await createGrpcServer(impl, { host: config.KEYWARD_HOST, port: config.KEYWARD_SERVICE_PORT, logger });
    connect = await createConnectServer(impl, {
      host: config.KEYWARD_HOST,
      port: config.KEYWARD_CONNECT_PORT,
      logger,
      metrics: async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() }),
      // "ok" while this port answers and the cache follows every change; the
      // store's state says whether keys can be served from the database.
      health: async () => ({
        status: follower?.isTrusted === false ? "not_serving" : "ok",
        store: await store.getKeyById("healthz").then(
          () => "ok",
          () => "unavailable",
        ),
        changes: follower?.isTrusted === false ? "lagging" : "following",
        changeLagMs: follower?.lagMs ?? 0,
      }),
    });
  } catch (error) {
    await grpc?.close(0);
    await closeStorage();
    throw error;
  }
  const grpcServer = grpc;
  if (follower?.isTrusted === false) grpcServer.setServing(false);
  const connectServer = connect;
  logger.info(
    { grpcPort: grpcServer.port, connectPort: connectServer.port, dataDir: config.dataDir, store: storeKind(config) },
    "key service listening",
  );
  let closing: Promise<void> | undefined;
  return {
    grpcPort: grpcServer.port,
    connectPort: connectServer.port,
    serviceToken,
    keys,
    webhooks,
    close() {
      closing ??= (async () => {
        // Long polls of the relay answer now rather than hold the drain.
        signal.close();
        await Promise.all([grpcServer.close(), connectServer.close()]);
        await closeStorage();
        logger.info("key service stopped");
      })();
      return closing;
    },
  };
}
