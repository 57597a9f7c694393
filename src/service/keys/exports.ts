import { uuidv7 } from "uuidv7";
import { exportData, newEvent } from "../events/payloads.js";
import type { KeyStore } from "../store/key-store.js";
import type { KeysApi, KeyView } from "./api.js";
import { FailedPreconditionError, NotFoundError, ValidationError } from "./errors.js";
import type { CreateExportInput, Page, PageRequest, UpdateExportInput } from "./inputs.js";
import {
  type ExportFilters,
  type ExportMailState,
  type ExportRecord,
  type ExportState,
  type KeyRecord,
  VERIFY_CODES,
} from "./model.js";
import { decodeTimeCursor, encodeTimeCursor, pageSize } from "./page-token.js";
import { validateFilter } from "./request-validation.js";
import { validateId } from "./validation.js";

export const EXPORT_LIFETIME_MS = 7 * 86_400_000;
const STATES: readonly ExportState[] = ["pending", "ready", "failed", "expired"];
const MAIL_STATES: readonly ExportMailState[] = ["pending", "sent", "failed", "none"];
const CODES: ReadonlySet<string> = new Set(VERIFY_CODES);

export type ExportsApi = Pick<KeysApi, "createExport" | "getExport" | "listExports" | "updateExport" | "exportRows">;

interface Deps {
  store: KeyStore;
  now: () => number;
  view: (record: KeyRecord) => KeyView;
  inactiveDays: number;
  /** Called once when an export reaches READY or FAILED, with the seconds since it was asked for. */
  onFinished?: (state: "ready" | "failed", seconds: number) => void;
  /** Called after a write recorded events. */
  onEvents?: () => void;
}

function validateExportFilters(input: CreateExportInput): ExportFilters {
  if (input.resource !== "api_keys" && input.resource !== "key_logs") {
    throw new ValidationError("resource", "must be api_keys or key_logs");
  }
  const raw = input.filters;
  const filters: ExportFilters = validateFilter(raw);
  if (raw.keyId) filters.keyId = validateId(raw.keyId, "filters.key_id");
  if (raw.code !== undefined) {
    if (!CODES.has(raw.code)) throw new ValidationError("filters.code", "is not a verify code");
    filters.code = raw.code;
  }
  if (raw.from !== undefined) filters.from = raw.from;
  if (raw.to !== undefined) filters.to = raw.to;
  if (filters.from !== undefined && filters.to !== undefined && filters.from >= filters.to) {
    throw new ValidationError("filters.from_time", "must be before filters.to_time");
  }
  return filters;
}

