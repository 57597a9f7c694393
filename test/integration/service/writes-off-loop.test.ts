import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { VerifyCode } from "../../../src/gen/keyward/v1/verify_pb.js";
import { startTestService, type TestService } from "../../support/test-service.js";

let t: TestService | undefined;
let outsider: Database.Database | undefined;
afterEach(async () => {
  if (outsider?.inTransaction) outsider.exec("ROLLBACK");
  outsider?.close();
  outsider = undefined;
  await t?.stop();
  t = undefined;
});

describe("writes and the event loop", () => {
  it("answers VerifyKey while an admin write waits for SQLite's write lock, then completes the write", async () => {
    t = await startTestService();
    const { key, token } = await t.admin.unary("createKey", { name: "Before" });
    expect((await t.caller.unary("verifyKey", { token })).code).toBe(VerifyCode.VALID);

    // Another connection holds the write lock, as a long transaction would.
    outsider = new Database(join(t.dataDir, "keyward.db"));
    outsider.exec("BEGIN IMMEDIATE");

    let updated = false;
    const update = t.admin.unary("updateKey", { id: key?.id ?? "", name: "After", updateMask: { paths: ["name"] } });
    void update.then(() => {
      updated = true;
    });
    // Give the update time to reach the lock; the order below does not depend on how long.
    await new Promise((resolve) => setTimeout(resolve, 200));

    // A write that waited on the event loop (SQLite's busy wait sleeps its thread) would hold this answer back.
    const answer = await t.caller.unary("verifyKey", { token });
    expect(answer.code).toBe(VerifyCode.VALID);
    expect(updated).toBe(false);

    outsider.exec("COMMIT");
    const result = await update;
    expect(result.key?.name).toBe("After");
    expect((await t.admin.unary("getKey", { id: key?.id ?? "" })).key?.name).toBe("After");
  });
});
