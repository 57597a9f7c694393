import { z } from "zod";
import { CLAIMS_MAX_DEPTH, pathTooDeep } from "../shared/contract/claims-depth.js";
import {
  EXPORT_STATE_WORDS,
  GRANULARITY_WORDS,
  KEY_STATUS_WORDS,
  PERMISSION_WORDS,
  REFILL_INTERVAL_WORDS,
  VERIFY_CODE_WORDS,
} from "../shared/contract/enums.js";

/**
 * The gateway's input fields, with the proto's limits (key.proto,
 * key_service.proto), so that a bad input is a 400 naming the field before
 * the service is asked. The service validates again: it is the authority.
 * Messages read after the field name: "name: must be 1-100 characters".
 */

/** Key and export ids are UUIDs (v7). */
export const IdSchema = z
  .string()
  .trim()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, "must be an id (a UUID)");

/** Lengths count characters (code points), as the service does, not UTF-16 units. */
const chars = (s: string) => [...s].length;

export const NameSchema = z
  .string()
  .trim()
  .refine((s) => chars(s) >= 1 && chars(s) <= 100, "must be 1-100 characters after trimming");

export const DescriptionSchema = z.string().refine((s) => chars(s) <= 1000, "must be at most 1,000 characters");

export const PermissionSchema = z.enum(PERMISSION_WORDS, "must be full_access or sending_access");

/** Owner and domain ids: the service's identifier rule. */
const IdentifierSchema = z
  .string()
  .regex(/^[A-Za-z0-9_.:@|-]{1,128}$/, "must be 1-128 characters of letters, digits and _ . : @ | -");
export const SubjectSchema = IdentifierSchema;
export const DomainIdSchema = IdentifierSchema;

export const ScopeSchema = z.string().regex(/^[a-z0-9_.:*-]{1,64}$/, "must be 1-64 characters of a-z, 0-9, _ . : * -");
export const ScopesSchema = z.array(ScopeSchema).max(50, "must hold at most 50 scopes");

export const CLAIMS_MAX_BYTES = 4096;
const ClaimsObjectSchema = z
  .record(z.string(), z.json())
  .refine((claims) => Buffer.byteLength(JSON.stringify(claims)) <= CLAIMS_MAX_BYTES, {
    message: "must be at most 4 KiB serialised as JSON",
  });
/** Depth first, before zod's own recursive walk (or the service client's encoding) can meet the stack's end. */
// Typed as the claims object for clients (z.custom checks nothing itself: the transform does).
export const ClaimsSchema = z
  .custom<z.input<typeof ClaimsObjectSchema>>()
  .transform((value, ctx): z.output<typeof ClaimsObjectSchema> => {
    const tooDeep = pathTooDeep(value);
    if (tooDeep !== undefined) {
      ctx.addIssue({ code: "custom", path: tooDeep, message: `nested deeper than ${CLAIMS_MAX_DEPTH} levels` });
      return z.NEVER;
    }
    const parsed = ClaimsObjectSchema.safeParse(value);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) ctx.addIssue({ ...issue, code: "custom", message: issue.message });
      return z.NEVER;
    }
    return parsed.data;
  });

/** 1 second to 10 years (CreateKeyRequest.expires_in_seconds). */
export const ExpiresInSecondsSchema = z
  .number()
  .int("must be a whole number of seconds")
  .min(1, "must be 1 to 315360000 seconds (10 years)")
  .max(315_360_000, "must be 1 to 315360000 seconds (10 years)");

/** CIDR syntax is the service's to judge; this only bounds the size. */
export const CidrsSchema = z
  .array(z.string().trim().min(1, "must not be empty").max(64, "must be at most 64 characters"))
  .max(100, "must hold at most 100 CIDRs");

export const RateLimitSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9_.:-]{1,32}$/, "must be 1-32 characters of a-z, 0-9, _ . : -"),
  limit: z.number().int().min(1).max(1_000_000_000),
  durationSeconds: z.number().int().min(1).max(86_400),
});
export const RateLimitsSchema = z.array(RateLimitSchema).max(10, "must hold at most 10 rate limits");

const MAX_CREDITS = 1_000_000_000_000_000;
export const RemainingSchema = z.number().int().min(0).max(MAX_CREDITS, "must be at most 10^15");

export const RefillSchema = z.strictObject({
  interval: z.enum(REFILL_INTERVAL_WORDS, "must be daily or monthly"),
  amount: z.number().int().min(1).max(MAX_CREDITS, "must be at most 10^15"),
  /** Monthly only: 1-31. */
  dayOfMonth: z.number().int().min(1).max(31).optional(),
});

export const TimeSchema = z.iso.datetime({
  offset: true,
  message: "must be an ISO-8601 time, e.g. 2030-01-31T12:00:00Z",
});

export const PageSizeSchema = z.number().int().min(1, "must be 1-100").max(100, "must be 1-100");
export const PageTokenSchema = z.string().max(1024, "is not a page token from this API");

export const PageSchema = {
  pageSize: PageSizeSchema.optional(),
  pageToken: PageTokenSchema.optional(),
};

export const KeyStatusSchema = z.enum(KEY_STATUS_WORDS, `must be one of ${KEY_STATUS_WORDS.join(", ")}`);
export const VerifyCodeSchema = z.enum(VERIFY_CODE_WORDS, `must be one of ${VERIFY_CODE_WORDS.join(", ")}`);
export const GranularitySchema = z.enum(GRANULARITY_WORDS, "must be hour or day");
export const ExportStateSchema = z.enum(EXPORT_STATE_WORDS, `must be one of ${EXPORT_STATE_WORDS.join(", ")}`);

/** A key's etag as read (keys.get, keys.list): the change applies only if the key is unchanged since. */
export const EtagSchema = z.string().min(1, "must be an etag from this API").max(64, "must be an etag from this API");

export const ReasonSchema = z.string().refine((s) => chars(s.trim()) <= 500, "must be at most 500 characters");

/** 0 revokes the old key at once; at most 30 days. */
export const GracePeriodSecondsSchema = z
  .number()
  .int("must be a whole number of seconds")
  .min(0, "must be 0 to 2592000 seconds (30 days)")
  .max(2_592_000, "must be 0 to 2592000 seconds (30 days)");
