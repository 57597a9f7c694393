/**
 * No token in plaintext anywhere but the one answer that creates it. A full
 * run of the stack (service, gateway, workers on real Redis under a prefix of
 * its own, an in-process SMTP server): keys created and rotated through the
 * gateway and the service, verified over gRPC and Connect (with a context,
 * and mistyped), updated, revoked, listed, their usage and logs read, exports
 * made at once and by the workers (mailed), a sweep's digest mailed. Then the
 * 32-character random part of every token is searched for in the database
 * and its WAL, every file under the data dir (exports, outbox), every log
 * line (pino, at trace level), every mail, every answer after the creating
 * one, and the /metrics output of the gateway and the service.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { asActor } from "../../src/shared/contract/service-client.js";
import { captureLogger, linkIn, type Stack, startStack } from "../integration/workers/harness.js";
import { createKeyServiceGrpcClient } from "../support/grpc-client.js";

const DAY = 86_400_000;
const PREFIX = "kw";

let s: Stack;
const capture = captureLogger("trace");
/** Every token issued in this run. */
const tokens: string[] = [];
/** Every answer that is not the one creating a token: none may hold one. */
const answers: string[] = [];

/** The random part of a token: what a leak would expose (the prefix is public, the checksum derived). */
const secretOf = (token: string) => token.slice(PREFIX.length + 1, PREFIX.length + 33);

/** The secrets found in `text`: every run of 32+ base62 characters, each 32-character window of it. */
function secretsIn(text: string, secrets: Set<string>): string[] {
  const found = new Set<string>();
  for (const [run] of text.matchAll(/[A-Za-z0-9]{32,}/g)) {
    for (let i = 0; i + 32 <= run.length; i++) {
      const window = run.slice(i, i + 32);
      if (secrets.has(window)) found.add(window);
    }
  }
  return [...found];
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((name) => join(dir, name))
    .filter((path) => statSync(path).isFile());
}

async function trpc(path: string, input: unknown, method: "GET" | "POST" = "POST") {
  const { status, body } = await s.trpc(path, input, s.adminToken, method);
  expect(status, `${path}: ${JSON.stringify(body).slice(0, 300)}`).toBe(200);
  return body.result?.data;
}

beforeAll(async () => {
  s = await startStack({ logger: capture.logger, env: { KEYWARD_INACTIVE_DAYS: "30", KEYWARD_TOKEN_PREFIX: PREFIX } });
  tokens.push(s.adminToken, s.memberToken);
}, 60_000);
afterAll(async () => {
  await s?.close();
});

