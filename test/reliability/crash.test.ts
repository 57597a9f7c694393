/**
 * Crash safety: trials of concurrent admin writes and verifications against
 * the service in its own process, SIGKILLed at a random moment and restarted
 * over the same data dir (see crash-trial.ts for what each trial checks).
 * `npm test` runs 3 trials; `npm run crash-test -- 20` runs more.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CrashHarness, formatTrial, startCrashHarness } from "./crash-trial.js";
import { createRandom, fuzzSeed } from "./fuzz/generators.js";

const TRIALS = 3;
const seed = fuzzSeed();
let harness: CrashHarness;

beforeAll(async () => {
  harness = await startCrashHarness();
});
afterAll(async () => {
  await harness?.close();
});

describe("crash safety", () => {
  it(`loses no acknowledged write and leaves nothing half-written across ${TRIALS} kill -9 trials (seed ${seed})`, async () => {
    const random = createRandom(seed);
    for (let n = 1; n <= TRIALS; n++) {
      const report = await harness.trial(n, random);
      console.log(formatTrial(report));
      expect(report.integrity).toBe("ok");
      expect(report.acknowledged.creates + report.acknowledged.verifications).toBeGreaterThan(0);
    }
  }, 120_000);
});
