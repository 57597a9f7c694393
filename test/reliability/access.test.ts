/**
 * Access control, derived rather than listed: every procedure of the
 * gateway's appRouter (walked from the router itself) and every admin RPC of
 * KeyService (every method of the descriptor but VerifyKey) must refuse a
 * caller with no credential, a wrong one, a revoked or disabled admin key,
 * and, for admin actions (mutations), a member key. A procedure or RPC added
 * without a check fails here without anyone having to remember this file.
 */
import { randomBytes } from "node:crypto";
import { fromBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appRouter } from "../../src/gateway/routers/_app.js";
import { KeyService } from "../../src/gen/keyward/v1/key_service_pb.js";
import { asActor } from "../../src/shared/contract/service-client.js";
import { type Harness, startHarness } from "../integration/gateway/harness.js";
import {
  createKeyServiceGrpcClient,
  type KeyServiceGrpcClient,
  type StreamMethodName,
  type UnaryMethodName,
} from "../support/grpc-client.js";

/**
 * Procedures anyone may call without a key: only the console's sign-in
 * (it takes the key as its input and checks it as a Bearer call is checked)
 * and sign-out (it ends only the caller's own session cookie). `me` needs a
 * console key too (it says who the key belongs to). Adding one here is a decision.
 */
const PUBLIC_PROCEDURES: readonly string[] = ["session.signIn", "session.signOut"];
/** Mutations a member key may run: signing in and out of the console. Otherwise members only read. */
const MEMBER_MUTATIONS: readonly string[] = ["session.signIn", "session.signOut"];
/** The one KeyService RPC open to the internal network (unless KEYWARD_VERIFY_REQUIRES_AUTH). */
const OPEN_RPCS = ["VerifyKey"];

type ProcedureType = "query" | "mutation" | "subscription";

function procedures(): { path: string; type: ProcedureType }[] {
  const record = (appRouter._def as unknown as { procedures: Record<string, { _def: { type: ProcedureType } }> })
    .procedures;
  return Object.entries(record).map(([path, procedure]) => ({ path, type: procedure._def.type }));
}

let h: Harness;
let grpcClient: KeyServiceGrpcClient;
let admin: { id: string; token: string };
let member: { id: string; token: string };
/** Credentials that must get 401 from every procedure, by what they are. */
const refused: Record<string, string | undefined> = {};

beforeAll(async () => {
  h = await startHarness();
  grpcClient = createKeyServiceGrpcClient(h.grpcAddress);
  admin = await h.consoleKey("admin");
  member = await h.consoleKey("member");
  const revoked = await h.consoleKey("admin");
  await h.service.deleteKey({ id: revoked.id, reason: "left" }, asActor("access test"));
  const disabled = await h.consoleKey("admin");
  await h.service.updateKey(
    { id: disabled.id, updateMask: { paths: ["enabled"] }, enabled: false },
    asActor("access test"),
  );
  const rotated = await h.consoleKey("admin");
  await h.service.rotateKey({ id: rotated.id, gracePeriodSeconds: 0 }, asActor("access test"));
  Object.assign(refused, {
    "no Authorization header": undefined,
    "an empty Bearer": "Bearer ",
    "Basic credentials": `Basic ${Buffer.from(`admin:${admin.token}`).toString("base64")}`,
    "the admin token without Bearer": admin.token,
    "a token of the right shape that does not exist": `Bearer kw_${randomBytes(24).toString("base64url").slice(0, 38)}`,
    "the admin token with one character changed": `Bearer ${admin.token.slice(0, -1)}${admin.token.endsWith("A") ? "B" : "A"}`,
    "the service token": `Bearer ${h.serviceToken}`,
    "a revoked admin key": `Bearer ${revoked.token}`,
    "a disabled admin key": `Bearer ${disabled.token}`,
    "an admin key rotated away": `Bearer ${rotated.token}`,
  });
});
afterAll(async () => {
  grpcClient?.close();
  await h?.close();
});

/** Calls a procedure the way its type expects, with an empty input. */
async function callProcedure(path: string, type: ProcedureType, authorization: string | undefined) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (authorization !== undefined) headers.authorization = authorization;
  const res =
    type === "mutation"
      ? await fetch(`${h.url}/trpc/${path}`, { method: "POST", headers, body: "{}" })
      : await fetch(`${h.url}/trpc/${path}?input=${encodeURIComponent("{}")}`, { headers });
  const body = (await res.json()) as { error?: { data?: { code?: string } } };
  return { status: res.status, code: body.error?.data?.code ?? "OK" };
}

