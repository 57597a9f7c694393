import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { Key } from "../../gen/keyward/v1/key_pb.js";
import type { RunSweepResponse } from "../../gen/keyward/v1/key_service_pb.js";
import { isEmail } from "../mail/address.js";
import type { DigestKey } from "../mail/digest-mail.js";

/**
 * What one RunSweep said, as plain JSON: it is kept in the job's data so that
 * a retry (after a failed mail) reuses it. The service reports each key once,
 * so a second RunSweep would not say it again.
 */
export interface SweepReport {
  sweptAt: string;
  newlyInactive: DigestKey[];
  autoRevoked: DigestKey[];
  rotationDue: DigestKey[];
  expiringSoon?: DigestKey[];
  creditsLow?: DigestKey[];
  expiredKeys: number;
  expiredExports: string[];
  prunedLogs: number;
}

/** What a sweep job returns: ids and counts, for logs, tests and `sweepNow()`. */
export interface SweepSummary {
  sweptAt: string;
  newlyInactive: string[];
  autoRevoked: string[];
  rotationDue: string[];
  expiringSoon: string[];
  creditsLow: string[];
  expiredKeys: number;
  expiredExports: string[];
  deletedFiles: number;
  /** Temporary files of writes that died with their process. */
  deletedTempFiles: number;
  prunedLogs: number;
  /** Admins the digest went to; empty when there was nothing to say. */
  mailedTo: string[];
  /** Owners (claims.email) who got their own reminder, as `<kind>:<key id>`. */
  reminded: string[];
}

function digestKey(key: Key): DigestKey {
  const email = key.claims?.email;
  return {
    id: key.id,
    name: key.name,
    subject: key.subject,
    createTime: key.createTime ? timestampDate(key.createTime).toISOString() : "",
    lastUsedTime: key.lastUsedTime ? timestampDate(key.lastUsedTime).toISOString() : "",
    expireTime: key.expireTime ? timestampDate(key.expireTime).toISOString() : "",
    remaining: key.remaining === undefined ? null : Number(key.remaining),
    ownerEmail: typeof email === "string" && isEmail(email.trim()) ? email.trim() : undefined,
  };
}

export function sweepReport(response: RunSweepResponse): SweepReport {
  return {
    sweptAt: (response.sweepTime ? timestampDate(response.sweepTime) : new Date()).toISOString(),
    newlyInactive: response.newlyInactive.map(digestKey),
    autoRevoked: response.autoRevoked.map(digestKey),
    rotationDue: response.rotationDue.map(digestKey),
    expiringSoon: response.expiringSoon.map(digestKey),
    creditsLow: response.creditsLow.map(digestKey),
    expiredKeys: Number(response.expiredKeys),
    expiredExports: response.expiredExports.map((e) => e.id),
    prunedLogs: Number(response.prunedLogs),
  };
}
