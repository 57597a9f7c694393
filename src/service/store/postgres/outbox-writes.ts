import { uuidv7 } from "uuidv7";
import { INTERNAL_EVENT_TYPES } from "../../../shared/contract/events.js";
import { ConflictError, NotFoundError } from "../../keys/errors.js";
import type {
  AttemptOutcome,
  AuditEntry,
  EventRecord,
  RelayInput,
  RelayResult,
  WebhookAttemptRecord,
  WebhookEndpointRecord,
} from "../../keys/model.js";
import type { WebhookSecretChange } from "../key-store.js";
import {
  ATTEMPT_INSERT_COLUMNS,
  attemptToColumns,
  ENDPOINT_COLUMNS,
  ENDPOINT_COLUMNS_NOT_UPDATED,
  type EndpointColumns,
  EVENT_INSERT_COLUMNS,
  type EventColumns,
  endpointToColumns,
  eventFromColumns,
  eventToColumns,
  orderKeyOf,
  postgresBool,
  wants,
} from "../sqlite/outbox-rows.js";
import { auditToColumns } from "../sqlite/rows.js";
import type { PgDatabase, Queryable } from "./database.js";
import { insertSql, updateStatement, valuesOf } from "./rows.js";

/**
 * The outbox's and the webhooks' writes: the same statements and rules as
 * sqlite/outbox-writes.ts. Events go in after the row their change locks, so
 * the events of one key get ids in their commit order.
 */

const FAN_OUT_BATCH = 500;
const INTERNAL: ReadonlySet<string> = new Set(INTERNAL_EVENT_TYPES);
/** Relays of several workers take turns: one hands an event out once. */
const RELAY_LOCK = 7_202_504_003;

const AUDIT_COLUMNS = [
  "at",
  "actor",
  "actor_key_id",
  "action",
  "key_id",
  "export_id",
  "summary",
  "changed_fields",
] as const;
const INSERT_AUDIT = insertSql("audit_events", AUDIT_COLUMNS);
const INSERT_EVENT = insertSql("events", EVENT_INSERT_COLUMNS);
const INSERT_ENDPOINT = insertSql("webhook_endpoints", ENDPOINT_COLUMNS);
const UPDATE_ENDPOINT = updateStatement(
  "webhook_endpoints",
  ENDPOINT_COLUMNS,
  ENDPOINT_COLUMNS_NOT_UPDATED,
  " AND version = $version - 1",
);
const INSERT_ATTEMPT = insertSql("webhook_attempts", ATTEMPT_INSERT_COLUMNS);
const FAIL_PENDING =
  "UPDATE webhook_deliveries SET state = 'failed', updated_at = $2::bigint WHERE endpoint_id = $1 AND state = 'pending'";
const INSERT_DELIVERY = `INSERT INTO webhook_deliveries (event_seq, endpoint_id, order_key, state, attempts, manual, created_at, updated_at)
  VALUES ($1::bigint, $2, $3, 'pending', 0, $4, $5::bigint, $5::bigint) RETURNING id`;

export async function insertEvents(tx: Queryable, events: readonly EventRecord[]): Promise<void> {
  for (const event of events) await tx.run(INSERT_EVENT, valuesOf(eventToColumns(event), EVENT_INSERT_COLUMNS));
}

export async function insertAudit(tx: Queryable, audit: AuditEntry): Promise<void> {
  await tx.run(INSERT_AUDIT, valuesOf(auditToColumns(audit), AUDIT_COLUMNS));
}

const endpointValues = (endpoint: WebhookEndpointRecord, columns: readonly string[]) =>
  valuesOf(endpointToColumns(endpoint, postgresBool), columns);

export function insertWebhookEndpoint(db: PgDatabase, endpoint: WebhookEndpointRecord, audit: AuditEntry) {
  return db.transaction(async (tx) => {
    await tx.run(INSERT_ENDPOINT, endpointValues(endpoint, ENDPOINT_COLUMNS));
    await insertAudit(tx, audit);
  });
}

