import type Database from "better-sqlite3";
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
  sqliteBool,
  wants,
} from "./outbox-rows.js";
import { type AuditColumns, auditToColumns } from "./rows.js";

/** Events a relay hands out per transaction. */
const FAN_OUT_BATCH = 500;
const INTERNAL: ReadonlySet<string> = new Set(INTERNAL_EVENT_TYPES);

function insertSql(table: string, columns: readonly string[]): string {
  return `INSERT INTO ${table} (${columns.join(", ")}) VALUES (${columns.map((c) => `@${c}`).join(", ")})`;
}

export interface OutboxWrites {
  insertEvents(events: readonly EventRecord[]): void;
  insertWebhookEndpoint(endpoint: WebhookEndpointRecord, audit: AuditEntry): void;
  updateWebhookEndpoint(endpoint: WebhookEndpointRecord, audit: AuditEntry): void;
  replaceWebhookSecrets(changes: readonly WebhookSecretChange[]): number;
  deleteWebhookEndpoint(id: string, audit: AuditEntry): void;
  resendWebhookEvent(endpointId: string, eventSeq: number, at: number, audit: AuditEntry): number;
  relayWebhooks(input: RelayInput): RelayResult;
  finishWebhookDelivery(id: number, state: "succeeded" | "failed", at: number): void;
  recordWebhookAttempt(
    attempt: Omit<WebhookAttemptRecord, "id">,
    outcome: AttemptOutcome,
  ): { nextDeliveryId: number | null; endpointDisabled: boolean };
}

/**
 * The outbox's and the webhooks' writes on the writer's connection. The
 * event inserter is also used inside the key writes' transactions.
 */
