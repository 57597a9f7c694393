import { resolve } from "node:path";
import { z } from "zod";
import { normalizeCidr } from "./shared/cidr.js";

const port = (fallback: number) =>
  z.coerce.number({ error: "must be a port number (0-65535)" }).int().min(0).max(65535).default(fallback);
const flag = (fallback: boolean) =>
  z
    .enum(["true", "false", "1", "0", "yes", "no"])
    .default(fallback ? "true" : "false")
    .transform((v) => v === "true" || v === "1" || v === "yes");
const days = (fallback: number) =>
  z.coerce.number({ error: "must be a number of days" }).int().min(0).max(3650).default(fallback);
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v.trim()));
/** The non-empty, trimmed entries of a comma-separated value. */
const commaEntries = (text: string): string[] =>
  text
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "");

/**
 * Every environment variable Keyward reads, with its default. Parsed once at
 * start; a bad value stops the process with a message naming the variable.
 * The README lists the same variables: keep the two in step.
 */
export const ConfigSchema = z.object({
  KEYWARD_DATA_DIR: z.string().min(1).default("./data"),
  KEYWARD_HOST: z.string().min(1).default("127.0.0.1"),
  KEYWARD_SERVICE_PORT: port(50051),
  KEYWARD_CONNECT_PORT: port(50052),
  KEYWARD_GATEWAY_PORT: port(8787),
  KEYWARD_SERVICE_TOKEN: optionalString.pipe(z.string().min(32).optional()),
  KEYWARD_VERIFY_REQUIRES_AUTH: flag(false),
  // Seals webhook signing secrets at rest (AES-256-GCM); replicas share it. The messages never repeat the value.
  KEYWARD_SECRETS_KEY: optionalString.pipe(
    z
      .string()
      .regex(/^[A-Za-z0-9+/]+={0,2}$/, "must be base64 (generate one with: openssl rand -base64 32)")
      .refine(
        (text) => !/^[A-Za-z0-9+/]+={0,2}$/.test(text) || isKeyOf32Bytes(text),
        "must be 32 bytes in base64, 44 characters (generate one with: openssl rand -base64 32)",
      )
      .optional(),
  ),
  // Keys that sealed webhook secrets before the current one (a rotation): they still open them, the
  // next start seals those again under KEYWARD_SECRETS_KEY; they never seal. Comma-separated.
  KEYWARD_SECRETS_KEY_PREVIOUS: z
    .string()
    .default("")
    .transform((text, ctx): string[] => {
      const entries = commaEntries(text);
      const bad = entries.flatMap((entry, i) => (isKeyOf32Bytes(entry) ? [] : [i + 1]));
      if (bad.length === 0) return entries;
      ctx.addIssue({
        code: "custom",
        message: `entry ${bad.join(", ")} is not 32 bytes in base64, 44 characters (comma-separated keys, each like KEYWARD_SECRETS_KEY)`,
      });
      return z.NEVER;
    }),
  KEYWARD_TOKEN_PREFIX: z
    .string()
    .regex(/^[a-z][a-z0-9]{0,15}$/, "1-16 lower-case letters and digits, starting with a letter")
    .default("kw"),
  KEYWARD_CACHE_SIZE: z.coerce.number().int().min(1).max(10_000_000).default(100_000),
  KEYWARD_CACHE_MAX_LAG_MS: z.coerce.number().int().min(100).max(600_000).default(5000),
  KEYWARD_CHANGE_POLL_MS: z.coerce.number().int().min(1).max(10_000).default(10),
  KEYWARD_SERVICE_PROCESSES: z.coerce.number().int().min(1).max(64).default(1),
  KEYWARD_USAGE_FLUSH_MS: z.coerce.number().int().min(50).max(60_000).default(1000),
  KEYWARD_LOG_RETENTION_DAYS: days(30).pipe(z.number().min(1)),
  KEYWARD_LOG_LIMIT_PER_KEY: z.coerce.number().int().min(1).max(1_000_000).default(100),
  KEYWARD_INACTIVE_DAYS: days(30).pipe(z.number().min(1)),
  KEYWARD_AUTO_REVOKE_DAYS: days(0),
  KEYWARD_ROTATION_DAYS: days(90).pipe(z.number().min(1)),
  KEYWARD_SERVICE_URL: z.url().default("http://127.0.0.1:50052"),
  KEYWARD_PUBLIC_URL: optionalString.pipe(z.url().optional()),
  KEYWARD_SWEEP_EVERY: z
    .string()
    .regex(/^\d+(ms|s|m|h|d)$/, "a duration such as 30m, 1h or 1d")
    .default("1h"),
  // How long a console sign-in lasts (the session cookie's life), e.g. 12h.
  KEYWARD_SESSION_TTL: z
    .string()
    .regex(/^\d+(ms|s|m|h|d)$/, "a duration such as 30m, 12h or 1d")
    .refine((text) => {
      // A text that is no duration at all has its message from the regex above.
      if (!/^\d+(ms|s|m|h|d)$/.test(text)) return true;
      const ms = parseDuration(text);
      return ms >= 60_000 && ms <= 30 * 86_400_000;
    }, "between 1m and 30d")
    .default("12h"),
  // Console sign-in attempts allowed per client address per minute.
  // Behind a reverse proxy: whose X-Forwarded-For/-Proto to believe (Fastify's trustProxy):
  // "false", "true" (any), or comma-separated addresses and CIDRs of the proxies.
  KEYWARD_TRUST_PROXY: z
    .string()
    .default("false")
    .transform((v, ctx): boolean | string[] => {
      const text = v.trim();
      if (text === "" || text === "false") return false;
      if (text === "true") return true;
      const list = commaEntries(text);
      if (list.every((part) => /^[0-9a-fA-F.:]+(\/\d{1,3})?$/.test(part))) return list;
      ctx.addIssue({ code: "custom", message: 'must be "false", "true", or addresses/CIDRs separated by commas' });
      return z.NEVER;
    }),
  KEYWARD_SIGNIN_PER_MINUTE: z.coerce.number().int().min(1).max(10_000).default(10),
  KEYWARD_EXPORT_SECRET: optionalString.pipe(z.string().min(32).optional()),
  // Origins (scheme://host[:port]) whose pages may call the gateway from a browser; none by default.
  KEYWARD_CORS_ORIGINS: z
    .string()
    .default("")
    .transform(commaEntries)
    .pipe(
      z.array(
        z.string().refine(isOrigin, "each entry must be an origin such as https://console.example.com (no path, no *)"),
      ),
    ),
  // Addresses webhook deliveries never connect to: link-local (the cloud metadata services at
  // 169.254.169.254 among them), AWS's IPv6 metadata address, "this network". "" for none.
  KEYWARD_WEBHOOK_DENY_CIDRS: z
    .string()
    .default("169.254.0.0/16,fe80::/10,fd00:ec2::254/128,0.0.0.0/8")
    .transform((text, ctx): string[] => {
      const entries = commaEntries(text);
      const bad = entries.filter((entry) => normalizeCidr(entry) === null);
      if (bad.length === 0) return entries.map((entry) => normalizeCidr(entry) as string);
      ctx.addIssue({
        code: "custom",
        message: `not an address or CIDR: ${bad.join(", ")} (comma-separated, "" for none)`,
      });
      return z.NEVER;
    }),
  KEYWARD_RATELIMIT_REDIS: flag(false),
  KEYWARD_RATELIMIT_ON_REDIS_DOWN: z.enum(["open", "closed"]).default("open"),
  KEYWARD_RATELIMIT_REDIS_TIMEOUT_MS: z.coerce.number().int().min(1).max(10_000).default(100),
  KEYWARD_QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.{}-]{1,64}$/, "1-64 characters of A-Z, a-z, 0-9, _ . - { }")
    .default("keyward"),
  // The service's database: PostgreSQL at this URL when set (replicas share it), else SQLite in the data dir.
  DATABASE_URL: optionalString.pipe(
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, "a postgres:// or postgresql:// URL")
      .refine(isUrl, "a postgres:// or postgresql:// URL")
      .optional(),
  ),
  KEYWARD_PG_POOL_SIZE: z.coerce.number().int().min(1).max(1000).default(10),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, "a redis:// or rediss:// URL")
    .default("redis://127.0.0.1:6379"),
  SMTP_URL: optionalString.pipe(
    z
      .string()
      .regex(/^smtps?:\/\//, "an smtp:// or smtps:// URL")
      .optional(),
  ),
  KEYWARD_MAIL_FROM: z.string().min(3).default("Keyward <keyward@localhost>"),
  // POST /leaks: GitHub's secret-scanning public keys (PEM, or GitHub's JSON document, or @file); unset: no signature check.
  KEYWARD_LEAK_PUBLIC_KEYS: optionalString,
  KEYWARD_LEAK_ACTION: z.enum(["revoke", "disable"], "revoke or disable").default("revoke"),
  // Leak reports accepted per client address per minute.
  KEYWARD_LEAK_RATE_LIMIT: z.coerce.number().int().min(1).max(100_000).default(60),
  LOG_LEVEL: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
});