/** Exports as records in the service's database; the files are the workers' and the gateway's. */
export function createExportsApi({ store, now, view, onFinished, onEvents }: Deps): ExportsApi {
  async function load(id: string): Promise<ExportRecord> {
    const record = await store.getExport(validateId(id));
    if (!record) throw new NotFoundError("export", id);
    return record;
  }

  return {
    async createExport(input, actor) {
      const filters = validateExportFilters(input);
      const at = now();
      const matchingRows =
        input.resource === "api_keys"
          ? await store.countKeys(filters, at)
          : await store.countLogsForExport({
              keyId: filters.keyId,
              code: filters.code,
              from: filters.from,
              to: filters.to,
            });
      const record: ExportRecord = {
        id: uuidv7(),
        resource: input.resource,
        filters,
        state: "pending",
        requestedBy: actor.name,
        createdAt: at,
        updatedAt: at,
        expiresAt: at + EXPORT_LIFETIME_MS,
        matchingRows,
        rowCount: 0,
        byteSize: 0,
        error: null,
        attempts: 0,
        mailState: "pending",
        mailError: null,
        mailAt: null,
      };
      await store.insertExport(record, {
        at,
        actor: actor.name,
        actorKeyId: actor.keyId,
        action: "export.create",
        keyId: filters.keyId ?? null,
        exportId: record.id,
        summary: `asked for an export of ${input.resource} (${matchingRows} rows)`,
        changedFields: [],
      });
      return record;
    },

    getExport: load,

    async listExports(input: PageRequest & { state?: ExportState }): Promise<Page<ExportRecord>> {
      const size = pageSize(input.pageSize);
      if (input.state !== undefined && !STATES.includes(input.state)) {
        throw new ValidationError("state", "is not an export state");
      }
      const after = decodeTimeCursor(input.pageToken);
      const rows = await store.listExports(input.state, size + 1, after);
      const page = rows.slice(0, size);
      const last = page[page.length - 1];
      return { items: page, nextPageToken: rows.length > size && last ? encodeTimeCursor(last) : "" };
    },

    async updateExport(input: UpdateExportInput) {
      const current = await load(input.id);
      if (input.state === undefined && input.mailState === undefined) {
        throw new ValidationError("state", "required unless mail_state is given");
      }
      if (
        input.state !== undefined &&
        input.state !== "pending" &&
        input.state !== "ready" &&
        input.state !== "failed"
      ) {
        throw new ValidationError("state", "must be PENDING, READY or FAILED");
      }
      if (input.mailState !== undefined && !MAIL_STATES.includes(input.mailState)) {
        throw new ValidationError("mail_state", "is not a mail state");
      }
      // The mail may still be recorded after expiry; the export itself no longer changes.
      if (current.state === "expired" && input.state !== undefined) {
        throw new FailedPreconditionError(`export ${input.id} has expired`);
      }
      const count = (value: number | undefined, field: string) => {
        if (value === undefined) return 0;
        if (!Number.isSafeInteger(value) || value < 0) throw new ValidationError(field, "must be 0 or more");
        return value;
      };
      const at = now();
      let next: ExportRecord = { ...current, updatedAt: at };
      const state = input.state;
      if (state !== undefined) {
        const error = (input.error ?? "").slice(0, 1000);
        next = {
          ...next,
          state,
          rowCount: state === "ready" ? count(input.rowCount, "row_count") : current.rowCount,
          byteSize: state === "ready" ? count(input.byteSize, "byte_size") : current.byteSize,
          error: state === "failed" ? error || "the export failed" : null,
          attempts: input.attempts === undefined ? current.attempts : count(input.attempts, "attempts"),
        };
      }
      if (input.mailState !== undefined) {
        const mailError = (input.mailError ?? "").slice(0, 1000);
        next = {
          ...next,
          mailState: input.mailState,
          mailError: input.mailState === "pending" || input.mailState === "failed" ? mailError || null : null,
          mailAt: at,
        };
      }
      const finished = current.state === "pending" && (state === "ready" || state === "failed");
      const events = finished
        ? [newEvent(`export.${state}`, at, { export: exportData(next) }, { exportId: next.id })]
        : [];
      await store.updateExport(next, events);
      if (finished) {
        onEvents?.();
        onFinished?.(state, Math.max(0, at - current.createdAt) / 1000);
      }
      return next;
    },

    async *exportRows(id: string, batchSize: number) {
      const size = batchSize === 0 ? 500 : batchSize;
      if (!Number.isInteger(size) || size < 1 || size > 1000) throw new ValidationError("batch_size", "must be 1-1000");
      const record = await load(id);
      if (record.state === "expired") throw new FailedPreconditionError(`export ${id} has expired`);
      const f = record.filters;
      // The status filter is evaluated at the export's creation time, so a retried job sees the same rows.
      const at = record.createdAt;
      if (record.resource === "api_keys") {
        let after: { createdAt: number; id: string } | undefined;
        for (;;) {
          const rows = await store.listKeys(f, at, size, after);
          if (rows.length > 0) yield { keys: rows.map(view), logs: [] };
          const last = rows[rows.length - 1];
          if (rows.length < size || !last) return;
          after = { createdAt: last.createdAt, id: last.id };
        }
      }
      let before: number | undefined;
      for (;;) {
        const rows = await store.listLogsForExport(
          { keyId: f.keyId, code: f.code, from: f.from, to: f.to },
          size,
          before,
        );
        if (rows.length > 0) yield { keys: [], logs: rows };
        const last = rows[rows.length - 1];
        if (rows.length < size || !last) return;
        before = last.id;
      }
    },
  };
}
