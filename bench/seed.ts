/**
 * Seeds a benchmark data directory: a Keyward database with N keys, written
 * straight into SQLite in big transactions (CreateKey fsyncs every key, ~5 ms
 * each), and the tokens the load generator sends. Everything lands under
 * bench/.data/ (git-ignored): the tokens are real credentials of that database.
 *
 *   tsx bench/seed.ts --keys 1000000 --dir bench/.data/seed-1m
 *
 * Files written in --dir:
 *   keyward.db     the database (schema created by the store itself, WAL checkpointed)
 *   tokens.txt     plain keys, one token a line (the first lines are the hot set)
 *   limited.txt    keys with two rate limits and a huge credit balance (stay VALID)
 *   unknown.txt    well-formed tokens (correct checksum) that are in no database
 *   manifest.json  counts and when it was made; a directory with a matching manifest is reused
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import Database from "better-sqlite3";
import { uuidv7 } from "uuidv7";
import type { KeyRecord } from "../src/service/keys/model.js";
import { generateToken, hashToken, tokenHint } from "../src/service/keys/token.js";
import { keyToColumns } from "../src/service/store/sqlite/rows.js";
import { SCHEMA_VERSION } from "../src/service/store/sqlite/schema.js";
import { createSqliteKeyStore } from "../src/service/store/sqlite/sqlite-key-store.js";

export const LIMITED_KEYS = 10;
export const UNKNOWN_TOKENS = 50_000;
const BATCH = 50_000;
const DAY_MS = 86_400_000;

export interface SeedManifest {
  keys: number;
  limited: number;
  unknown: number;
  schemaVersion: number;
  seededAt: string;
  seedMs: number;
  dbBytes: number;
}

/** The record of the i-th seeded key (plain full-access key, two scopes, no limits). */
export function baseRecord(token: string, i: number, now: number): KeyRecord {
  // Created within the last 20 days, so no key counts as inactive or due for rotation.
  const createdAt = now - Math.floor((i * 20 * DAY_MS) / 1_000_000) - 1;
  return {
    id: uuidv7(),
    hash: hashToken(token),
    tokenHint: tokenHint(token),
    name: `bench key ${String(i).padStart(7, "0")}`,
    description: "",
    permission: "full_access",
    domainId: null,
    subject: `org_${String(i % 1000).padStart(4, "0")}`,
    scopes: ["emails:send", "domains:read"],
    claims: null,
    createdBy: "bench-seed",
    expiresAt: null,
    enabled: true,
    allowedCidrs: [],
    createdAt,
    updatedAt: createdAt,
    revokedAt: null,
    revocationReason: null,
    lastUsedAt: null,
    requestCount: 0,
    rotatedFromId: null,
    rotatedToId: null,
    inactiveSince: null,
    rotationNotifiedAt: null,
    creditsLowThreshold: null,
    ratelimits: [],
    remaining: null,
    refill: null,
    version: 1,
  };
}

function readManifest(dir: string): SeedManifest | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"), "utf8")) as SeedManifest;
  } catch {
    return undefined;
  }
}

