import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createVerifier } from "../../../src/client/index.js";

/**
 * A peer at the target that is not Keyward (or a broken one): a grpc-js server
 * whose VerifyKey answers bytes that are no VerifyKeyResponse, an OK status
 * with no message, or an error status. The verifier answers each as an ERROR
 * result, never valid whatever onUnavailable says, and never throws.
 */

const VERIFY = "/keyward.v1.KeyService/VerifyKey";
type Behaviour = "garbage" | "empty" | "permission";

async function startPeer(behaviour: Behaviour): Promise<{ server: grpc.Server; target: string }> {
  const server = new grpc.Server();
  const asIs = (bytes: Buffer) => bytes;
  server.register<Buffer, Buffer>(
    VERIFY,
    (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      void call;
      if (behaviour === "garbage") return callback(null, Buffer.from([0xff, 0xff, 0xff, 0xff]));
      if (behaviour === "permission") return callback({ code: grpc.status.PERMISSION_DENIED, details: "not for you" });
      // An OK status with no message: what a broken server may send; grpc-js's server cannot, so end it by hand.
      (call as unknown as { call: { sendStatus(s: object): void } }).call.sendStatus({
        code: grpc.status.OK,
        details: "",
        metadata: new grpc.Metadata(),
      });
    },
    asIs,
    asIs,
    "unary",
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return { server, target: `127.0.0.1:${port}` };
}

describe.each(["garbage", "empty", "permission"] as const)("a peer whose VerifyKey answers %s", (behaviour) => {
  let peer: { server: grpc.Server; target: string };
  beforeAll(async () => {
    peer = await startPeer(behaviour);
  });
  afterAll(() => peer?.server.forceShutdown());

  it.each([
    "deny",
    "allow",
  ] as const)("is an ERROR result with onUnavailable %s, not valid and not an exception", async (policy) => {
    const verifier = createVerifier({ target: peer.target, onUnavailable: policy, deadlineMs: 2_000 });
    try {
      const result = await verifier.verify("kw_anything");
      expect(result).toMatchObject({ valid: false, code: "ERROR", checked: false });
      if (result.code !== "ERROR") throw new Error("unreachable");
      expect(result.grpcCode).toBe(behaviour === "permission" ? grpc.status.PERMISSION_DENIED : grpc.status.INTERNAL);
      if (behaviour === "garbage") expect(result.reason).toMatch(/does not decode/);
      if (behaviour === "empty") expect(result.reason).toMatch(/no answer/);
    } finally {
      verifier.close();
    }
  });
});
