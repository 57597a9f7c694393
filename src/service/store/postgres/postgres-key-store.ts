import type { Logger } from "../../../shared/logger.js";
import type {
  AttemptOutcome,
  AuditEntry,
  AuditFilter,
  AuditRow,
  EventRecord,
  ExportRecord,
  ExportState,
  KeyCursor,
  KeyFilter,
  KeyLogFilter,
  KeyLogRow,
  KeyRecord,
  RelayInput,
  RelayResult,
  StoredEvent,
  SweepOptions,
  SweepResult,
  UsageBatch,
  UsageRow,
  VerifyCode,
  WebhookAttemptRecord,
  WebhookDeliveryRecord,
  WebhookEndpointRecord,
} from "../../keys/model.js";
import type { KeyChange, KeyStore, WebhookSecretChange } from "../key-store.js";
import {
  type AttemptColumns,
  attemptFromColumns,
  type DeliveryColumns,
  deliveryFromColumns,
  type EndpointColumns,
  type EventColumns,
  endpointFromColumns,
  eventFromColumns,
} from "../sqlite/outbox-rows.js";
import {
  type AuditColumns,
  auditFromColumns,
  type ExportColumns,
  exportFromColumns,
  type KeyLogColumns,
  logFromColumns,
} from "../sqlite/rows.js";
import { listenForChanges } from "./change-listener.js";
import * as credits from "./credits.js";
import { noteCreditsLow } from "./credits-low.js";
import { PgDatabase } from "./database.js";
import { auditWhere, exportWhere, keyWhere, logWhere, Params } from "./filters.js";
import { HashLookups } from "./hash-lookups.js";
import { migrate } from "./migrate.js";
import * as outbox from "./outbox-writes.js";
import { type KeyRow, keyFromRow } from "./rows.js";
import * as writes from "./store-writes.js";
import { sweep } from "./sweep.js";
import { applyUsage } from "./usage-writer.js";

export interface PostgresKeyStoreOptions {
  /** postgres:// or postgresql:// URL of the database. */
  connectionString: string;
  /** Connections in the pool; default 10. */
  poolSize?: number;
  /** Days without use after which a key's status is inactive (list/count filters). */
  inactiveDays: number;
  logger?: Logger;
  /** How long a call waits for a connection before it fails as unavailable; default 5 s. */
  connectTimeoutMs?: number;
}

const DEFAULT_POOL_SIZE = 10;

/**
 * The KeyStore on PostgreSQL, for several replicas over one database. Every
 * write is one transaction on a pooled connection and resolves after COMMIT
 * (synchronous commit: durable). Conditional writes rely on row locks and
 * READ COMMITTED's re-check, so two replicas can never both win a version.
 * A connection failure rejects with StoreUnavailableError.
 */
export class PostgresKeyStore implements KeyStore {
  private readonly watchers = new Set<() => Promise<void>>();
  private readonly hashLookups: HashLookups;

  private constructor(
    private readonly db: PgDatabase,
    private readonly inactiveDays: number,
    private readonly logger: Logger | undefined,
  ) {
    this.hashLookups = new HashLookups(db);
  }

  /** Connects, migrates (once across replicas) and returns the store. */
  static async open(options: PostgresKeyStoreOptions): Promise<PostgresKeyStore> {
    const db = new PgDatabase({
      connectionString: options.connectionString,
      poolSize: options.poolSize ?? DEFAULT_POOL_SIZE,
      logger: options.logger,
      connectTimeoutMs: options.connectTimeoutMs,
    });
    try {
      await migrate(db);
    } catch (error) {
      await db.close();
      throw error;
    }
    return new PostgresKeyStore(db, options.inactiveDays, options.logger);
  }

  async insertKey(key: KeyRecord, audit: AuditEntry, events: readonly EventRecord[] = []): Promise<void> {
    await writes.insertKey(this.db, key, audit, events);
  }

  async getKeyById(id: string): Promise<KeyRecord | undefined> {
    const [row] = await this.db.query<KeyRow>("SELECT * FROM keys WHERE id = $1", [id]);
    return row === undefined ? undefined : keyFromRow(row);
  }

