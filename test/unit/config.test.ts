import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ConfigError, ConfigSchema, loadConfig, parseDuration } from "../../src/config.js";

describe("configuration", () => {
  it("has working defaults for a fresh install", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      KEYWARD_SERVICE_PORT: 50051,
      KEYWARD_CONNECT_PORT: 50052,
      KEYWARD_GATEWAY_PORT: 8787,
      KEYWARD_TOKEN_PREFIX: "kw",
      KEYWARD_VERIFY_REQUIRES_AUTH: false,
      REDIS_URL: "redis://127.0.0.1:6379",
    });
    expect(config.dataDir.endsWith("/data")).toBe(true);
  });

  it("names every bad variable in one error", () => {
    let error: unknown;
    try {
      loadConfig({ KEYWARD_SERVICE_PORT: "70000", KEYWARD_TOKEN_PREFIX: "Bad!", REDIS_URL: "http://x" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const name of ["KEYWARD_SERVICE_PORT", "KEYWARD_TOKEN_PREFIX", "REDIS_URL"]) expect(message).toContain(name);
  });

  it("takes a console session life of 1m to 30d, naming KEYWARD_SESSION_TTL otherwise", () => {
    expect(loadConfig({}).KEYWARD_SESSION_TTL).toBe("12h");
    expect(loadConfig({ KEYWARD_SESSION_TTL: "30m" }).KEYWARD_SESSION_TTL).toBe("30m");
    for (const bad of ["abc", "10s", "31d"]) {
      expect(() => loadConfig({ KEYWARD_SESSION_TTL: bad })).toThrow(/KEYWARD_SESSION_TTL: /);
    }
  });

  it("keeps webhooks off link-local and the cloud metadata addresses unless told otherwise", () => {
    expect(loadConfig({}).KEYWARD_WEBHOOK_DENY_CIDRS).toEqual([
      "169.254.0.0/16",
      "fe80::/10",
      "fd00:ec2::254/128",
      "0.0.0.0/8",
    ]);
    expect(loadConfig({ KEYWARD_WEBHOOK_DENY_CIDRS: "" }).KEYWARD_WEBHOOK_DENY_CIDRS).toEqual([]);
    expect(loadConfig({ KEYWARD_WEBHOOK_DENY_CIDRS: " 127.0.0.0/8, ::1 ," }).KEYWARD_WEBHOOK_DENY_CIDRS).toEqual([
      "127.0.0.0/8",
      "::1/128",
    ]);
    expect(() => loadConfig({ KEYWARD_WEBHOOK_DENY_CIDRS: "10.0.0.0/8,metadata.internal,10.0.0.0/33" })).toThrow(
      /KEYWARD_WEBHOOK_DENY_CIDRS: not an address or CIDR: metadata\.internal, 10\.0\.0\.0\/33/,
    );
  });

  it("takes a KEYWARD_SECRETS_KEY of 32 base64 bytes and refuses any other without repeating it", () => {
    expect(loadConfig({}).KEYWARD_SECRETS_KEY).toBeUndefined();
    expect(loadConfig({ KEYWARD_SECRETS_KEY: "" }).KEYWARD_SECRETS_KEY).toBeUndefined();
    const good = randomBytes(32).toString("base64");
    expect(loadConfig({ KEYWARD_SECRETS_KEY: good }).KEYWARD_SECRETS_KEY).toBe(good);
    const bad = [
      ["not base64", `secret!${"A".repeat(37)}`, /must be base64/],
      ["base64url, not base64", `${randomBytes(32).toString("base64url").slice(0, 40)}-_Zz`, /must be base64/],
      ["16 bytes", randomBytes(16).toString("base64"), /must be 32 bytes/],
      ["33 bytes", randomBytes(33).toString("base64"), /must be 32 bytes/],
      ["32 bytes without padding", good.replace(/=+$/, ""), /must be 32 bytes/],
    ] as const;
    for (const [what, value, reason] of bad) {
      let message = "";
      try {
        loadConfig({ KEYWARD_SECRETS_KEY: value });
      } catch (error) {
        expect(error, what).toBeInstanceOf(ConfigError);
        message = (error as Error).message;
      }
      expect(message, what).toMatch(/KEYWARD_SECRETS_KEY: /);
      expect(message, what).toMatch(reason);
      expect(message, what).not.toContain(value);
      expect(message, what).not.toContain(value.slice(0, 12));
    }
  });

  it("takes KEYWARD_SECRETS_KEY_PREVIOUS as a list of such keys, only beside KEYWARD_SECRETS_KEY, never repeating a bad one", () => {
    const [current, a, b] = [0, 1, 2].map(() => randomBytes(32).toString("base64")) as [string, string, string];
    expect(loadConfig({}).KEYWARD_SECRETS_KEY_PREVIOUS).toEqual([]);
    expect(
      loadConfig({ KEYWARD_SECRETS_KEY: current, KEYWARD_SECRETS_KEY_PREVIOUS: ` ${a} , ${b},` })
        .KEYWARD_SECRETS_KEY_PREVIOUS,
    ).toEqual([a, b]);
    const short = randomBytes(16).toString("base64");
    expect(() => loadConfig({ KEYWARD_SECRETS_KEY: current, KEYWARD_SECRETS_KEY_PREVIOUS: `${a},${short}` })).toThrow(
      /KEYWARD_SECRETS_KEY_PREVIOUS: entry 2 is not 32 bytes in base64/,
    );
    let message = "";
    try {
      loadConfig({ KEYWARD_SECRETS_KEY: current, KEYWARD_SECRETS_KEY_PREVIOUS: short });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/entry 1 is not 32 bytes/);
    expect(message).not.toContain(short);
    expect(() => loadConfig({ KEYWARD_SECRETS_KEY_PREVIOUS: a })).toThrow(
      /KEYWARD_SECRETS_KEY_PREVIOUS: needs KEYWARD_SECRETS_KEY/,
    );
  });

  it("is documented: every variable has a row in the README", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    for (const name of Object.keys(ConfigSchema.shape)) expect(readme, name).toContain(`| \`${name}\` |`);
  });

  it("parses durations", () => {
    expect([
      parseDuration("500ms"),
      parseDuration("30s"),
      parseDuration("15m"),
      parseDuration("1h"),
      parseDuration("2d"),
    ]).toEqual([500, 30_000, 900_000, 3_600_000, 172_800_000]);
    expect(() => parseDuration("1w")).toThrow(ConfigError);
  });
});
