import type {
  CreateExportInput,
  CreateKeyInput,
  ListAuditInput,
  ListKeyLogsInput,
  ListKeysInput,
  Page,
  PageRequest,
  SweepInput,
  UpdateExportInput,
  UpdateKeyInput,
  UsageBucketOut,
  UsageInput,
  VerifyInput,
} from "./inputs.js";
import type {
  Actor,
  AuditRow,
  ExportRecord,
  ExportState,
  KeyFilter,
  KeyLogRow,
  KeyRecord,
  KeyStatus,
  VerifiableKey,
  VerifyCode,
} from "./model.js";

/** The state of one rate limit after a verification. */
export interface RateLimitState {
  name: string;
  limit: number;
  remaining: number;
  resetAt: number;
}

/** A key-level outcome is data, not an exception. `key` is set whenever the key was found. */
export type VerifyResult =
  | { valid: true; code: "VALID"; key: VerifiableKey; ratelimit?: RateLimitState; remaining?: number }
  | {
      valid: false;
      code: Exclude<VerifyCode, "VALID">;
      key?: VerifiableKey;
      ratelimit?: RateLimitState;
      remaining?: number;
    };

/** What one maintenance pass did. */
export interface SweepOutcome {
  at: number;
  newlyInactive: KeyView[];
  autoRevoked: KeyView[];
  expiredKeys: number;
  expiredExports: ExportRecord[];
  prunedLogs: number;
  rotationDue: KeyView[];
  expiringSoon: KeyView[];
  creditsLow: KeyView[];
  expired: KeyView[];
}

/** A key as callers see it: the record plus what is derived from it. */
export interface KeyView {
  record: KeyRecord;
  status: KeyStatus;
}

/**
 * The service's domain: every RPC is one call here. Inputs are validated
 * here (ValidationError names the field), so every transport gets the same
 * rules. `actor` is who acts: an admin (name and key id), or the service itself.
 */
export interface KeysApi {
  create(input: CreateKeyInput, actor: Actor): Promise<{ key: KeyView; token: string }>;
  get(id: string): Promise<KeyView>;
  list(input: ListKeysInput): Promise<Page<KeyView>>;
  count(filter: KeyFilter): Promise<number>;
  update(id: string, input: UpdateKeyInput, actor: Actor): Promise<KeyView>;
  /** `etag`: only if the key is still as read (see update). */
  delete(id: string, reason: string, actor: Actor, options?: { etag?: string }): Promise<KeyView>;
  rotate(
    id: string,
    gracePeriodSeconds: number,
    actor: Actor,
    options?: { etag?: string },
  ): Promise<{ key: KeyView; token: string; previous: KeyView }>;
  /** The hot path. Resolves synchronously-fast for cached keys. */
  /** A promise only when the answer needs one (a store read, a shared rate limit, a credit spend). */
  verify(input: VerifyInput): VerifyResult | Promise<VerifyResult>;
  usage(input: UsageInput): Promise<{ buckets: UsageBucketOut[]; total: number }>;
  logs(input: ListKeyLogsInput): Promise<Page<KeyLogRow>>;
  audit(input: ListAuditInput): Promise<Page<AuditRow>>;

  createExport(input: CreateExportInput, actor: Actor): Promise<ExportRecord>;
  getExport(id: string): Promise<ExportRecord>;
  listExports(input: PageRequest & { state?: ExportState }): Promise<Page<ExportRecord>>;
  updateExport(input: UpdateExportInput): Promise<ExportRecord>;
  /** Batches of rows in a stable order; memory stays flat whatever the count. */
  exportRows(id: string, batchSize: number): AsyncIterable<{ keys: KeyView[]; logs: KeyLogRow[] }>;
  sweep(input: SweepInput): Promise<SweepOutcome>;
  /** A token found in public: a live key is stopped at once. */
  reportLeak(
    input: { token: string; url: string; source?: string; action?: "revoke" | "disable" },
    actor: Actor,
  ): Promise<{ truePositive: boolean; keyId: string | null }>;
}