  async getKeyByHash(hash: string): Promise<KeyRecord | undefined> {
    const row = await this.hashLookups.get(hash);
    return row === undefined ? undefined : keyFromRow(row);
  }

  async listKeys(filter: KeyFilter, now: number, limit: number, after?: KeyCursor): Promise<KeyRecord[]> {
    const params = new Params();
    const where = keyWhere(filter, now, this.inactiveDays, params, after);
    const rows = await this.db.query<KeyRow>(
      `SELECT * FROM keys ${where} ORDER BY created_at DESC, id DESC LIMIT ${params.add(limit)}`,
      params.values,
    );
    return rows.map(keyFromRow);
  }

  async countKeys(filter: KeyFilter, now: number): Promise<number> {
    const params = new Params();
    const where = keyWhere(filter, now, this.inactiveDays, params);
    const [row] = await this.db.query<{ count: number }>(`SELECT count(*) AS count FROM keys ${where}`, params.values);
    return row?.count ?? 0;
  }

  /**
   * Writes every column the domain manages from `key`. Identity, hash,
   * provenance and the usage counters are left alone: applyUsage and the
   * sweep own those.
   */
  async updateKey(
    key: KeyRecord,
    audit: AuditEntry,
    options?: { writeCredits?: boolean; events?: readonly EventRecord[] },
  ): Promise<void> {
    await writes.updateKey(this.db, key, audit, options?.writeCredits ?? false, options?.events ?? []);
  }

  async rotateKey(
    previous: KeyRecord,
    created: KeyRecord,
    audit: AuditEntry,
    events: readonly EventRecord[] = [],
  ): Promise<void> {
    await writes.rotateKey(this.db, previous, created, audit, events);
  }

  async applyUsage(batch: UsageBatch): Promise<void> {
    if (batch.keys.size === 0 && batch.buckets.length === 0 && batch.logs.length === 0) return;
    await applyUsage(this.db, batch);
  }

  async getUsage(keyId: string, from: number, to: number): Promise<UsageRow[]> {
    const rows = await this.db.query<{ hour_start: number; code: string; count: number }>(
      `SELECT hour_start, code, count FROM usage_hourly
        WHERE key_id = $1 AND hour_start >= $2::bigint AND hour_start < $3::bigint
        ORDER BY hour_start, code COLLATE "C"`,
      [keyId, from, to],
    );
    return rows.map((row) => ({ bucketStart: row.hour_start, code: row.code as VerifyCode, count: row.count }));
  }

  async listKeyLogs(keyId: string, filter: KeyLogFilter, limit: number, beforeId?: number): Promise<KeyLogRow[]> {
    return this.selectLogs({ code: filter.code, from: filter.from, to: filter.to, keyId }, limit, beforeId);
  }

  /**
   * Returns the balance after spending, Infinity for a key without a credit
   * limit, or null when too few credits remain or the key does not exist.
   */
  async spendCredits(keyId: string, cost: number): Promise<number | null> {
    return (await this.spendCreditsBatch([{ keyId, cost }]))[0] ?? null;
  }

  async spendCreditsBatch(spends: readonly { keyId: string; cost: number }[]): Promise<(number | null)[]> {
    return credits.spendMany(this.db, spends);
  }

  async noteCreditsLow(keyId: string, options: { now: number; inactiveDays: number }): Promise<boolean> {
    return noteCreditsLow(this.db, keyId, options.now, options.inactiveDays);
  }

  async refillCredits(keyId: string, amount: number, at: number, expected: number | null): Promise<boolean> {
    return credits.refill(this.db, keyId, amount, at, expected);
  }

  async refillDueCredits(at: number, dailyMoment: number, monthlyMoments: readonly number[]): Promise<string[]> {
    return credits.refillDue(this.db, at, dailyMoment, monthlyMoments);
  }