/** Seeds `dir` with `keys` keys unless it already holds such a seed. Returns its manifest. */
export async function seed(dir: string, keys: number, options: { force?: boolean; log?: (line: string) => void } = {}) {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const existing = readManifest(dir);
  if (
    !options.force &&
    existing?.keys === keys &&
    existing.schemaVersion === SCHEMA_VERSION &&
    fs.existsSync(path.join(dir, "keyward.db"))
  ) {
    return existing;
  }
  if (keys < 100 || keys > 10_000_000) throw new Error("--keys must be 100-10,000,000");
  const started = Date.now();
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, "keyward.db");

  // The store creates the schema (and its pragmas) exactly as the service would.
  await createSqliteKeyStore({ path: file, inactiveDays: 30 }).close();

  const db = new Database(file);
  // A throwaway file that is re-seeded when in doubt: no fsync while bulk loading.
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = OFF");
  db.pragma("cache_size = -262144");
  const columns = Object.keys(keyToColumns(baseRecord(generateToken("kw"), 0, started)));
  const insert = db.prepare(
    `INSERT INTO keys (${columns.join(", ")}) VALUES (${columns.map((c) => `@${c}`).join(", ")})`,
  );
  const insertMany = db.transaction((records: KeyRecord[]) => {
    for (const record of records) insert.run(keyToColumns(record));
  });

  const plain = keys - LIMITED_KEYS;
  const tokensOut = fs.openSync(path.join(dir, "tokens.txt"), "w", 0o600);
  const limitedOut = fs.openSync(path.join(dir, "limited.txt"), "w", 0o600);
  try {
    for (let from = 0; from < keys; from += BATCH) {
      const to = Math.min(keys, from + BATCH);
      const records: KeyRecord[] = [];
      const plainLines: string[] = [];
      const limitedLines: string[] = [];
      for (let i = from; i < to; i++) {
        const token = generateToken("kw");
        const record = baseRecord(token, i, started);
        if (i >= plain) {
          // Big enough never to trip during a run: the scenario measures their cost, not their refusals.
          record.ratelimits = [
            { name: "per-second", limit: 1_000_000_000, durationSeconds: 1 },
            { name: "per-minute", limit: 1_000_000_000, durationSeconds: 60 },
          ];
          record.remaining = 1_000_000_000_000_000;
          limitedLines.push(token);
        } else plainLines.push(token);
        records.push(record);
      }
      insertMany(records);
      if (plainLines.length > 0) fs.writeSync(tokensOut, `${plainLines.join("\n")}\n`);
      if (limitedLines.length > 0) fs.writeSync(limitedOut, `${limitedLines.join("\n")}\n`);
      if (to % 200_000 === 0 || to === keys) log(`seed: ${to}/${keys} keys`);
    }
  } finally {
    fs.closeSync(tokensOut);
    fs.closeSync(limitedOut);
  }
  const unknown: string[] = [];
  for (let i = 0; i < UNKNOWN_TOKENS; i++) unknown.push(generateToken("kw"));
  fs.writeFileSync(path.join(dir, "unknown.txt"), `${unknown.join("\n")}\n`, { mode: 0o600 });
  db.exec("ANALYZE");
  db.pragma("wal_checkpoint(TRUNCATE)");
  db.close();

  const manifest: SeedManifest = {
    keys,
    limited: LIMITED_KEYS,
    unknown: UNKNOWN_TOKENS,
    schemaVersion: SCHEMA_VERSION,
    seededAt: new Date().toISOString(),
    seedMs: Date.now() - started,
    dbBytes: fs.statSync(file).size,
  };
  fs.writeFileSync(path.join(dir, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  log(`seed: ${keys} keys in ${manifest.seedMs} ms, database ${(manifest.dbBytes / 1e6).toFixed(0)} MB`);
  return manifest;
}

/** Reads lines [offset, offset + count) of a token file, wrapping around; count 0 = all. */
export function readTokens(file: string, offset = 0, count = 0): string[] {
  const all = fs.readFileSync(file, "utf8").split("\n");
  if (all[all.length - 1] === "") all.pop();
  if (all.length === 0) throw new Error(`${file} holds no tokens`);
  if (count === 0) return all;
  const out: string[] = new Array(count);
  for (let i = 0; i < count; i++) out[i] = all[(offset + i) % all.length] as string;
  return out;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const { values } = parseArgs({
    options: {
      keys: { type: "string", default: "10000" },
      dir: { type: "string" },
      force: { type: "boolean", default: false },
    },
  });
  const keys = Number(values.keys);
  const dir = values.dir ?? `bench/.data/seed-${keys}`;
  await seed(path.resolve(dir), keys, { force: values.force });
}
