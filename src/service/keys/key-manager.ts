import type { Logger } from "pino";
import { uuidv7 } from "uuidv7";
import { CreditSpender } from "../credits/credit-spender.js";
import { dailyRefillMoment, monthlyRefillMoments, refillDue } from "../credits/refill-schedule.js";
import { keyData, keyEvent, newEvent } from "../events/payloads.js";
import { crossedCreditsLowLine } from "../events/sweep-events.js";
import type { KeyStore, KeyChange as RecordedChange } from "../store/key-store.js";
import type { UsageRecorder } from "../usage/usage-recorder.js";
import { BOOTSTRAP_ACTOR, SERVICE_ACTOR } from "./actors.js";
import type { KeysApi, KeyView, RateLimitState, SweepOutcome, VerifyResult } from "./api.js";
import { ConflictError, FailedPreconditionError, NotFoundError, ValidationError } from "./errors.js";
import { etagOf, validateEtag } from "./etag.js";
import { createExportsApi, type ExportsApi } from "./exports.js";
import {
  type CreateKeyInput,
  type ListAuditInput,
  type ListKeyLogsInput,
  type ListKeysInput,
  type Page,
  type SweepInput,
  UPDATABLE_FIELDS,
  type UpdateKeyInput,
  type UsageInput,
  type VerifyInput,
} from "./inputs.js";
import { type CachedKey, hasExactScope, KeyCache } from "./key-cache.js";
import type {
  Actor,
  AuditAction,
  AuditEntry,
  AuditRow,
  EventRecord,
  JsonObject,
  KeyFilter,
  KeyLogRow,
  KeyRecord,
  RateLimitRule,
  VerifiableKey,
} from "./model.js";
import { decodeIdCursor, decodeTimeCursor, encodeIdCursor, encodeTimeCursor, pageSize } from "./page-token.js";
import { validateFilter, validateVerifyInput } from "./request-validation.js";
import { deriveStatus } from "./status.js";
import { generateToken, hashToken, isWellFormedToken, tokenHint } from "./token.js";
import { readUsage } from "./usage-report.js";
import * as v from "./validation.js";

/** The part of a rate limiter verification needs; see src/service/limits. */
export interface RateLimitCheck {
  check(
    keyId: string,
    rules: readonly RateLimitRule[],
    cost: number,
    now: number,
  ): { allowed: boolean; state?: RateLimitState } | Promise<{ allowed: boolean; state?: RateLimitState }>;
  reset(keyId: string): void;
}

export interface KeyManagerOptions {
  store: KeyStore;
  usage: UsageRecorder;
  logger: Logger;
  clock?: () => number;
  tokenPrefix: string;
  cacheSize: number;
  inactiveDays: number;
  logRetentionDays: number;
  rateLimiter?: RateLimitCheck;
  /** Called once when an export reaches READY or FAILED, with the seconds since it was asked for. */
  onExportFinished?: (state: "ready" | "failed", seconds: number) => void;
  /** Called after a write of this process recorded events: the relay waiting for them wakes. */
  onEvents?: () => void;
}

const UPDATABLE: ReadonlySet<string> = new Set(UPDATABLE_FIELDS);
const MAX_GRACE_SECONDS = 30 * 86_400;
/**
 * Writes to one key are serialized in this process, so conflicts come only
 * from other processes or replicas; each retry reads the key again and
 * decides anew, and one write wins every round.
 */
const MAX_WRITE_ATTEMPTS = 8;

/** One write decided against the key as it stood: the new row, and the key a rotation creates. */
interface KeyChange {
  next: KeyRecord;
  audit: AuditEntry;
  writeCredits?: boolean;
  created?: KeyRecord;
  /** The events the write announces, built from `next` once its version is known. */
  events?: EventDraft[];
}

/** An event of a key write: its type and what its data holds besides the key. */
interface EventDraft {
  type: string;
  extra?: JsonObject;
  mail?: boolean;
}

const MALFORMED: VerifyResult = Object.freeze({ valid: false, code: "MALFORMED" });
const NOT_FOUND: VerifyResult = Object.freeze({ valid: false, code: "NOT_FOUND" });

/** The key's rules the request names, or all of them when it names none. */
function applicableRules(
  rules: readonly RateLimitRule[],
  names: readonly string[] | undefined,
): readonly RateLimitRule[] {
  return names && names.length > 0 ? rules.filter((r) => names.includes(r.name)) : rules;
}

