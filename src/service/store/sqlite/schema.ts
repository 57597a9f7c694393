import type Database from "better-sqlite3";

/**
 * Migrations, applied in order; `PRAGMA user_version` records how many ran.
 * Append new entries, never edit a released one: a database file outlives
 * the code that created it.
 */
const MIGRATIONS: readonly string[] = [
  `
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
  // Every write is decided against the version it read (see KeyRecord.version);
  // audit rows name the acting key beside the acting name.
  `
  ALTER TABLE keys ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
  ALTER TABLE audit_events ADD COLUMN actor_key_id TEXT;
  `,
  // Whether an export's mail went out. NULL for exports made before this
  // column existed: nobody recorded it then.
  `
  ALTER TABLE exports ADD COLUMN mail_state TEXT CHECK (mail_state IN ('pending', 'sent', 'failed', 'none'));
  ALTER TABLE exports ADD COLUMN mail_error TEXT;
  ALTER TABLE exports ADD COLUMN mail_at INTEGER;
  `,
  // What every replica's verification cache follows (see KeyStore.readChanges).
  // Triggers, so that no write path can change a key without recording it:
  // every write that changes what verification answers moves the version.
  `
  CREATE TABLE key_changes (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    key_id  TEXT NOT NULL,
    hash    TEXT NOT NULL,
    version INTEGER NOT NULL,
    at      INTEGER NOT NULL
  );
  CREATE INDEX key_changes_at ON key_changes (at);
  CREATE TRIGGER keys_inserted AFTER INSERT ON keys BEGIN
    INSERT INTO key_changes (key_id, hash, version, at)
    VALUES (NEW.id, NEW.hash, NEW.version, CAST(unixepoch('subsec') * 1000 AS INTEGER));
  END;
  CREATE TRIGGER keys_changed AFTER UPDATE OF version ON keys WHEN OLD.version IS NOT NEW.version BEGIN
    INSERT INTO key_changes (key_id, hash, version, at)
    VALUES (NEW.id, NEW.hash, NEW.version, CAST(unixepoch('subsec') * 1000 AS INTEGER));
  END;
  CREATE TRIGGER keys_deleted AFTER DELETE ON keys BEGIN
    INSERT INTO key_changes (key_id, hash, version, at)
    VALUES (OLD.id, OLD.hash, OLD.version + 1, CAST(unixepoch('subsec') * 1000 AS INTEGER));
  END;
  `,
];

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Brings the database up to SCHEMA_VERSION, each migration in its own
 * transaction with its version bump, so a crash never leaves half a step.
 */
export function migrate(db: Database.Database): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current > SCHEMA_VERSION) {
    throw new Error(
      `database schema version ${current} is newer than this build supports (${SCHEMA_VERSION}); refusing to open it`,
    );
  }
  for (let version = current; version < SCHEMA_VERSION; version++) {
    const sql = MIGRATIONS[version] as string;
    // IMMEDIATE takes the write lock first: of several processes opening a new
    // file at once, one migrates each step and the others find it done.
    db.transaction(() => {
      if ((db.pragma("user_version", { simple: true }) as number) !== version) return;
      db.exec(sql);
      // PRAGMA takes no bound parameters; the value is our own integer.
      db.pragma(`user_version = ${version + 1}`);
    }).immediate();
  }
}