export type Config = z.output<typeof ConfigSchema> & { dataDir: string };

export class ConfigError extends Error {}

/** Parses the environment (or the given record) into a Config, or throws a ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const result = ConfigSchema.safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join("\n")}`);
  }
  if (result.data.KEYWARD_SECRETS_KEY_PREVIOUS.length > 0 && result.data.KEYWARD_SECRETS_KEY === undefined) {
    throw new ConfigError(
      "Invalid configuration:\n  KEYWARD_SECRETS_KEY_PREVIOUS: needs KEYWARD_SECRETS_KEY: previous keys open secrets, the current one seals them",
    );
  }
  return { ...result.data, dataDir: resolve(result.data.KEYWARD_DATA_DIR) };
}

/** Exactly 32 bytes in canonical base64, so that a truncated or padded paste is refused rather than decoded loosely. */
function isKeyOf32Bytes(text: string): boolean {
  const bytes = Buffer.from(text, "base64");
  return bytes.length === 32 && bytes.toString("base64") === text;
}

function isUrl(text: string): boolean {
  try {
    new URL(text);
    return true;
  } catch {
    return false;
  }
}

/** An origin exactly as browsers send it: http(s), a host, an optional port, nothing else. */
function isOrigin(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === "https:" || url.protocol === "http:") && url.origin === text;
  } catch {
    return false;
  }
}

/** Parses a duration such as 500ms, 30s, 15m, 1h or 7d into milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(text);
  if (!match) throw new ConfigError(`not a duration: ${text}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as "ms"];
  return Number(match[1]) * unit;
}