/**
 * The key service's domain: issuing, verifying, updating, rotating and
 * revoking keys. Writes go to the store first (durable), then to the cache,
 * so the next verification sees them.
 */
export class KeyManager implements KeysApi {
  private readonly store: KeyStore;
  private readonly usageRecorder: UsageRecorder;
  private readonly cache: KeyCache;
  private readonly now: () => number;
  private readonly exportsApi: ExportsApi;
  private readonly credits: CreditSpender;
  /** Concurrent misses for one hash share one store read. */
  private readonly loading = new Map<string, Promise<CachedKey | null>>();
  /** The last write queued for each key id (see MAX_WRITE_ATTEMPTS). */
  private readonly writing = new Map<string, Promise<unknown>>();

  constructor(private readonly options: KeyManagerOptions) {
    this.store = options.store;
    this.usageRecorder = options.usage;
    this.now = options.clock ?? Date.now;
    this.cache = new KeyCache(options.cacheSize);
    this.credits = new CreditSpender(options.store);
    this.exportsApi = createExportsApi({
      store: options.store,
      now: this.now,
      view: (record) => this.view(record),
      inactiveDays: options.inactiveDays,
      onFinished: options.onExportFinished,
      onEvents: () => options.onEvents?.(),
    });
  }

  /**
   * Keys changed by any process (this one included): what the cache holds of
   * them that is older is dropped, and reads already in flight for them are
   * no longer shared with new lookups.
   */
  applyChanges(changes: readonly RecordedChange[]): void {
    for (const change of changes) {
      this.cache.forget(change.hash, change.version);
      this.loading.delete(change.hash);
    }
  }

  /** While on, every lookup reads the store: this process may have missed changes. */
  bypassCache(on: boolean): void {
    this.cache.bypass(on);
    if (on) this.loading.clear();
  }

  /** For metrics: how verification lookups were answered, and how many keys are cached. */
  cacheStats(): { hits: number; misses: number; size: number } {
    return { hits: this.cache.hits, misses: this.cache.misses, size: this.cache.size };
  }

  private view(record: KeyRecord): KeyView {
    return { record, status: deriveStatus(record, this.now(), this.options.inactiveDays) };
  }

  private auditEntry(
    actor: Actor,
    action: AuditAction,
    keyId: string,
    summary: string,
    changed: string[] = [],
  ): AuditEntry {
    return {
      at: this.now(),
      actor: actor.name,
      actorKeyId: actor.keyId,
      action,
      keyId,
      exportId: null,
      summary,
      changedFields: changed,
    };
  }

  /**
   * Reads the key, lets `decide` compute the change from it and writes that
   * change only if the key is still as read; when another write landed first
   * it reads again and decides anew, so a revocation is never undone by an
   * edit that read the key before it. With an etag the caller asked for "only
   * if unchanged": a stale one is a ConflictError, never a retry.
   */
  private change(id: string, etag: string | undefined, decide: (current: KeyRecord) => KeyChange): Promise<KeyChange> {
    const keyId = v.validateId(id);
    if (etag) validateEtag(etag);
    return this.serialized(keyId, async () => {
      for (let attempt = 1; ; attempt++) {
        const current = await this.load(keyId);
        if (etag && etag !== etagOf(current)) {
          throw new ConflictError(`key ${keyId} has changed since etag ${JSON.stringify(etag)}: read it again`);
        }
        const change = decide(current);
        change.next.version = current.version + 1;
        const events = this.changeEvents(change);
        try {
          if (change.created) await this.store.rotateKey(change.next, change.created, change.audit, events);
          else
            await this.store.updateKey(change.next, change.audit, {
              writeCredits: change.writeCredits ?? false,
              events,
            });
          if (events.length > 0) this.options.onEvents?.();
          return change;
        } catch (error) {
          if (!(error instanceof ConflictError) || etag || attempt >= MAX_WRITE_ATTEMPTS) throw error;
        }
      }
    });
  }