  async listAuditEvents(filter: AuditFilter, limit: number, beforeId?: number): Promise<AuditRow[]> {
    const params = new Params();
    const where = auditWhere(filter, params, beforeId);
    const rows = await this.db.query<AuditColumns>(
      `SELECT * FROM audit_events ${where} ORDER BY id DESC LIMIT ${params.add(limit)}`,
      params.values,
    );
    return rows.map(auditFromColumns);
  }

  async insertExport(record: ExportRecord, audit: AuditEntry): Promise<void> {
    await writes.insertExport(this.db, record, audit);
  }

  async getExport(id: string): Promise<ExportRecord | undefined> {
    const [row] = await this.db.query<ExportColumns>("SELECT * FROM exports WHERE id = $1", [id]);
    return row === undefined ? undefined : exportFromColumns(row);
  }

  async listExports(state: ExportState | undefined, limit: number, after?: KeyCursor): Promise<ExportRecord[]> {
    const params = new Params();
    const where = exportWhere(state, params, after);
    const rows = await this.db.query<ExportColumns>(
      `SELECT * FROM exports ${where} ORDER BY created_at DESC, id DESC LIMIT ${params.add(limit)}`,
      params.values,
    );
    return rows.map(exportFromColumns);
  }

  /** Writes the export's progress; what was asked for (resource, filters, who, when) never changes. */
  async updateExport(record: ExportRecord, events: readonly EventRecord[] = []): Promise<void> {
    await writes.updateExport(this.db, record, events);
  }

  async listLogsForExport(
    filter: KeyLogFilter & { keyId?: string },
    limit: number,
    beforeId?: number,
  ): Promise<KeyLogRow[]> {
    return this.selectLogs(filter, limit, beforeId);
  }

  async countLogsForExport(filter: KeyLogFilter & { keyId?: string }): Promise<number> {
    const params = new Params();
    const where = logWhere(filter, params);
    const [row] = await this.db.query<{ count: number }>(
      `SELECT count(*) AS count FROM key_logs ${where}`,
      params.values,
    );
    return row?.count ?? 0;
  }

  async sweep(options: SweepOptions, audit: Omit<AuditEntry, "keyId">): Promise<SweepResult> {
    return sweep(this.db, options, audit);
  }

  /** Ids become visible in id order: the change triggers serialize on one advisory lock (migrations.ts). */
  async readChanges(afterId: number, limit: number): Promise<KeyChange[]> {
    return this.db.query<KeyChange>(
      `SELECT id, key_id AS "keyId", hash, version FROM key_changes WHERE id > $1::bigint ORDER BY id LIMIT $2`,
      [afterId, limit],
    );
  }

  async latestChangeId(): Promise<number> {
    const [row] = await this.db.query<{ id: number }>("SELECT coalesce(max(id), 0)::bigint AS id FROM key_changes");
    return row?.id ?? 0;
  }

  async insertWebhookEndpoint(endpoint: WebhookEndpointRecord, audit: AuditEntry): Promise<void> {
    await outbox.insertWebhookEndpoint(this.db, endpoint, audit);
  }

  async getWebhookEndpoint(id: string): Promise<WebhookEndpointRecord | undefined> {
    const [row] = await this.db.query<EndpointColumns>("SELECT * FROM webhook_endpoints WHERE id = $1", [id]);
    return row === undefined ? undefined : endpointFromColumns(row);
  }

  async listWebhookEndpoints(limit: number, after?: KeyCursor): Promise<WebhookEndpointRecord[]> {
    const rows =
      after === undefined
        ? await this.db.query<EndpointColumns>(
            "SELECT * FROM webhook_endpoints ORDER BY created_at DESC, id DESC LIMIT $1",
            [limit],
          )
        : await this.db.query<EndpointColumns>(
            `SELECT * FROM webhook_endpoints WHERE (created_at, id) < ($2::bigint, $3)
              ORDER BY created_at DESC, id DESC LIMIT $1`,
            [limit, after.createdAt, after.id],
          );
    return rows.map(endpointFromColumns);
  }

  async updateWebhookEndpoint(endpoint: WebhookEndpointRecord, audit: AuditEntry): Promise<void> {
    await outbox.updateWebhookEndpoint(this.db, endpoint, audit);
  }