describe("no token plaintext at rest, in logs, mails, exports or metrics", () => {
  it("after a full run, only the creating answers ever held a token", async () => {
    // Through the gateway, as an admin would.
    const created: { id: string; token: string }[] = [];
    for (let i = 0; i < 3; i++) {
      const data = await trpc("keys.create", {
        name: `Leak check ${i}`,
        scopes: ["read:users"],
        claims: { email: `owner${i}@example.com` },
        allowedCidrs: i === 2 ? ["10.0.0.0/8"] : undefined,
        remaining: 100,
      });
      created.push({ id: data.key.id, token: data.token });
      tokens.push(data.token);
    }
    // Sanity: the search finds a token where one is.
    expect(secretsIn(JSON.stringify(created), new Set([secretOf(created[0]?.token ?? "")]))).toHaveLength(1);

    // Verified by internal callers over gRPC and Connect, rightly and mistyped.
    const grpcCaller = createKeyServiceGrpcClient(`127.0.0.1:${s.service.grpcPort}`);
    try {
      for (const { token } of created) {
        answers.push(
          JSON.stringify(
            await grpcCaller.unary("verifyKey", {
              token,
              context: { ip: "192.0.2.7", path: "/v1/x", userAgent: "curl/8", tags: { via: "test" } },
            }),
            (_, v) => (typeof v === "bigint" ? String(v) : v),
          ),
        );
        answers.push(
          JSON.stringify(await s.direct.verifyKey({ token, requiredScopes: ["write:users"] }), (_, v) =>
            typeof v === "bigint" ? String(v) : v,
          ),
        );
        await grpcCaller.unary("verifyKey", { token: `${token.slice(0, -1)}${token.endsWith("a") ? "b" : "a"}` });
        await grpcCaller.unary("verifyKey", { token: token.slice(0, 20) });
      }
    } finally {
      grpcCaller.close();
    }

    // Changed, rotated, revoked; read back every way there is.
    const first = created[0] as { id: string; token: string };
    const second = created[1] as { id: string; token: string };
    answers.push(JSON.stringify(await trpc("keys.update", { id: first.id, name: "Renamed", enabled: false })));
    const rotated = await trpc("keys.rotate", { id: second.id, gracePeriodSeconds: 60 });
    tokens.push(rotated.token);
    answers.push(JSON.stringify(rotated.previousKey));
    const direct = await s.direct.rotateKey({ id: rotated.key.id, gracePeriodSeconds: 0 }, asActor("ops@example.com"));
    tokens.push(direct.token);
    answers.push(JSON.stringify(await trpc("keys.delete", { id: first.id, reason: "leak check" })));
    answers.push(JSON.stringify(await trpc("keys.list", { pageSize: 100 }, "GET")));
    answers.push(JSON.stringify(await trpc("keys.get", { id: second.id }, "GET")));
    answers.push(JSON.stringify(await trpc("keys.logs", { id: second.id }, "GET")));
    answers.push(JSON.stringify(await trpc("keys.usage", { id: second.id }, "GET")));
    answers.push(JSON.stringify(await trpc("audit.list", { pageSize: 100 }, "GET")));
    answers.push(JSON.stringify(await trpc("me", undefined, "GET")));

    // An export written at once, and one of 1,001 rows written by the workers and mailed.
    const small = await trpc("exports.create", { resource: "api_keys" });
    answers.push(JSON.stringify(small), (await s.download(small.downloadUrl)).text);
    const logs = await trpc("exports.create", { resource: "key_logs", filters: { keyId: second.id } });
    answers.push((await s.download(logs.downloadUrl)).text);
    for (let i = 0; i < 1001; i++) {
      const { token } = await s.service.keys.create(
        { name: `bulk ${i}`, subject: "bulk" },
        { name: "seed", keyId: null },
      );
      tokens.push(token);
    }
    const bulk = await trpc("exports.create", { resource: "api_keys", filters: { subject: "bulk" } });
    expect(bulk.downloadUrl).toBeNull();
    const [ready] = await s.smtp.waitFor(1, (m) => m.subject.includes("ready"));
    answers.push((await s.download(linkIn(ready as never))).text);

    // The data dir now, with the export files (the sweep below deletes them as expired).
    const snapshot = (when: string) =>
      filesUnder(s.dataDir).map((path) => ({
        where: `${path.slice(s.dataDir.length + 1)} (${when})`,
        text: readFileSync(path).toString("latin1"),
      }));
    const before = snapshot("before the sweep");
    expect(before.some((h) => h.where.startsWith("exports/") && h.where.includes(".csv"))).toBe(true);

    // A month later the sweep mails the admins a digest naming the keys gone inactive.
    s.clock.advance(31 * DAY);
    await s.trpc("me", undefined, s.adminToken, "GET");
    await s.sweepNow();
    await s.smtp.waitFor(1, (m) => m.subject.startsWith("Keyward:"));

    // Prometheus output of the gateway and of the service (its Connect port).
    const metrics: { where: string; text: string }[] = [];
    for (const url of [`${s.url}/metrics`, `${s.serviceUrl}/metrics`]) {
      const res = await fetch(url);
      expect(res.status, url).toBe(200);
      const text = await res.text();
      expect(text).toContain("keyward_");
      metrics.push({ where: url, text });
    }

    // The haystacks: every file under the data dir (database, WAL, exports, outbox), read while the service runs.
    const haystacks = [...before, ...snapshot("at the end")];
    expect(haystacks.map((h) => h.where)).toEqual(
      expect.arrayContaining(["keyward.db (at the end)", "keyward.db-wal (at the end)"]),
    );
    const lines = capture.lines().map((line) => JSON.stringify(line));
    expect(lines.length).toBeGreaterThan(20);
    haystacks.push(
      ...lines.map((text, i) => ({ where: `log line ${i}`, text })),
      ...s.smtp.mails.map((mail) => ({ where: `mail "${mail.subject}"`, text: mail.raw })),
      ...answers.map((text, i) => ({ where: `answer ${i}`, text })),
      ...metrics,
    );
    expect(s.smtp.mails.length).toBeGreaterThanOrEqual(2);

    const secrets = new Set(tokens.map(secretOf));
    expect(secrets.size).toBe(tokens.length);
    const leaks = haystacks.flatMap(({ where, text }) =>
      secretsIn(text, secrets).map((secret) => `${where}: ${secret}`),
    );
    expect(leaks).toEqual([]);
  }, 120_000);
});