  /**
   * The outbox events of a key write. `key.rotated` carries the new key and
   * the previous one, as RotateKey answers; every other the key as written.
   */
  private changeEvents(change: KeyChange): EventRecord[] {
    const at = change.audit.at;
    const inactiveDays = this.options.inactiveDays;
    return (change.events ?? []).map((draft) => {
      if (draft.type === "key.rotated" && change.created) {
        const data = {
          key: keyData(change.created, at, inactiveDays),
          previousKey: keyData(change.next, at, inactiveDays),
        };
        return newEvent(draft.type, at, data, { keyId: change.next.id });
      }
      return keyEvent(draft.type, change.next, at, inactiveDays, draft.extra, draft.mail);
    });
  }

  private serialized<T>(keyId: string, work: () => Promise<T>): Promise<T> {
    const run = (this.writing.get(keyId) ?? Promise.resolve()).then(work, work);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.writing.set(keyId, settled);
    void settled.then(() => {
      if (this.writing.get(keyId) === settled) this.writing.delete(keyId);
    });
    return run;
  }

  private async load(id: string): Promise<KeyRecord> {
    const record = await this.store.getKeyById(v.validateId(id));
    if (!record) throw new NotFoundError("key", id);
    return record;
  }

  /** A revoked key takes no change but a (future) deliberate restore. */
  private requireLive(record: KeyRecord): void {
    if (record.revokedAt !== null && record.revokedAt <= this.now()) {
      throw new FailedPreconditionError(`key ${record.id} is revoked`);
    }
  }

  async create(input: CreateKeyInput, actor: Actor): Promise<{ key: KeyView; token: string }> {
    const now = this.now();
    const name = v.validateName(input.name);
    const description = v.validateDescription(input.description);
    const permission = v.validatePermission(input.permission);
    const domainId = v.validateDomain(v.validateIdentifier(input.domainId, "domain_id"), permission);
    const subject = v.validateIdentifier(input.subject, "subject");
    const scopes = v.validateScopes(input.scopes);
    const claims = v.validateClaims(input.claims);
    const expiresIn = v.validateExpiresIn(input.expiresInSeconds);
    const allowedCidrs = v.validateCidrs(input.allowedCidrs);
    const ratelimits = v.validateRatelimits(input.ratelimits);
    const refill = v.validateRefill(input.refill, now);
    const remaining = v.validateRemaining(input.remaining) ?? (refill ? refill.amount : null);
    const token = generateToken(this.options.tokenPrefix);
    const record: KeyRecord = {
      id: uuidv7(),
      hash: hashToken(token),
      tokenHint: tokenHint(token),
      name,
      description,
      permission,
      domainId,
      subject,
      scopes,
      claims,
      createdBy: actor.name,
      expiresAt: expiresIn === undefined ? null : now + expiresIn * 1000,
      enabled: input.enabled ?? true,
      allowedCidrs,
      createdAt: now,
      updatedAt: now,
      revokedAt: null,
      revocationReason: null,
      lastUsedAt: null,
      requestCount: 0,
      rotatedFromId: null,
      rotatedToId: null,
      inactiveSince: null,
      rotationNotifiedAt: null,
      ratelimits,
      remaining,
      refill,
      creditsLowThreshold: validateThreshold(input.creditsLowThreshold),
      version: 1,
    };
    const action: AuditAction = isBootstrap(actor) ? "key.bootstrap" : "key.create";
    const created = keyEvent("key.created", record, now, this.options.inactiveDays);
    await this.store.insertKey(record, this.auditEntry(actor, action, record.id, `created key "${name}"`), [created]);
    this.options.onEvents?.();
    this.cache.set(record);
    return { key: this.view(record), token };
  }

  async get(id: string): Promise<KeyView> {
    return this.view(await this.load(id));
  }

  async list(input: ListKeysInput): Promise<Page<KeyView>> {
    const size = pageSize(input.pageSize);
    const filter = validateFilter(input);
    const after = decodeTimeCursor(input.pageToken);
    // One extra row tells whether another page exists.
    const rows = await this.store.listKeys(filter, this.now(), size + 1, after);
    const page = rows.slice(0, size);
    const last = page[page.length - 1];
    return {
      items: page.map((r) => this.view(r)),
      nextPageToken: rows.length > size && last ? encodeTimeCursor(last) : "",
    };
  }

  async count(filter: KeyFilter): Promise<number> {
    return this.store.countKeys(validateFilter(filter), this.now());
  }

