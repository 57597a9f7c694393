import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createVerifier, denialOf, type Verifier, type VerifyResult } from "../../../src/client/index.js";
import { type Case, createCases, type Keyward, ROUTES, startKeyward } from "./harness.js";

/** The verify client against a real service process: every code, the typed result, the service credential. */

let k: Keyward;
let verifier: Verifier;
let cases: Case[];
beforeAll(async () => {
  k = await startKeyward();
  verifier = createVerifier({ target: k.target, onUnavailable: "deny", deadlineMs: 5_000 });
  cases = await createCases(k);
});
afterAll(async () => {
  verifier?.close();
  await k?.stop();
});

describe("verify", () => {
  it("answers every verification code as a typed result, without throwing", async () => {
    const seen: Record<string, string> = {};
    for (const c of cases) {
      // MISSING_KEY and a non-Bearer header are the middlewares' own refusals.
      if (c.authorization === undefined || !c.authorization.startsWith("Bearer ")) continue;
      const token = c.authorization.slice("Bearer ".length);
      const options = { ...ROUTES[c.route], context: { ip: "127.0.0.1" } };
      for (let i = 0; i < (c.warmUp ?? 0); i++) await verifier.verify(token, options);
      const result = await verifier.verify(token, options);
      seen[c.name] = result.code;
      expect(result.valid, c.name).toBe(c.code === "VALID");
      expect(result.checked, c.name).toBe(true);
    }
    expect(seen).toEqual(
      Object.fromEntries(
        cases.filter((c) => c.authorization?.startsWith("Bearer ")).map((c) => [c.name, c.code] as const),
      ),
    );
  });

  it("a valid result carries the key, its claims and expiry as Date, the tightest limit and the credits", async () => {
    const expires = Date.now() + 3_600_000;
    const { id, token } = await k.createKey({
      name: "Full",
      subject: "org_9",
      scopes: ["read:users", "write:users"],
      claims: { plan: "pro", seats: 3 },
      expiresInSeconds: 3_600,
      ratelimits: [
        { name: "api", limit: 100, durationSeconds: 60 },
        { name: "burst", limit: 5, durationSeconds: 1 },
      ],
      remaining: 10n,
    });
    const result = await verifier.verify(token, { cost: 2, scopes: ["read:users"] });
    expect(result).toMatchObject({
      valid: true,
      code: "VALID",
      checked: true,
      remaining: 8,
      key: {
        id,
        name: "Full",
        permission: "FULL_ACCESS",
        subject: "org_9",
        scopes: ["read:users", "write:users"],
        claims: { plan: "pro", seats: 3 },
      },
      ratelimit: { name: "burst", limit: 5, remaining: 3 },
    });
    if (!result.checked) throw new Error("unreachable");
    expect(result.key?.expireTime).toBeInstanceOf(Date);
    expect(Math.abs((result.key?.expireTime?.getTime() ?? 0) - expires)).toBeLessThan(60_000);
    expect(result.key?.domainId).toBeUndefined();
    expect(result.ratelimit?.reset).toBeInstanceOf(Date);
  });

  it("a refused key still names the key when it was found", async () => {
    const { id, token } = await k.createKey({ name: "Narrow", scopes: ["read:users"] });
    const result = await verifier.verify(token, { scopes: ["write:users"] });
    expect(result).toMatchObject({ valid: false, code: "MISSING_SCOPES", checked: true, key: { id } });
  });

  it("cuts over-long context fields and leaves out an address that is not one, instead of failing", async () => {
    const { token } = await k.createKey({ name: "Context" });
    const result = await verifier.verify(token, {
      context: {
        ip: "not-an-ip",
        method: "PROPFIND-WITH-A-LONG-NAME",
        path: `/${"p".repeat(5_000)}`,
        userAgent: "u".repeat(2_000),
        tags: { route: "/x" },
      },
    });
    expect(result.code).toBe("VALID");
  });

  it("a cost that is not a whole number is an ERROR result, not an exception", async () => {
    const result: VerifyResult = await verifier.verify("kw_whatever", { cost: 1.5 });
    expect(result).toMatchObject({ valid: false, code: "ERROR", checked: false });
  });

  it("an empty token is MALFORMED", async () => {
    expect((await verifier.verify("")).code).toBe("MALFORMED");
  });

  it("after close() a verification answers UNAVAILABLE (deny: not valid)", async () => {
    const closing = createVerifier({ target: k.target, onUnavailable: "deny" });
    const { token } = await k.createKey({ name: "Closing" });
    expect((await closing.verify(token)).code).toBe("VALID");
    closing.close();
    expect(await closing.verify(token)).toMatchObject({ valid: false, code: "UNAVAILABLE", checked: false });
  });

  it("takes a dns: name (round-robin over what it resolves to) as well as host:port", async () => {
    const { token } = await k.createKey({ name: "By name" });
    const port = k.target.split(":")[1];
    // localhost may resolve to ::1 too, where nothing listens: round_robin uses the address that answers.
    for (const target of [`dns:localhost:${port}`, `dns:///localhost:${port}`, `localhost:${port}`]) {
      const byName = createVerifier({ target, onUnavailable: "deny", deadlineMs: 5_000 });
      try {
        for (let i = 0; i < 4; i++) expect((await byName.verify(token)).code, target).toBe("VALID");
      } finally {
        byName.close();
      }
    }
  });

  it("refuses options that leave the failure policy open", () => {
    expect(() => createVerifier({ target: k.target } as never)).toThrow(/onUnavailable/);
    expect(() => createVerifier({ target: k.target, onUnavailable: "deny", deadlineMs: 0 })).toThrow(/deadlineMs/);
  });
});

describe("a service that requires its credential for VerifyKey (KEYWARD_VERIFY_REQUIRES_AUTH)", () => {
  let guarded: Keyward;
  beforeAll(async () => {
    guarded = await startKeyward({ KEYWARD_VERIFY_REQUIRES_AUTH: "true" });
  });
  afterAll(async () => {
    await guarded?.stop();
  });

  it("sends authorization: Bearer <service token> when given one", async () => {
    const { token } = await guarded.createKey({ name: "Behind auth" });
    const withToken = createVerifier({
      target: guarded.target,
      onUnavailable: "deny",
      serviceToken: guarded.serviceToken,
    });
    try {
      expect((await withToken.verify(token)).code).toBe("VALID");
    } finally {
      withToken.close();
    }
  });

  it("without it the answer is ERROR (UNAUTHENTICATED), never valid, even with onUnavailable allow", async () => {
    const { token } = await guarded.createKey({ name: "Behind auth too" });
    const without = createVerifier({ target: guarded.target, onUnavailable: "allow" });
    try {
      const result = await without.verify(token);
      expect(result).toMatchObject({ valid: false, code: "ERROR", checked: false, grpcCode: 16 });
      // What every middleware answers for it.
      expect(denialOf(result)).toMatchObject({ status: 500, body: { error: { code: "ERROR" } } });
    } finally {
      without.close();
    }
  });
});