export function updateWebhookEndpoint(db: PgDatabase, endpoint: WebhookEndpointRecord, audit: AuditEntry) {
  return db.transaction(async (tx) => {
    if ((await tx.run(UPDATE_ENDPOINT.sql, endpointValues(endpoint, UPDATE_ENDPOINT.columns))) !== 1) {
      const found = await tx.query("SELECT 1 FROM webhook_endpoints WHERE id = $1", [endpoint.id]);
      if (found.length === 0) throw new NotFoundError("webhook endpoint", endpoint.id);
      throw new ConflictError(`webhook endpoint ${endpoint.id} was changed by another write; read it again`);
    }
    if (!endpoint.enabled) await tx.run(FAIL_PENDING, [endpoint.id, endpoint.updatedAt]);
    await insertAudit(tx, audit);
  });
}

export function deleteWebhookEndpoint(db: PgDatabase, id: string, audit: AuditEntry) {
  return db.transaction(async (tx) => {
    if ((await tx.run("DELETE FROM webhook_endpoints WHERE id = $1", [id])) !== 1) {
      throw new NotFoundError("webhook endpoint", id);
    }
    await tx.run("DELETE FROM webhook_deliveries WHERE endpoint_id = $1 AND state = 'pending'", [id]);
    await insertAudit(tx, audit);
  });
}

export async function replaceWebhookSecrets(db: PgDatabase, changes: readonly WebhookSecretChange[]) {
  const replaced = await db.transaction(async (tx) => {
    let replaced = 0;
    for (const { endpointId, from, to } of changes) {
      replaced += await tx.run("UPDATE webhook_endpoints SET secret = $3 WHERE id = $1 AND secret = $2", [
        endpointId,
        from,
        to,
      ]);
    }
    return replaced;
  });
  // The replaced rows' old versions (the plain secrets) stay in the table's pages until rewritten;
  // VACUUM FULL rewrites this small table at once (a moment's exclusive lock, once per sealing).
  if (replaced > 0) await db.run("VACUUM FULL webhook_endpoints");
  return replaced;
}

export function resendWebhookEvent(
  db: PgDatabase,
  endpointId: string,
  eventSeq: number,
  at: number,
  audit: AuditEntry,
): Promise<number> {
  return db.transaction(async (tx) => {
    const found = await tx.query("SELECT 1 FROM webhook_endpoints WHERE id = $1 FOR SHARE", [endpointId]);
    if (found.length === 0) throw new NotFoundError("webhook endpoint", endpointId);
    const [row] = await tx.query<{ id: number }>(INSERT_DELIVERY, [
      eventSeq,
      endpointId,
      `resend:${uuidv7()}`,
      true,
      at,
    ]);
    await insertAudit(tx, audit);
    return row?.id ?? 0;
  });
}

export function relayWebhooks(db: PgDatabase, input: RelayInput): Promise<RelayResult> {
  return db.transaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock($1)", [RELAY_LOCK]);
    if (input.queuedDeliveryIds.length > 0) {
      await tx.run(
        "UPDATE webhook_deliveries SET queued_at = $2::bigint WHERE id = ANY($1::bigint[]) AND state = 'pending'",
        [input.queuedDeliveryIds, input.at],
      );
    }
    if (input.queuedMailEventIds.length > 0) {
      await tx.run("UPDATE events SET mail_state = 'queued' WHERE id = ANY($1::text[]) AND mail_state = 'pending'", [
        input.queuedMailEventIds,
      ]);
    }
    const events = await tx.query<EventColumns>("SELECT * FROM events WHERE relayed_at IS NULL ORDER BY seq LIMIT $1", [
      FAN_OUT_BATCH,
    ]);
    if (events.length > 0) {
      const endpoints = (
        await tx.query<{ id: string; event_types: string }>(
          "SELECT id, event_types FROM webhook_endpoints WHERE enabled ORDER BY created_at, id",
        )
      ).map((e) => ({ id: e.id, types: JSON.parse(e.event_types) as string[] }));
      for (const row of events) {
        if (INTERNAL.has(row.type)) continue;
        const orderKey = orderKeyOf({ keyId: row.key_id, exportId: row.export_id, id: row.id });
        for (const endpoint of endpoints) {
          if (!wants(endpoint.types, row.type)) continue;
          await tx.run(INSERT_DELIVERY.replace(" RETURNING id", ""), [row.seq, endpoint.id, orderKey, false, input.at]);
        }
      }
      // By seq: a row committed after the SELECT above was not handed out, and stays unrelayed.
      await tx.run("UPDATE events SET relayed_at = $2::bigint WHERE seq = ANY($1::bigint[])", [
        events.map((e) => e.seq),
        input.at,
      ]);
    }
    const heads = await tx.query<{ id: number }>(
      `SELECT d.id FROM webhook_deliveries d
        WHERE d.state = 'pending' AND ($1::boolean OR d.queued_at IS NULL)
          AND NOT EXISTS (
            SELECT 1 FROM webhook_deliveries p
             WHERE p.state = 'pending' AND p.endpoint_id = d.endpoint_id AND p.order_key = d.order_key AND p.id < d.id)
        ORDER BY d.id LIMIT $2`,
      [input.resync, input.limit + 1],
    );
    const mail = await tx.query<EventColumns>(
      "SELECT * FROM events WHERE mail_state = 'pending' ORDER BY seq LIMIT $1",
      [input.limit + 1],
    );
    return {
      deliveryIds: heads.slice(0, input.limit).map((h) => h.id),
      mailEvents: mail.slice(0, input.limit).map(eventFromColumns),
      more: events.length === FAN_OUT_BATCH || heads.length > input.limit || mail.length > input.limit,
    };
  });
}