  async update(id: string, input: UpdateKeyInput, actor: Actor): Promise<KeyView> {
    if (input.fields.length === 0) throw new ValidationError("update_mask", "must name at least one field");
    input.fields.forEach((field, i) => {
      if (!UPDATABLE.has(field)) {
        throw new ValidationError(`update_mask.paths[${i}]`, `"${field}" cannot be updated`);
      }
    });
    const fields = new Set(input.fields);
    const { next } = await this.change(id, input.etag, (current) => {
      this.requireLive(current);
      const now = this.now();
      const next: KeyRecord = { ...current, updatedAt: now };
      if (fields.has("name")) next.name = v.validateName(input.name);
      if (fields.has("description")) next.description = v.validateDescription(input.description);
      if (fields.has("permission")) next.permission = v.validatePermission(input.permission);
      if (fields.has("domain_id")) next.domainId = v.validateIdentifier(input.domainId, "domain_id");
      v.validateDomain(next.domainId, next.permission);
      if (fields.has("scopes")) next.scopes = v.validateScopes(input.scopes);
      if (fields.has("claims")) next.claims = v.validateClaims(input.claims);
      if (fields.has("expire_time")) {
        if (input.expiresAt !== undefined && (!Number.isSafeInteger(input.expiresAt) || input.expiresAt <= now)) {
          throw new ValidationError("expire_time", "must be in the future");
        }
        next.expiresAt = input.expiresAt ?? null;
      }
      if (fields.has("enabled")) next.enabled = input.enabled ?? false;
      if (fields.has("allowed_cidrs")) next.allowedCidrs = v.validateCidrs(input.allowedCidrs);
      if (fields.has("ratelimits")) next.ratelimits = v.validateRatelimits(input.ratelimits);
      if (fields.has("refill")) next.refill = v.validateRefill(input.refill, now);
      if (fields.has("remaining")) next.remaining = v.validateRemaining(input.remaining);
      if (fields.has("credits_low_threshold")) next.creditsLowThreshold = validateThreshold(input.creditsLowThreshold);
      const onlyEnabled = fields.size === 1 && fields.has("enabled");
      const action: AuditAction = onlyEnabled ? (next.enabled ? "key.enable" : "key.disable") : "key.update";
      const summary = onlyEnabled
        ? `${next.enabled ? "enabled" : "disabled"} key "${next.name}"`
        : `changed ${[...fields].join(", ")}`;
      const events: EventDraft[] = [];
      if (!onlyEnabled) events.push({ type: "key.updated", extra: { changedFields: [...fields] } });
      if (next.enabled !== current.enabled) events.push({ type: next.enabled ? "key.enabled" : "key.disabled" });
      return {
        next,
        audit: this.auditEntry(actor, action, next.id, summary, [...fields]),
        writeCredits: fields.has("remaining"),
        events,
      };
    });
    this.cache.refresh(next);
    if (fields.has("ratelimits")) this.options.rateLimiter?.reset(next.id);
    return this.view(next);
  }

  async delete(id: string, reason: string, actor: Actor, options: { etag?: string } = {}): Promise<KeyView> {
    const revocationReason = v.validateReason(reason);
    const { next } = await this.change(id, options.etag, (current) => {
      this.requireLive(current);
      const now = this.now();
      const summary = `revoked key "${current.name}"${revocationReason ? `: ${revocationReason}` : ""}`;
      return {
        next: { ...current, revokedAt: now, revocationReason, updatedAt: now },
        audit: this.auditEntry(actor, "key.delete", current.id, summary),
        events: [{ type: "key.revoked" }],
      };
    });
    this.cache.refresh(next);
    this.options.rateLimiter?.reset(next.id);
    return this.view(next);
  }

  async rotate(
    id: string,
    gracePeriodSeconds: number,
    actor: Actor,
    options: { etag?: string } = {},
  ): Promise<{ key: KeyView; token: string; previous: KeyView }> {
    if (!Number.isInteger(gracePeriodSeconds) || gracePeriodSeconds < 0 || gracePeriodSeconds > MAX_GRACE_SECONDS) {
      throw new ValidationError("grace_period_seconds", `must be 0-${MAX_GRACE_SECONDS} (30 days)`);
    }
    const token = generateToken(this.options.tokenPrefix);
    const change = await this.change(id, options.etag, (old) => {
      this.requireLive(old);
      // At most once: a second rotation (even one racing the first) finds the link.
      if (old.rotatedToId !== null) {
        throw new FailedPreconditionError(`key ${old.id} was already rotated to ${old.rotatedToId}`);
      }
      return this.rotation(old, token, gracePeriodSeconds, actor);
    });
    const created = change.created as KeyRecord;
    this.cache.refresh(change.next);
    this.cache.set(created);
    return { key: this.view(created), token, previous: this.view(change.next) };
  }