describe("gateway access", () => {
  it("finds the procedures to check in the router itself", () => {
    const all = procedures();
    expect(all.map((p) => p.path)).toEqual(expect.arrayContaining(["keys.create", "keys.list", "me", "audit.list"]));
    expect(all.filter((p) => p.type === "subscription")).toEqual([]);
    for (const path of [...PUBLIC_PROCEDURES, ...MEMBER_MUTATIONS]) expect(all.map((p) => p.path)).toContain(path);
  });

  it("every procedure refuses every wrong credential with 401, and only the public ones answer without a key", async () => {
    const open: string[] = [];
    for (const { path, type } of procedures()) {
      for (const [what, authorization] of Object.entries(refused)) {
        const answer = await callProcedure(path, type, authorization);
        if (PUBLIC_PROCEDURES.includes(path)) continue;
        expect({ path, what, ...answer }).toEqual({ path, what, status: 401, code: "UNAUTHORIZED" });
      }
      const anonymous = await callProcedure(path, type, undefined);
      if (anonymous.status !== 401) open.push(path);
    }
    expect(open.sort()).toEqual([...PUBLIC_PROCEDURES].sort());
  });

  it("a key without a console scope is 403 everywhere", async () => {
    const other = await h.consoleKey("other");
    for (const { path, type } of procedures()) {
      if (PUBLIC_PROCEDURES.includes(path)) continue;
      const answer = await callProcedure(path, type, `Bearer ${other.token}`);
      expect({ path, ...answer }).toEqual({ path, status: 403, code: "FORBIDDEN" });
    }
  });

  it("a member key may run every query and no mutation; an admin key passes the checks of both", async () => {
    const memberMutations: string[] = [];
    for (const { path, type } of procedures()) {
      const asMember = await callProcedure(path, type, `Bearer ${member.token}`);
      const asAdmin = await callProcedure(path, type, `Bearer ${admin.token}`);
      // Past authorization an empty input may still be a 400 (or an unknown id a 404): that is not a refusal.
      expect({ path, refused: [401, 403].includes(asAdmin.status) }).toEqual({ path, refused: false });
      if (type === "mutation") {
        if (asMember.status !== 403) memberMutations.push(path);
        else expect(asMember.code).toBe("FORBIDDEN");
      } else {
        expect({ path, refused: [401, 403].includes(asMember.status) }).toEqual({ path, refused: false });
      }
    }
    expect(memberMutations.sort()).toEqual([...MEMBER_MUTATIONS].sort());
  });

  it("the export download refuses every wrong credential (401) and a member (403) before looking at the link", async () => {
    const link = `${h.url}/exports/01890000-0000-7000-8000-000000000000/download?expires=1&sig=${"0".repeat(64)}`;
    for (const [what, authorization] of Object.entries(refused)) {
      const res = await fetch(link, { headers: authorization === undefined ? {} : { authorization } });
      expect({ what, status: res.status }).toEqual({ what, status: 401 });
    }
    expect((await fetch(link, { headers: { authorization: `Bearer ${member.token}` } })).status).toBe(403);
    // An admin gets past the credential check, and the forged link is refused.
    expect((await fetch(link, { headers: { authorization: `Bearer ${admin.token}` } })).status).toBe(403);
  });
});

describe("service access", () => {
  const adminRpcs = () => KeyService.methods.filter((m) => !OPEN_RPCS.includes(m.name));

  /** Credentials the service must refuse: its credential is the service token, never a Keyward key. */
  const wrong = (): Record<string, string | undefined> => ({
    none: undefined,
    "a wrong service token": `Bearer ${h.serviceToken.slice(0, -1)}x`,
    "the service token without Bearer": h.serviceToken,
    "a console admin key": `Bearer ${admin.token}`,
    "a member key": `Bearer ${member.token}`,
    "a revoked admin key": refused["a revoked admin key"],
  });

  it("checks every RPC of the descriptor but VerifyKey", () => {
    expect(adminRpcs().length).toBe(KeyService.methods.length - OPEN_RPCS.length);
    expect(adminRpcs().map((m) => m.name)).toEqual(
      expect.arrayContaining(["CreateKey", "RunSweep", "StreamExportRows"]),
    );
  });

  it("every admin RPC answers UNAUTHENTICATED to every wrong credential over gRPC", async () => {
    for (const method of adminRpcs()) {
      for (const [what, authorization] of Object.entries(wrong())) {
        const metadata = authorization === undefined ? {} : { authorization };
        const call =
          method.methodKind === "server_streaming"
            ? grpcClient.rawStream(method.localName as StreamMethodName, new Uint8Array(0), metadata)
            : grpcClient.raw(method.localName as UnaryMethodName, new Uint8Array(0), metadata);
        const code = await call.then(
          () => grpc.status.OK,
          (error: { code: number }) => error.code,
        );
        expect({ rpc: method.name, what, code: grpc.status[code] }).toEqual({
          rpc: method.name,
          what,
          code: "UNAUTHENTICATED",
        });
      }
    }
  });

  it("every admin RPC answers unauthenticated to every wrong credential over Connect", async () => {
    for (const method of adminRpcs()) {
      const streaming = method.methodKind === "server_streaming";
      for (const [what, authorization] of Object.entries(wrong())) {
        const headers: Record<string, string> = {
          "content-type": streaming ? "application/connect+json" : "application/json",
        };
        if (authorization !== undefined) headers.authorization = authorization;
        // A server-streaming call's body is one enveloped message: {}.
        const body = streaming ? Uint8Array.of(0, 0, 0, 0, 2, 0x7b, 0x7d) : "{}";
        const res = await fetch(`${h.serviceUrl}/${KeyService.typeName}/${method.name}`, {
          method: "POST",
          headers,
          body,
        });
        const text = Buffer.from(await res.arrayBuffer());
        // Unary errors are a JSON body; a stream's is in its end envelope.
        const json = streaming && res.status === 200 ? text.subarray(5).toString() : text.toString();
        const code = JSON.parse(json) as { code?: string; error?: { code?: string } };
        expect({ rpc: method.name, what, code: code.code ?? code.error?.code }).toEqual({
          rpc: method.name,
          what,
          code: "unauthenticated",
        });
      }
    }
  });

  it("VerifyKey is the one RPC open without a credential", async () => {
    const bytes = await grpcClient.raw("verifyKey", new Uint8Array(0));
    expect(fromBinary(KeyService.method.verifyKey.output, bytes).valid).toBe(false);
  });
});