export function createOutboxWrites(db: Database.Database): OutboxWrites {
  const insertEventRow = db.prepare(insertSql("events", EVENT_INSERT_COLUMNS));
  const insertAuditRow = db.prepare<[Omit<AuditColumns, "id">]>(
    insertSql("audit_events", [
      "at",
      "actor",
      "actor_key_id",
      "action",
      "key_id",
      "export_id",
      "summary",
      "changed_fields",
    ]),
  );
  const insertEndpointRow = db.prepare<[EndpointColumns]>(insertSql("webhook_endpoints", ENDPOINT_COLUMNS));
  const updateEndpointRow = db.prepare<[EndpointColumns]>(
    `UPDATE webhook_endpoints SET ${ENDPOINT_COLUMNS.filter((c) => !ENDPOINT_COLUMNS_NOT_UPDATED.has(c))
      .map((c) => `${c} = @${c}`)
      .join(", ")} WHERE id = @id AND version = @version - 1`,
  );
  const endpointExists = db.prepare<[string], number>("SELECT 1 FROM webhook_endpoints WHERE id = ?").pluck();
  const deleteEndpointRow = db.prepare<[string]>("DELETE FROM webhook_endpoints WHERE id = ?");
  const replaceSecret = db.prepare<[{ to: string; endpointId: string; from: string }]>(
    "UPDATE webhook_endpoints SET secret = @to WHERE id = @endpointId AND secret = @from",
  );
  const replaceSecrets = db.transaction((changes: readonly WebhookSecretChange[]) =>
    changes.reduce((replaced, change) => replaced + replaceSecret.run(change).changes, 0),
  );
  const deletePending = db.prepare<[string]>(
    "DELETE FROM webhook_deliveries WHERE endpoint_id = ? AND state = 'pending'",
  );
  const failPending = db.prepare<[{ id: string; at: number }]>(
    "UPDATE webhook_deliveries SET state = 'failed', updated_at = @at WHERE endpoint_id = @id AND state = 'pending'",
  );
  const insertDelivery = db.prepare<
    [{ event_seq: number; endpoint_id: string; order_key: string; manual: number; at: number }]
  >(
    `INSERT INTO webhook_deliveries (event_seq, endpoint_id, order_key, state, attempts, manual, created_at, updated_at)
     VALUES (@event_seq, @endpoint_id, @order_key, 'pending', 0, @manual, @at, @at)`,
  );
  const markQueued = db.prepare<[{ id: number; at: number }]>(
    "UPDATE webhook_deliveries SET queued_at = @at WHERE id = @id AND state = 'pending'",
  );
  const markMailQueued = db.prepare<[string]>(
    "UPDATE events SET mail_state = 'queued' WHERE id = ? AND mail_state = 'pending'",
  );
  const unrelayed = db.prepare<[number], EventColumns>(
    "SELECT * FROM events WHERE relayed_at IS NULL ORDER BY seq LIMIT ?",
  );
  const markRelayed = db.prepare<[{ seq: number; at: number }]>("UPDATE events SET relayed_at = @at WHERE seq = @seq");
  const enabledEndpoints = db.prepare<[], { id: string; event_types: string }>(
    "SELECT id, event_types FROM webhook_endpoints WHERE enabled = 1 ORDER BY created_at, id",
  );
  const heads = db
    .prepare<[{ resync: number; limit: number }], number>(
      `SELECT d.id FROM webhook_deliveries d
        WHERE d.state = 'pending' AND (@resync = 1 OR d.queued_at IS NULL)
          AND NOT EXISTS (
            SELECT 1 FROM webhook_deliveries p
             WHERE p.state = 'pending' AND p.endpoint_id = d.endpoint_id AND p.order_key = d.order_key AND p.id < d.id)
        ORDER BY d.id LIMIT @limit`,
    )
    .pluck();
  const pendingMail = db.prepare<[number], EventColumns>(
    "SELECT * FROM events WHERE mail_state = 'pending' ORDER BY seq LIMIT ?",
  );
  const insertAttemptRow = db.prepare(insertSql("webhook_attempts", ATTEMPT_INSERT_COLUMNS));
  const endDelivery = db.prepare<[{ id: number; at: number; state: string }]>(
    "UPDATE webhook_deliveries SET state = @state, updated_at = @at WHERE id = @id AND state = 'pending'",
  );
  const countAttempt = db.prepare<[{ id: number; at: number; state: string | null }]>(
    `UPDATE webhook_deliveries SET attempts = attempts + 1, updated_at = @at, state = coalesce(@state, state)
      WHERE id = @id AND state = 'pending'`,
  );
  const deliveryChain = db.prepare<[number], { endpoint_id: string; order_key: string }>(
    "SELECT endpoint_id, order_key FROM webhook_deliveries WHERE id = ?",
  );
  const nextInChain = db
    .prepare<[string, string], number>(
      "SELECT id FROM webhook_deliveries WHERE state = 'pending' AND endpoint_id = ? AND order_key = ? ORDER BY id LIMIT 1",
    )
    .pluck();
  const endpointAnswered = db.prepare<[string]>(
    "UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ? AND failing_since IS NOT NULL",
  );
  const endpointFailed = db.prepare<[{ id: string; at: number }]>(
    "UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, @at) WHERE id = @id",
  );
  const disableFailing = db.prepare<[{ id: string; at: number; cutoff: number; reason: string }], EndpointColumns>(
    `UPDATE webhook_endpoints
        SET enabled = 0, disabled_reason = @reason, updated_at = @at, version = version + 1
      WHERE id = @id AND enabled = 1 AND failing_since IS NOT NULL AND failing_since <= @cutoff
      RETURNING *`,
  );

  const insertEvents = (events: readonly EventRecord[]) => {
    for (const event of events) insertEventRow.run(eventToColumns(event));
  };

  return {
    insertEvents,

    insertWebhookEndpoint: db.transaction((endpoint: WebhookEndpointRecord, audit: AuditEntry) => {
      insertEndpointRow.run(endpointToColumns(endpoint, sqliteBool));
      insertAuditRow.run(auditToColumns(audit));
    }),

    updateWebhookEndpoint: db.transaction((endpoint: WebhookEndpointRecord, audit: AuditEntry) => {
      if (updateEndpointRow.run(endpointToColumns(endpoint, sqliteBool)).changes !== 1) {
        if (endpointExists.get(endpoint.id) === undefined) throw new NotFoundError("webhook endpoint", endpoint.id);
        throw new ConflictError(`webhook endpoint ${endpoint.id} was changed by another write; read it again`);
      }
      if (!endpoint.enabled) failPending.run({ id: endpoint.id, at: endpoint.updatedAt });
      insertAuditRow.run(auditToColumns(audit));
    }),

    deleteWebhookEndpoint: db.transaction((id: string, audit: AuditEntry) => {
      if (deleteEndpointRow.run(id).changes !== 1) throw new NotFoundError("webhook endpoint", id);
      deletePending.run(id);
      insertAuditRow.run(auditToColumns(audit));
    }),

    replaceWebhookSecrets(changes) {
      const replaced = replaceSecrets(changes);
      if (replaced > 0) dropOldPlainSecrets(db);
      return replaced;
    },
    resendWebhookEvent: db.transaction((endpointId: string, eventSeq: number, at: number, audit: AuditEntry) => {
      if (endpointExists.get(endpointId) === undefined) throw new NotFoundError("webhook endpoint", endpointId);
      // A chain of its own: a resend neither waits for nor holds up the key's other deliveries.
      const result = insertDelivery.run({
        event_seq: eventSeq,
        endpoint_id: endpointId,
        order_key: `resend:${uuidv7()}`,
        manual: 1,
        at,
      });
      insertAuditRow.run(auditToColumns(audit));
      return Number(result.lastInsertRowid);
    }),

    relayWebhooks: db.transaction((input: RelayInput): RelayResult => {
      for (const id of input.queuedDeliveryIds) markQueued.run({ id, at: input.at });
      for (const id of input.queuedMailEventIds) markMailQueued.run(id);
      const events = unrelayed.all(FAN_OUT_BATCH);
      if (events.length > 0) {
        const endpoints = enabledEndpoints
          .all()
          .map((e) => ({ id: e.id, types: JSON.parse(e.event_types) as string[] }));
        for (const row of events) {
          if (!INTERNAL.has(row.type)) {
            const orderKey = orderKeyOf({ keyId: row.key_id, exportId: row.export_id, id: row.id });
            for (const endpoint of endpoints) {
              if (!wants(endpoint.types, row.type)) continue;
              insertDelivery.run({
                event_seq: row.seq,
                endpoint_id: endpoint.id,
                order_key: orderKey,
                manual: 0,
                at: input.at,
              });
            }
          }
          markRelayed.run({ seq: row.seq, at: input.at });
        }
      }
      const deliveryIds = heads.all({ resync: input.resync ? 1 : 0, limit: input.limit + 1 });
      const mail = pendingMail.all(input.limit + 1);
      return {
        deliveryIds: deliveryIds.slice(0, input.limit),
        mailEvents: mail.slice(0, input.limit).map(eventFromColumns),
        more: events.length === FAN_OUT_BATCH || deliveryIds.length > input.limit || mail.length > input.limit,
      };
    }),

    finishWebhookDelivery(id, state, at) {
      endDelivery.run({ id, state, at });
    },

    recordWebhookAttempt: db.transaction((attempt: Omit<WebhookAttemptRecord, "id">, outcome: AttemptOutcome) => {
      insertAttemptRow.run(attemptToColumns(attempt, sqliteBool));
      const ended = outcome.succeeded ? "succeeded" : outcome.final ? "failed" : null;
      countAttempt.run({ id: attempt.deliveryId, at: attempt.at, state: ended });
      let endpointDisabled = false;
      if (outcome.succeeded) {
        endpointAnswered.run(attempt.endpointId);
      } else if (outcome.receiverFailed) {
        endpointFailed.run({ id: attempt.endpointId, at: attempt.at });
        const disabled = disableFailing.get({
          id: attempt.endpointId,
          at: attempt.at,
          cutoff: outcome.disableIfFailingSince,
          reason: outcome.disabledReason,
        });
        if (disabled !== undefined) {
          endpointDisabled = true;
          failPending.run({ id: attempt.endpointId, at: attempt.at });
          insertEvents([outcome.disabledEvent]);
          insertAuditRow.run(auditToColumns(outcome.disabledAudit));
        }
      }
      let nextDeliveryId: number | null = null;
      if (ended !== null) {
        const chain = deliveryChain.get(attempt.deliveryId);
        if (chain) nextDeliveryId = nextInChain.get(chain.endpoint_id, chain.order_key) ?? null;
      }
      return { nextDeliveryId, endpointDisabled };
    }),
  };
}

/**
 * The plain secrets just sealed stay readable in the file's free space and
 * the WAL's old pages (secure_delete does not reach the space a page split
 * leaves): VACUUM rewrites the file without them and the truncating
 * checkpoint empties the WAL. Once per sealing, at start. Best effort: if a
 * reader holds the database, the sealing stands and the old bytes go with
 * the space SQLite reuses.
 */
function dropOldPlainSecrets(db: Database.Database): void {
  try {
    db.exec("VACUUM");
    db.pragma("wal_checkpoint(TRUNCATE)");
  } catch {}
}