  /** The successor of `old` under `token`, and `old` linked to it and ending with the grace period. */
  private rotation(old: KeyRecord, token: string, gracePeriodSeconds: number, actor: Actor): KeyChange {
    const now = this.now();
    // The new key keeps the old one's lifetime, so a 90-day key rotates into a 90-day key.
    const lifetime = old.expiresAt === null ? null : old.expiresAt - old.createdAt;
    const created: KeyRecord = {
      ...old,
      id: uuidv7(),
      hash: hashToken(token),
      tokenHint: tokenHint(token),
      createdBy: actor.name,
      createdAt: now,
      updatedAt: now,
      expiresAt: lifetime === null ? null : now + lifetime,
      revokedAt: null,
      revocationReason: null,
      lastUsedAt: null,
      requestCount: 0,
      rotatedFromId: old.id,
      rotatedToId: null,
      inactiveSince: null,
      rotationNotifiedAt: null,
      refill: old.refill ? { ...old.refill, lastRefillAt: now } : null,
      version: 1,
    };
    const graceEnd = now + gracePeriodSeconds * 1000;
    const next: KeyRecord =
      gracePeriodSeconds === 0
        ? { ...old, rotatedToId: created.id, revokedAt: now, revocationReason: "rotated", updatedAt: now }
        : {
            ...old,
            rotatedToId: created.id,
            expiresAt: old.expiresAt === null ? graceEnd : Math.min(old.expiresAt, graceEnd),
            updatedAt: now,
          };
    const summary = `rotated key "${old.name}" to ${created.id} with ${gracePeriodSeconds} s grace`;
    const events: EventDraft[] = [{ type: "key.rotated" }];
    if (gracePeriodSeconds === 0) events.push({ type: "key.revoked" });
    return { next, created, audit: this.auditEntry(actor, "key.rotate", old.id, summary), events };
  }

  /**
   * Answers without a promise when it can (a cached key with no rate limit
   * on a shared store and no credits, or a token that is malformed or known
   * to be missing): the hot path then costs no promise and no microtask hop.
   * Throws a ValidationError for bad options, synchronously or in the promise.
   */
  verify(input: VerifyInput): VerifyResult | Promise<VerifyResult> {
    const token = input.token;
    if (typeof token !== "string" || !isWellFormedToken(token)) return MALFORMED;
    const cost = validateVerifyInput(input);
    const hash = hashToken(token);
    const entry = this.cache.get(hash);
    if (entry === undefined) {
      return this.loadByHash(hash).then((loaded) =>
        loaded === null ? NOT_FOUND : this.verifyEntry(loaded, input, cost),
      );
    }
    if (entry === null) return NOT_FOUND;
    return this.verifyEntry(entry, input, cost);
  }

  private verifyEntry(entry: CachedKey, input: VerifyInput, cost: number): VerifyResult | Promise<VerifyResult> {
    const now = this.now();
    const context = input.context ?? null;
    const refused = this.refusal(entry, input, now);
    if (refused !== undefined) {
      this.usageRecorder.record(entry.record.id, refused.code, now, context);
      return refused;
    }
    const key = entry.record;
    const rules = this.options.rateLimiter === undefined ? [] : applicableRules(key.ratelimits, input.ratelimits);
    if (rules.length === 0 && key.remaining === null) {
      this.usageRecorder.record(key.id, "VALID", now, context);
      return { valid: true, code: "VALID", key };
    }
    return this.limitAndSpend(key, rules, cost, now).then((result) => {
      this.usageRecorder.record(key.id, result.code, now, context);
      return result;
    });
  }