  async deleteWebhookEndpoint(id: string, audit: AuditEntry): Promise<void> {
    await outbox.deleteWebhookEndpoint(this.db, id, audit);
  }

  replaceWebhookSecrets(changes: readonly WebhookSecretChange[]): Promise<number> {
    return outbox.replaceWebhookSecrets(this.db, changes);
  }

  async getEvent(id: string): Promise<StoredEvent | undefined> {
    const [row] = await this.db.query<EventColumns>("SELECT * FROM events WHERE id = $1", [id]);
    return row === undefined ? undefined : eventFromColumns(row);
  }

  async getEventBySeq(seq: number): Promise<StoredEvent | undefined> {
    const [row] = await this.db.query<EventColumns>("SELECT * FROM events WHERE seq = $1::bigint", [seq]);
    return row === undefined ? undefined : eventFromColumns(row);
  }

  async resendWebhookEvent(endpointId: string, eventSeq: number, at: number, audit: AuditEntry): Promise<number> {
    return outbox.resendWebhookEvent(this.db, endpointId, eventSeq, at, audit);
  }

  async relayWebhooks(input: RelayInput): Promise<RelayResult> {
    return outbox.relayWebhooks(this.db, input);
  }

  async getWebhookDelivery(id: number): Promise<WebhookDeliveryRecord | undefined> {
    const [row] = await this.db.query<DeliveryColumns>("SELECT * FROM webhook_deliveries WHERE id = $1::bigint", [id]);
    return row === undefined ? undefined : deliveryFromColumns(row);
  }

  async finishWebhookDelivery(id: number, state: "succeeded" | "failed", at: number): Promise<void> {
    await outbox.finishWebhookDelivery(this.db, id, state, at);
  }

  async recordWebhookAttempt(
    attempt: Omit<WebhookAttemptRecord, "id">,
    outcome: AttemptOutcome,
  ): Promise<{ nextDeliveryId: number | null; endpointDisabled: boolean }> {
    return outbox.recordWebhookAttempt(this.db, attempt, outcome);
  }

  async listWebhookAttempts(
    filter: { endpointId: string; eventId?: string },
    limit: number,
    beforeId?: number,
  ): Promise<WebhookAttemptRecord[]> {
    const params = new Params();
    const conditions = [`endpoint_id = ${params.add(filter.endpointId)}`];
    if (filter.eventId !== undefined) conditions.push(`event_id = ${params.add(filter.eventId)}`);
    if (beforeId !== undefined) conditions.push(`id < ${params.add(beforeId)}::bigint`);
    const rows = await this.db.query<AttemptColumns>(
      `SELECT * FROM webhook_attempts WHERE ${conditions.join(" AND ")} ORDER BY id DESC LIMIT ${params.add(limit)}`,
      params.values,
    );
    return rows.map(attemptFromColumns);
  }

  watchChanges(onWake: () => void, onConnected: (connected: boolean) => void): () => Promise<void> {
    const stopListening = listenForChanges(this.db.clientConfig(), onWake, onConnected, this.logger);
    const stop = async () => {
      this.watchers.delete(stop);
      await stopListening();
    };
    this.watchers.add(stop);
    return stop;
  }

  async close(): Promise<void> {
    await Promise.all([...this.watchers].map((stop) => stop()));
    await this.db.close();
  }

  private async selectLogs(
    filter: KeyLogFilter & { keyId?: string },
    limit: number,
    beforeId?: number,
  ): Promise<KeyLogRow[]> {
    const params = new Params();
    const where = logWhere(filter, params, beforeId);
    const rows = await this.db.query<KeyLogColumns>(
      `SELECT * FROM key_logs ${where} ORDER BY id DESC LIMIT ${params.add(limit)}`,
      params.values,
    );
    return rows.map(logFromColumns);
  }
}

/** Opens (migrating if needed) the PostgreSQL key store at `options.connectionString`. */
export function createPostgresKeyStore(options: PostgresKeyStoreOptions): Promise<KeyStore> {
  return PostgresKeyStore.open(options);
}
