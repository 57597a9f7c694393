/**
 * The schema's history, one list for both databases: step N (1-based) is
 * MIGRATIONS[N - 1], written once for SQLite and once for PostgreSQL. Append
 * new steps, never edit a released one: a database outlives the code that
 * created it. SQLite records how many steps ran in `PRAGMA user_version`
 * (sqlite/schema.ts), PostgreSQL in `schema_migrations` (postgres/migrate.ts).
 */
export interface Migration {
  sqlite: string;
  postgres: string;
}

/** The lock key every PostgreSQL trigger takes before it records a change (see migration 4). */
export const KEY_CHANGES_LOCK = 7_202_504_001;

/** The channel PostgreSQL notifies, at commit, for each change recorded. */
export const KEY_CHANGES_CHANNEL = "keyward_key_changes";

/** A change row's time: the database's own clock, in ms. */
const SQLITE_NOW_MS = "CAST(unixepoch('subsec') * 1000 AS INTEGER)";
const POSTGRES_NOW_MS = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

export const MIGRATIONS: readonly Migration[] = [
  {
    sqlite: `
  CREATE TABLE keys (
    id                   TEXT PRIMARY KEY,
    hash                 TEXT NOT NULL,
    token_hint           TEXT NOT NULL,
    name                 TEXT NOT NULL,
    description          TEXT NOT NULL DEFAULT '',
    permission           TEXT NOT NULL CHECK (permission IN ('full_access', 'sending_access')),
    domain_id            TEXT,
    subject              TEXT,
    scopes               TEXT NOT NULL DEFAULT '[]',
    claims               TEXT,
    created_by           TEXT NOT NULL,
    expires_at           INTEGER,
    enabled              INTEGER NOT NULL DEFAULT 1,
    allowed_cidrs        TEXT NOT NULL DEFAULT '[]',
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    revoked_at           INTEGER,
    revocation_reason    TEXT,
    last_used_at         INTEGER,
    request_count        INTEGER NOT NULL DEFAULT 0,
    rotated_from_id      TEXT,
    rotated_to_id        TEXT,
    inactive_since       INTEGER,
    rotation_notified_at INTEGER,
    ratelimits           TEXT NOT NULL DEFAULT '[]',
    remaining            INTEGER,
    refill               TEXT
  );
  CREATE UNIQUE INDEX keys_hash ON keys (hash);
  CREATE INDEX keys_created ON keys (created_at, id);
  CREATE INDEX keys_subject_created ON keys (subject, created_at, id);
  CREATE INDEX keys_domain_created ON keys (domain_id, created_at, id);

  -- Usage rows refer to keys, but a flush may still carry a key that has gone:
  -- the writer skips those instead of failing the whole batch.
  CREATE TABLE usage_hourly (
    key_id     TEXT NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
    hour_start INTEGER NOT NULL,
    code       TEXT NOT NULL,
    count      INTEGER NOT NULL,
    PRIMARY KEY (key_id, hour_start, code)
  ) WITHOUT ROWID;
  CREATE INDEX usage_hourly_hour ON usage_hourly (hour_start);

  CREATE TABLE key_logs (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    key_id     TEXT NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
    at         INTEGER NOT NULL,
    code       TEXT NOT NULL,
    ip         TEXT,
    method     TEXT,
    path       TEXT,
    user_agent TEXT,
    tags       TEXT
  );
  CREATE INDEX key_logs_key ON key_logs (key_id, id);
  CREATE INDEX key_logs_at ON key_logs (at);

  -- No foreign key to keys: the audit trail must survive whatever happens to a key row.
  CREATE TABLE audit_events (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    at             INTEGER NOT NULL,
    actor          TEXT NOT NULL,
    action         TEXT NOT NULL,
    key_id         TEXT,
    export_id      TEXT,
    summary        TEXT NOT NULL,
    changed_fields TEXT NOT NULL DEFAULT '[]'
  );
  CREATE INDEX audit_events_key ON audit_events (key_id, id);
  CREATE INDEX audit_events_actor ON audit_events (actor, id);
  CREATE INDEX audit_events_action ON audit_events (action, id);
  CREATE INDEX audit_events_at ON audit_events (at);

  CREATE TABLE exports (
    id            TEXT PRIMARY KEY,
    resource      TEXT NOT NULL CHECK (resource IN ('api_keys', 'key_logs')),
    filters       TEXT NOT NULL DEFAULT '{}',
    state         TEXT NOT NULL CHECK (state IN ('pending', 'ready', 'failed', 'expired')),
    requested_by  TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    matching_rows INTEGER NOT NULL DEFAULT 0,
    row_count     INTEGER NOT NULL DEFAULT 0,
    byte_size     INTEGER NOT NULL DEFAULT 0,
    error         TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX exports_created ON exports (created_at, id);
  CREATE INDEX exports_state_created ON exports (state, created_at, id);

  -- Small named values the store keeps for itself, e.g. when the last sweep ran.
  CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value INTEGER
  ) WITHOUT ROWID;
  `,
    // Times are BIGINT ms. Ids are COLLATE "C" so that keyset pages order them
    // byte by byte, as SQLite does. JSON columns the store only keeps are
    // JSON (kept as written, like SQLite's TEXT); the two it queries are JSONB.
    postgres: `
  CREATE TABLE keys (
    id                   TEXT COLLATE "C" PRIMARY KEY,
    hash                 TEXT COLLATE "C" NOT NULL,
    token_hint           TEXT NOT NULL,
    name                 TEXT NOT NULL,
    description          TEXT NOT NULL DEFAULT '',
    permission           TEXT NOT NULL CHECK (permission IN ('full_access', 'sending_access')),
    domain_id            TEXT,
    subject              TEXT,
    scopes               JSONB NOT NULL DEFAULT '[]',
    claims               JSON,
    created_by           TEXT NOT NULL,
    expires_at           BIGINT,
    enabled              BOOLEAN NOT NULL DEFAULT TRUE,
    allowed_cidrs        JSON NOT NULL DEFAULT '[]',
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    revoked_at           BIGINT,
    revocation_reason    TEXT,
    last_used_at         BIGINT,
    request_count        BIGINT NOT NULL DEFAULT 0,
    rotated_from_id      TEXT,
    rotated_to_id        TEXT,
    inactive_since       BIGINT,
    rotation_notified_at BIGINT,
    ratelimits           JSON NOT NULL DEFAULT '[]',
    remaining            BIGINT,
    refill               JSONB
  );
  CREATE UNIQUE INDEX keys_hash ON keys (hash);
  CREATE INDEX keys_created ON keys (created_at, id);
  CREATE INDEX keys_subject_created ON keys (subject, created_at, id);
  CREATE INDEX keys_domain_created ON keys (domain_id, created_at, id);

  CREATE TABLE usage_hourly (
    key_id     TEXT COLLATE "C" NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
    hour_start BIGINT NOT NULL,
    code       TEXT NOT NULL,
    count      BIGINT NOT NULL,
    PRIMARY KEY (key_id, hour_start, code)
  );
  CREATE INDEX usage_hourly_hour ON usage_hourly (hour_start);

  CREATE TABLE key_logs (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key_id     TEXT COLLATE "C" NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
    at         BIGINT NOT NULL,
    code       TEXT NOT NULL,
    ip         TEXT,
    method     TEXT,
    path       TEXT,
    user_agent TEXT,
    tags       JSON
  );
  CREATE INDEX key_logs_key ON key_logs (key_id, id);
  CREATE INDEX key_logs_at ON key_logs (at);

  CREATE TABLE audit_events (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at             BIGINT NOT NULL,
    actor          TEXT NOT NULL,
    action         TEXT NOT NULL,
    key_id         TEXT COLLATE "C",
    export_id      TEXT COLLATE "C",
    summary        TEXT NOT NULL,
    changed_fields JSON NOT NULL DEFAULT '[]'
  );
  CREATE INDEX audit_events_key ON audit_events (key_id, id);
  CREATE INDEX audit_events_actor ON audit_events (actor, id);
  CREATE INDEX audit_events_action ON audit_events (action, id);
  CREATE INDEX audit_events_at ON audit_events (at);

  CREATE TABLE exports (
    id            TEXT COLLATE "C" PRIMARY KEY,
    resource      TEXT NOT NULL CHECK (resource IN ('api_keys', 'key_logs')),
    filters       JSON NOT NULL DEFAULT '{}',
    state         TEXT NOT NULL CHECK (state IN ('pending', 'ready', 'failed', 'expired')),
    requested_by  TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    matching_rows BIGINT NOT NULL DEFAULT 0,
    row_count     BIGINT NOT NULL DEFAULT 0,
    byte_size     BIGINT NOT NULL DEFAULT 0,
    error         TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX exports_created ON exports (created_at, id);
  CREATE INDEX exports_state_created ON exports (state, created_at, id);

  CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value BIGINT
  );
  `,
  },
  // Every write is decided against the version it read (see KeyRecord.version);
  // audit rows name the acting key beside the acting name.
  {
    sqlite: `
  ALTER TABLE keys ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
  ALTER TABLE audit_events ADD COLUMN actor_key_id TEXT;
  `,
    postgres: `
  ALTER TABLE keys ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
  ALTER TABLE audit_events ADD COLUMN actor_key_id TEXT COLLATE "C";
  `,
  },
  // Whether an export's mail went out. NULL for exports made before this
  // column existed: nobody recorded it then.
  {
    sqlite: `
  ALTER TABLE exports ADD COLUMN mail_state TEXT CHECK (mail_state IN ('pending', 'sent', 'failed', 'none'));
  ALTER TABLE exports ADD COLUMN mail_error TEXT;
  ALTER TABLE exports ADD COLUMN mail_at INTEGER;
  `,
    postgres: `
  ALTER TABLE exports ADD COLUMN mail_state TEXT CHECK (mail_state IN ('pending', 'sent', 'failed', 'none'));
  ALTER TABLE exports ADD COLUMN mail_error TEXT;
  ALTER TABLE exports ADD COLUMN mail_at BIGINT;
  `,
  },
  // The change record: one row per write that gives a key a new version (or
  // removes it), written by triggers so that no code path can forget it.
  // Replicas follow it to drop what they cached. A removed key records its
  // last version + 1, so that it reads as newer than any cached copy.
  {
    sqlite: `
  CREATE TABLE key_changes (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    key_id  TEXT NOT NULL,
    hash    TEXT NOT NULL,
    version INTEGER NOT NULL,
    at      INTEGER NOT NULL
  );
  CREATE INDEX key_changes_at ON key_changes (at);
  CREATE TRIGGER keys_change_insert AFTER INSERT ON keys BEGIN
    INSERT INTO key_changes (key_id, hash, version, at) VALUES (NEW.id, NEW.hash, NEW.version, ${SQLITE_NOW_MS});
  END;
  CREATE TRIGGER keys_change_update AFTER UPDATE OF version ON keys WHEN OLD.version IS NOT NEW.version BEGIN
    INSERT INTO key_changes (key_id, hash, version, at) VALUES (NEW.id, NEW.hash, NEW.version, ${SQLITE_NOW_MS});
  END;
  CREATE TRIGGER keys_change_delete AFTER DELETE ON keys BEGIN
    INSERT INTO key_changes (key_id, hash, version, at) VALUES (OLD.id, OLD.hash, OLD.version + 1, ${SQLITE_NOW_MS});
  END;
  `,
    // Ids come from a sequence, which hands them out in call order, not commit
    // order. Every transaction that records a change therefore holds one
    // advisory lock from before its first change until it ends: ids then
    // become visible in id order, and a follower reading "id > last" never
    // skips one. The statement-level trigger takes the lock before the
    // statement locks any key row, so a writer never holds a row while it
    // waits for the lock (which would deadlock with the lock's holder).
    postgres: `
  CREATE TABLE key_changes (
    id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key_id  TEXT COLLATE "C" NOT NULL,
    hash    TEXT COLLATE "C" NOT NULL,
    version INTEGER NOT NULL,
    at      BIGINT NOT NULL
  );
  CREATE INDEX key_changes_at ON key_changes (at);

  CREATE FUNCTION keyward_lock_key_changes() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    PERFORM pg_advisory_xact_lock(${KEY_CHANGES_LOCK});
    RETURN NULL;
  END
  $$;

  CREATE FUNCTION keyward_record_key_change() RETURNS trigger LANGUAGE plpgsql AS $$
  DECLARE
    change_id BIGINT;
  BEGIN
    PERFORM pg_advisory_xact_lock(${KEY_CHANGES_LOCK});
    IF TG_OP = 'DELETE' THEN
      INSERT INTO key_changes (key_id, hash, version, at)
        VALUES (OLD.id, OLD.hash, OLD.version + 1, ${POSTGRES_NOW_MS})
        RETURNING id INTO change_id;
    ELSE
      INSERT INTO key_changes (key_id, hash, version, at)
        VALUES (NEW.id, NEW.hash, NEW.version, ${POSTGRES_NOW_MS})
        RETURNING id INTO change_id;
    END IF;
    PERFORM pg_notify('${KEY_CHANGES_CHANNEL}', change_id::text);
    RETURN NULL;
  END
  $$;

  CREATE TRIGGER keys_change_lock BEFORE INSERT OR DELETE OR UPDATE OF version ON keys
    FOR EACH STATEMENT EXECUTE FUNCTION keyward_lock_key_changes();
  CREATE TRIGGER keys_change_insert AFTER INSERT ON keys
    FOR EACH ROW EXECUTE FUNCTION keyward_record_key_change();
  CREATE TRIGGER keys_change_update AFTER UPDATE ON keys
    FOR EACH ROW WHEN (OLD.version IS DISTINCT FROM NEW.version) EXECUTE FUNCTION keyward_record_key_change();
  CREATE TRIGGER keys_change_delete AFTER DELETE ON keys
    FOR EACH ROW EXECUTE FUNCTION keyward_record_key_change();
  `,
  },
  // Owners are told: the outbox of events (written in the transaction of the
  // change that causes them), webhook endpoints, their deliveries (one event
  // to one endpoint; those of one endpoint and key go out in id order) and
  // every attempt. The keys' new columns remember which notices the sweep has
  // given (expiring in 7 days and in 1 day, expired, low on credits), so each
  // is given once; keys already expired count as told.
  {
    sqlite: `
  ALTER TABLE keys ADD COLUMN expiry_notice_for INTEGER;
  ALTER TABLE keys ADD COLUMN expiry_notice_days INTEGER;
  ALTER TABLE keys ADD COLUMN expired_notice_for INTEGER;
  ALTER TABLE keys ADD COLUMN credits_low_notified_at INTEGER;
  ALTER TABLE keys ADD COLUMN credits_low_threshold INTEGER;
  UPDATE keys SET expired_notice_for = expires_at WHERE expires_at IS NOT NULL AND expires_at <= ${SQLITE_NOW_MS};

  CREATE TABLE events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL,
    type       TEXT NOT NULL,
    at         INTEGER NOT NULL,
    key_id     TEXT,
    export_id  TEXT,
    data       TEXT NOT NULL,
    relayed_at INTEGER,
    mail_state TEXT NOT NULL DEFAULT 'none' CHECK (mail_state IN ('none', 'pending', 'queued'))
  );
  CREATE UNIQUE INDEX events_id ON events (id);
  CREATE INDEX events_unrelayed ON events (seq) WHERE relayed_at IS NULL;
  CREATE INDEX events_mail ON events (seq) WHERE mail_state = 'pending';
  CREATE INDEX events_at ON events (at);

  CREATE TABLE webhook_endpoints (
    id              TEXT PRIMARY KEY,
    url             TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    event_types     TEXT NOT NULL DEFAULT '[]',
    enabled         INTEGER NOT NULL DEFAULT 1,
    secret          TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    disabled_reason TEXT,
    failing_since   INTEGER,
    version         INTEGER NOT NULL DEFAULT 1
  );
  CREATE INDEX webhook_endpoints_created ON webhook_endpoints (created_at, id);

  CREATE TABLE webhook_deliveries (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    event_seq   INTEGER NOT NULL,
    endpoint_id TEXT NOT NULL,
    order_key   TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('pending', 'succeeded', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    manual      INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    queued_at   INTEGER
  );
  CREATE INDEX webhook_deliveries_chain ON webhook_deliveries (endpoint_id, order_key, id) WHERE state = 'pending';
  CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (id) WHERE state = 'pending';
  CREATE INDEX webhook_deliveries_updated ON webhook_deliveries (updated_at);
  CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_seq);

  CREATE TABLE webhook_attempts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id   INTEGER NOT NULL,
    endpoint_id   TEXT NOT NULL,
    event_id      TEXT NOT NULL,
    event_type    TEXT NOT NULL,
    attempt       INTEGER NOT NULL,
    at            INTEGER NOT NULL,
    succeeded     INTEGER NOT NULL,
    response_code INTEGER,
    duration_ms   INTEGER NOT NULL,
    error         TEXT,
    manual        INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, id);
  CREATE INDEX webhook_attempts_event ON webhook_attempts (event_id, id);
  CREATE INDEX webhook_attempts_at ON webhook_attempts (at);
  `,
    postgres: `
  ALTER TABLE keys ADD COLUMN expiry_notice_for BIGINT;
  ALTER TABLE keys ADD COLUMN expiry_notice_days INTEGER;
  ALTER TABLE keys ADD COLUMN expired_notice_for BIGINT;
  ALTER TABLE keys ADD COLUMN credits_low_notified_at BIGINT;
  ALTER TABLE keys ADD COLUMN credits_low_threshold BIGINT;
  UPDATE keys SET expired_notice_for = expires_at WHERE expires_at IS NOT NULL AND expires_at <= ${POSTGRES_NOW_MS};

  CREATE TABLE events (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id         TEXT COLLATE "C" NOT NULL,
    type       TEXT NOT NULL,
    at         BIGINT NOT NULL,
    key_id     TEXT COLLATE "C",
    export_id  TEXT COLLATE "C",
    data       JSON NOT NULL,
    relayed_at BIGINT,
    mail_state TEXT NOT NULL DEFAULT 'none' CHECK (mail_state IN ('none', 'pending', 'queued'))
  );
  CREATE UNIQUE INDEX events_id ON events (id);
  CREATE INDEX events_unrelayed ON events (seq) WHERE relayed_at IS NULL;
  CREATE INDEX events_mail ON events (seq) WHERE mail_state = 'pending';
  CREATE INDEX events_at ON events (at);

  CREATE TABLE webhook_endpoints (
    id              TEXT COLLATE "C" PRIMARY KEY,
    url             TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    event_types     JSON NOT NULL DEFAULT '[]',
    enabled         BOOLEAN NOT NULL DEFAULT TRUE,
    secret          TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    disabled_reason TEXT,
    failing_since   BIGINT,
    version         INTEGER NOT NULL DEFAULT 1
  );
  CREATE INDEX webhook_endpoints_created ON webhook_endpoints (created_at, id);

  CREATE TABLE webhook_deliveries (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_seq   BIGINT NOT NULL,
    endpoint_id TEXT COLLATE "C" NOT NULL,
    order_key   TEXT COLLATE "C" NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('pending', 'succeeded', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    manual      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    queued_at   BIGINT
  );
  CREATE INDEX webhook_deliveries_chain ON webhook_deliveries (endpoint_id, order_key, id) WHERE state = 'pending';
  CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (id) WHERE state = 'pending';
  CREATE INDEX webhook_deliveries_updated ON webhook_deliveries (updated_at);
  CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_seq);

  CREATE TABLE webhook_attempts (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id   BIGINT NOT NULL,
    endpoint_id   TEXT COLLATE "C" NOT NULL,
    event_id      TEXT COLLATE "C" NOT NULL,
    event_type    TEXT NOT NULL,
    attempt       INTEGER NOT NULL,
    at            BIGINT NOT NULL,
    succeeded     BOOLEAN NOT NULL,
    response_code INTEGER,
    duration_ms   INTEGER NOT NULL,
    error         TEXT,
    manual        BOOLEAN NOT NULL DEFAULT FALSE
  );
  CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, id);
  CREATE INDEX webhook_attempts_event ON webhook_attempts (event_id, id);
  CREATE INDEX webhook_attempts_at ON webhook_attempts (at);
  `,
  },
  // key.credits_low is told (webhooks) by the verification whose spend takes
  // a key below its line, which sets credits_low_notified_at; the sweep's
  // digest and owners' reminders then list each such key once, remembered
  // here. Keys already told were already reminded.
  {
    sqlite: `
  ALTER TABLE keys ADD COLUMN credits_low_reminded_at INTEGER;
  UPDATE keys SET credits_low_reminded_at = credits_low_notified_at WHERE credits_low_notified_at IS NOT NULL;
  `,
    postgres: `
  ALTER TABLE keys ADD COLUMN credits_low_reminded_at BIGINT;
  UPDATE keys SET credits_low_reminded_at = credits_low_notified_at WHERE credits_low_notified_at IS NOT NULL;
  `,
  },
];

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** Change rows are kept this long (by the database's clock), then the sweep deletes them. */
export const KEY_CHANGES_RETENTION_MS = 24 * 3_600_000;

/** Delivered events, finished deliveries and attempts are kept this long, then the sweep deletes them. */
export const WEBHOOK_RETENTION_MS = 30 * 24 * 3_600_000;

/** The refusal to open a database that a newer build has migrated. */
export function schemaTooNewError(current: number): Error {
  return new Error(
    `database schema version ${current} is newer than this build supports (${SCHEMA_VERSION}); refusing to open it`,
  );
}

export { POSTGRES_NOW_MS, SQLITE_NOW_MS };