  private loadByHash(hash: string): Promise<CachedKey | null> {
    let pending = this.loading.get(hash);
    if (pending === undefined) {
      pending = this.store
        .getKeyByHash(hash)
        .then((record) => {
          if (record === undefined) {
            this.cache.setMissing(hash);
            return null;
          }
          // A write may have cached a newer version while the read was in flight.
          return this.cache.get(hash) ?? this.cache.set(record);
        })
        .finally(() => {
          // applyChanges may have replaced this read with a newer one.
          if (this.loading.get(hash) === pending) this.loading.delete(hash);
        });
      this.loading.set(hash, pending);
    }
    return pending;
  }

  /** The answer when the key's state or the request's requirements refuse it; undefined when they allow it. */
  private refusal(entry: CachedKey, input: VerifyInput, now: number): VerifyResult | undefined {
    const key = entry.record;
    if (key.revokedAt !== null && key.revokedAt <= now) return { valid: false, code: "REVOKED", key };
    if (key.expiresAt !== null && key.expiresAt <= now) return { valid: false, code: "EXPIRED", key };
    if (!key.enabled) return { valid: false, code: "DISABLED", key };
    if (entry.cidrs !== null) {
      const ip = input.context?.ip;
      if (!ip || !entry.cidrs.matches(ip)) return { valid: false, code: "IP_NOT_ALLOWED", key };
    }
    if (input.requiredPermission === "full_access" && key.permission !== "full_access") {
      return { valid: false, code: "INSUFFICIENT_PERMISSION", key };
    }
    if (input.domainId && key.domainId !== null && key.domainId !== input.domainId) {
      return { valid: false, code: "DOMAIN_MISMATCH", key };
    }
    const required = input.requiredScopes;
    if (required !== undefined && required.length > 0 && !hasScopes(entry, required)) {
      return { valid: false, code: "MISSING_SCOPES", key };
    }
    return undefined;
  }

  /** Rate limits first (a refused request spends no credit), then credits. */
  private async limitAndSpend(
    key: VerifiableKey,
    rules: readonly RateLimitRule[],
    cost: number,
    now: number,
  ): Promise<VerifyResult> {
    let ratelimit: RateLimitState | undefined;
    const limiter = this.options.rateLimiter;
    if (limiter !== undefined && rules.length > 0) {
      const decision = await limiter.check(key.id, rules, cost, now);
      ratelimit = decision.state;
      if (!decision.allowed) return { valid: false, code: "RATE_LIMITED", key, ratelimit };
    }
    if (key.remaining !== null) {
      if (key.refill !== null && refillDue(key.refill, now)) await this.refill(key, now);
      const left = await this.credits.spend(key.id, cost);
      if (left === null) return { valid: false, code: "USAGE_EXCEEDED", key, ratelimit, remaining: 0 };
      if (Number.isFinite(left)) {
        if (crossedCreditsLowLine(key, left, cost)) this.noteCreditsLow(key.id, now);
        return { valid: true, code: "VALID", key, ratelimit, remaining: left };
      }
    }
    return { valid: true, code: "VALID", key, ratelimit };
  }

  /**
   * key.credits_low at the spend that crossed the line, not at the next
   * sweep; the answer does not wait for it. If this fails (or the process
   * dies first), the key is still unmarked and the sweep tells it.
   */
  private noteCreditsLow(keyId: string, now: number): void {
    this.store.noteCreditsLow(keyId, { now, inactiveDays: this.options.inactiveDays }).then(
      (told) => {
        if (told) this.options.onEvents?.();
      },
      (error: unknown) =>
        this.options.logger.warn(
          { keyId, reason: (error as Error).message },
          "key.credits_low not recorded now; the next sweep will",
        ),
    );
  }

  /** Lazy refill on verification; the sweep refills keys nobody verifies. */
  private async refill(key: VerifiableKey, now: number): Promise<void> {
    const refill = key.refill;
    if (refill === null) return;
    await this.store.refillCredits(key.id, refill.amount, now, refill.lastRefillAt);
    // Whether this call refilled or another did first, the stored record is now current.
    const current = await this.store.getKeyById(key.id);
    if (current) this.cache.refresh(current);
  }