export async function finishWebhookDelivery(
  db: PgDatabase,
  id: number,
  state: "succeeded" | "failed",
  at: number,
): Promise<void> {
  await db.run(
    "UPDATE webhook_deliveries SET state = $2, updated_at = $3::bigint WHERE id = $1::bigint AND state = 'pending'",
    [id, state, at],
  );
}

export function recordWebhookAttempt(
  db: PgDatabase,
  attempt: Omit<WebhookAttemptRecord, "id">,
  outcome: AttemptOutcome,
): Promise<{ nextDeliveryId: number | null; endpointDisabled: boolean }> {
  return db.transaction(async (tx) => {
    await tx.run(INSERT_ATTEMPT, valuesOf(attemptToColumns(attempt, postgresBool), ATTEMPT_INSERT_COLUMNS));
    const ended = outcome.succeeded ? "succeeded" : outcome.final ? "failed" : null;
    await tx.run(
      `UPDATE webhook_deliveries SET attempts = attempts + 1, updated_at = $2::bigint, state = coalesce($3, state)
        WHERE id = $1::bigint AND state = 'pending'`,
      [attempt.deliveryId, attempt.at, ended],
    );
    let endpointDisabled = false;
    if (outcome.succeeded) {
      await tx.run("UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL", [
        attempt.endpointId,
      ]);
    } else if (outcome.receiverFailed) {
      await tx.run("UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, $2::bigint) WHERE id = $1", [
        attempt.endpointId,
        attempt.at,
      ]);
      const disabled = await tx.query<EndpointColumns>(
        `UPDATE webhook_endpoints
            SET enabled = FALSE, disabled_reason = $4, updated_at = $2::bigint, version = version + 1
          WHERE id = $1 AND enabled AND failing_since IS NOT NULL AND failing_since <= $3::bigint
          RETURNING *`,
        [attempt.endpointId, attempt.at, outcome.disableIfFailingSince, outcome.disabledReason],
      );
      if (disabled.length > 0) {
        endpointDisabled = true;
        await tx.run(FAIL_PENDING, [attempt.endpointId, attempt.at]);
        await insertEvents(tx, [outcome.disabledEvent]);
        await insertAudit(tx, outcome.disabledAudit);
      }
    }
    let nextDeliveryId: number | null = null;
    if (ended !== null) {
      const [next] = await tx.query<{ id: number }>(
        `SELECT n.id FROM webhook_deliveries d
           JOIN webhook_deliveries n
             ON n.endpoint_id = d.endpoint_id AND n.order_key = d.order_key AND n.state = 'pending'
          WHERE d.id = $1::bigint
          ORDER BY n.id LIMIT 1`,
        [attempt.deliveryId],
      );
      nextDeliveryId = next?.id ?? null;
    }
    return { nextDeliveryId, endpointDisabled };
  });
}
