/**
 * Download links: the signature is compared in constant time. What a link
 * does when tampered with (403) or expired (410, file deleted) is tested end
 * to end in test/integration/workers/exports.test.ts ("refuses a tampered
 * link with 403", "answers 410 for a link past its time"); here, that the
 * comparison itself is crypto.timingSafeEqual over the whole HMAC, for every
 * well-formed link, right or wrong, and that nothing else decides.
 */
import * as crypto from "node:crypto";
import { afterEach, describe, expect, it, vi } from "vitest";
import { exportDownloadPath, signExportLink, verifyExportLink } from "../../src/shared/exports/links.js";

vi.mock("node:crypto", async (importOriginal) => {
  const actual = await importOriginal<typeof import("node:crypto")>();
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) };
});

const secret = Buffer.alloc(32, 7);
const id = "01890000-0000-7000-8000-000000000001";
const expires = "1900000000000";

afterEach(() => {
  vi.mocked(crypto.timingSafeEqual).mockClear();
});

describe("download link signatures", () => {
  it("compares a well-formed signature with timingSafeEqual over all 32 bytes, whether right or wrong", () => {
    const sig = signExportLink(secret, id, expires);
    expect(verifyExportLink(secret, { exportId: id, expires, sig })).toEqual({
      ok: true,
      expiresAtMs: Number(expires),
    });
    // Wrong in the first byte, in the last: the same comparison decides.
    const firstWrong = `${sig[0] === "0" ? "1" : "0"}${sig.slice(1)}`;
    const lastWrong = `${sig.slice(0, -1)}${sig.endsWith("0") ? "1" : "0"}`;
    expect(verifyExportLink(secret, { exportId: id, expires, sig: firstWrong })).toEqual({ ok: false });
    expect(verifyExportLink(secret, { exportId: id, expires, sig: lastWrong })).toEqual({ ok: false });
    const calls = vi.mocked(crypto.timingSafeEqual).mock.calls;
    expect(calls).toHaveLength(3);
    for (const [a, b] of calls) {
      expect([(a as Buffer).length, (b as Buffer).length]).toEqual([32, 32]);
    }
  });

  it("refuses a signature for another export, another time or another secret", () => {
    const path = exportDownloadPath(secret, id, Number(expires));
    const sig = new URL(path, "http://x").searchParams.get("sig");
    expect(verifyExportLink(secret, { exportId: `${id.slice(0, -1)}2`, expires, sig })).toEqual({ ok: false });
    expect(verifyExportLink(secret, { exportId: id, expires: `${expires}1`, sig })).toEqual({ ok: false });
    expect(verifyExportLink(Buffer.alloc(32, 8), { exportId: id, expires, sig })).toEqual({ ok: false });
  });

  it("refuses a malformed link before comparing anything (its shape is public, not the secret)", () => {
    const sig = signExportLink(secret, id, expires);
    for (const bad of [
      { exportId: id, expires, sig: sig.toUpperCase() },
      { exportId: id, expires, sig: sig.slice(0, 63) },
      { exportId: id, expires, sig: `${sig}0` },
      { exportId: id, expires, sig: null },
      { exportId: id, expires: `0${expires}`, sig },
      { exportId: id, expires: "1e12", sig },
      { exportId: id, expires: null, sig },
    ]) {
      expect(verifyExportLink(secret, bad)).toEqual({ ok: false });
    }
    expect(vi.mocked(crypto.timingSafeEqual)).not.toHaveBeenCalled();
  });
});