  /**
   * A token found in public. A live key (not revoked, not expired) is revoked
   * at once with reason `leaked: <url>` (or disabled), audited with where it
   * was found and who reported it, and announced: `key.leaked` (mailed to the
   * admins and the key's claims.email) and `key.revoked` / `key.disabled`, in
   * the transaction of the change. Anything else changes nothing: the answer
   * is false for a malformed or unknown token and for a key that no longer
   * works, except one already stopped as leaked (a report of the same token
   * from another place is still a true positive).
   */
  async reportLeak(input: LeakReport, actor: Actor): Promise<{ truePositive: boolean; keyId: string | null }> {
    const url = (input.url ?? "").trim();
    if (url === "") throw new ValidationError("url", "is required: where the token was found");
    if ([...url].length > 2048) throw new ValidationError("url", "must be at most 2,048 characters");
    const source = (input.source ?? "").trim() || actor.name;
    if ([...source].length > 200) throw new ValidationError("source", "must be at most 200 characters");
    const action = input.action ?? "revoke";
    if (action !== "revoke" && action !== "disable") throw new ValidationError("action", "must be revoke or disable");
    const negative = { truePositive: false, keyId: null };
    const token = input.token;
    if (typeof token !== "string" || token.length > 100 || !isWellFormedToken(token)) return negative;
    const found = await this.store.getKeyByHash(hashToken(token));
    if (!found) return negative;
    const stoppedAsLeaked = (key: KeyRecord) =>
      action === "revoke"
        ? key.revokedAt !== null && key.revokedAt <= this.now() && (key.revocationReason ?? "").startsWith("leaked:")
        : !key.enabled && key.revokedAt === null;
    if (stoppedAsLeaked(found)) return { truePositive: true, keyId: found.id };
    const now = this.now();
    if ((found.revokedAt !== null && found.revokedAt <= now) || (found.expiresAt !== null && found.expiresAt <= now)) {
      return negative;
    }
    const reason = `leaked: ${url}`.slice(0, 500);
    let outcome = "changed" as "changed" | "already" | "dead";
    const change = await this.change(found.id, undefined, (current) => {
      const at = this.now();
      const dead =
        (current.revokedAt !== null && current.revokedAt <= at) ||
        (current.expiresAt !== null && current.expiresAt <= at);
      // Another report (or an admin) got there first: nothing more to do.
      if (stoppedAsLeaked(current) || dead) {
        outcome = stoppedAsLeaked(current) ? "already" : "dead";
        throw new LeakSettled();
      }
      const next: KeyRecord =
        action === "revoke"
          ? { ...current, revokedAt: at, revocationReason: reason, updatedAt: at }
          : { ...current, enabled: false, updatedAt: at };
      const verb = action === "revoke" ? "revoked" : "disabled";
      return {
        next,
        audit: this.auditEntry(
          actor,
          "key.leak",
          current.id,
          `${verb} key "${current.name}": leaked at ${url} (reported by ${source})`.slice(0, 1000),
        ),
        events: [
          { type: "key.leaked", extra: { leak: { url, source, action } }, mail: true },
          { type: action === "revoke" ? "key.revoked" : "key.disabled" },
        ],
      };
    }).catch((error: unknown) => {
      if (error instanceof LeakSettled) return undefined;
      throw error;
    });
    if (change === undefined) {
      return outcome === "already" ? { truePositive: true, keyId: found.id } : negative;
    }
    this.cache.refresh(change.next);
    this.options.rateLimiter?.reset(change.next.id);
    return { truePositive: true, keyId: change.next.id };
  }

  async usage(input: UsageInput) {
    const key = await this.load(input.id);
    await this.usageRecorder.flush();
    return readUsage(this.store, key.id, input, this.now());
  }

  async logs(input: ListKeyLogsInput): Promise<Page<KeyLogRow>> {
    const key = await this.load(input.id);
    const size = pageSize(input.pageSize);
    const before = decodeIdCursor(input.pageToken);
    if (input.from !== undefined && input.to !== undefined && input.from >= input.to) {
      throw new ValidationError("from_time", "must be before to_time");
    }
    await this.usageRecorder.flush();
    const rows = await this.store.listKeyLogs(
      key.id,
      { code: input.code, from: input.from, to: input.to },
      size + 1,
      before,
    );
    const page = rows.slice(0, size);
    const last = page[page.length - 1];
    return { items: page, nextPageToken: rows.length > size && last ? encodeIdCursor(last.id) : "" };
  }

  async audit(input: ListAuditInput): Promise<Page<AuditRow>> {
    const size = pageSize(input.pageSize);
    const before = decodeIdCursor(input.pageToken);
    if (input.keyId) v.validateId(input.keyId, "key_id");
    if (input.actor !== undefined && input.actor.length > 254) throw new ValidationError("actor", "is too long");
    if (input.action !== undefined && input.action.length > 64) throw new ValidationError("action", "is too long");
    const rows = await this.store.listAuditEvents(
      {
        keyId: input.keyId || undefined,
        actor: input.actor || undefined,
        action: input.action || undefined,
        from: input.from,
        to: input.to,
      },
      size + 1,
      before,
    );
    const page = rows.slice(0, size);
    const last = page[page.length - 1];
    return { items: page, nextPageToken: rows.length > size && last ? encodeIdCursor(last.id) : "" };
  }

  createExport: ExportsApi["createExport"] = (input, actor) => this.exportsApi.createExport(input, actor);
  getExport: ExportsApi["getExport"] = (id) => this.exportsApi.getExport(id);
  listExports: ExportsApi["listExports"] = (input) => this.exportsApi.listExports(input);
  updateExport: ExportsApi["updateExport"] = (input) => this.exportsApi.updateExport(input);
  exportRows: ExportsApi["exportRows"] = (id, batchSize) => this.exportsApi.exportRows(id, batchSize);

  async sweep(input: SweepInput): Promise<SweepOutcome> {
    const at = this.now();
    const days = (value: number | undefined, fallback: number, field: string, min = 1) => {
      const d = value === undefined || value === 0 ? fallback : value;
      if (!Number.isInteger(d) || d < min || d > 3650) throw new ValidationError(field, `must be ${min}-3650`);
      return d;
    };
    const options = {
      now: at,
      inactiveDays: days(input.inactiveDays, this.options.inactiveDays, "inactive_days"),
      autoRevokeDays: days(input.autoRevokeDays, 0, "auto_revoke_days", 0),
      logRetentionDays: days(input.logRetentionDays, this.options.logRetentionDays, "log_retention_days"),
      rotationDays: days(input.rotationDays, 90, "rotation_days"),
    };
    await this.usageRecorder.flush();
    const result = await this.store.sweep(options, {
      at,
      actor: SERVICE_ACTOR.name,
      actorKeyId: null,
      action: "key.auto_revoke",
      exportId: null,
      summary: `revoked: unused for ${options.autoRevokeDays} days`,
      changedFields: [],
    });
    this.options.onEvents?.();
    // Auto-revoked keys must fail verification at once, cache or not.
    for (const key of result.autoRevoked) this.cache.refresh(key);
    const refilled = await this.store.refillDueCredits(at, dailyRefillMoment(at), monthlyRefillMoments(at));
    for (const id of refilled) {
      const key = await this.store.getKeyById(id);
      if (key) this.cache.refresh(key);
    }
    return {
      at,
      newlyInactive: result.newlyInactive.map((k) => this.view(k)),
      autoRevoked: result.autoRevoked.map((k) => this.view(k)),
      expiredKeys: result.expiredKeys,
      expiredExports: result.expiredExports,
      prunedLogs: result.prunedLogs,
      rotationDue: result.rotationDue.map((k) => this.view(k)),
      expiringSoon: result.expiringSoon.map((k) => this.view(k)),
      creditsLow: result.creditsLow.map((k) => this.view(k)),
      expired: result.expired.map((k) => this.view(k)),
    };
  }
}

function validateThreshold(value: number | undefined): number | null {
  if (value === undefined) return null;
  if (!Number.isSafeInteger(value) || value < 0 || value > v.MAX_CREDITS) {
    throw new ValidationError("credits_low_threshold", "must be 0 to 10^15");
  }
  return value;
}

/** A leak report found the key already stopped by another: not an error, an answer. */
class LeakSettled extends Error {}

export interface LeakReport {
  token: string;
  url: string;
  source?: string;
  action?: "revoke" | "disable";
}

function isBootstrap(actor: Actor): boolean {
  return actor.keyId === null && actor.name === BOOTSTRAP_ACTOR.name;
}

function hasScopes(entry: CachedKey, required: readonly string[]): boolean {
  for (const scope of required) {
    if (hasExactScope(entry, scope)) continue;
    if (!entry.wildcardScopes.some((prefix) => scope.startsWith(prefix))) return false;
  }
  return true;
}
