/**
 * `npm run crash-test -- [trials] [--seed N]`: kill -9 trials against the key
 * service (20 by default), each checked as test/reliability/crash-trial.ts
 * describes. Prints one line per trial and a summary; exits 1 on the first
 * trial that finds a lost or half-written write.
 */
import { parseArgs } from "node:util";
import { formatTrial, startCrashHarness, type TrialReport } from "../test/reliability/crash-trial.js";
import { createRandom } from "../test/reliability/fuzz/generators.js";

const { values, positionals } = parseArgs({ options: { seed: { type: "string" } }, allowPositionals: true });
const trials = Number(positionals[0] ?? "20");
if (!Number.isInteger(trials) || trials < 1)
  throw new Error(`the number of trials must be a positive whole number: ${positionals[0]}`);
const seed = Number(values.seed ?? Math.floor(Math.random() * 0xffffffff));
console.log(`crash test: ${trials} trials, seed ${seed} (replay with: npm run crash-test -- ${trials} --seed ${seed})`);

const random = createRandom(seed);
const harness = await startCrashHarness();
const reports: TrialReport[] = [];
let failure: unknown;
try {
  for (let n = 1; n <= trials; n++) {
    const report = await harness.trial(n, random);
    reports.push(report);
    console.log(formatTrial(report));
  }
} catch (error) {
  failure = error;
} finally {
  await harness.close().catch((error: unknown) => {
    failure ??= error;
  });
}

const sum = (pick: (r: TrialReport) => number) => reports.reduce((n, r) => n + pick(r), 0);
console.log(
  `${reports.length} trials passed: ${sum((r) => r.acknowledged.creates)} creates, ${sum((r) => r.acknowledged.updates)} updates, ` +
    `${sum((r) => r.acknowledged.deletes)} deletes, ${sum((r) => r.acknowledged.rotates)} rotates and ` +
    `${sum((r) => r.acknowledged.verifications)} verifications acknowledged, all present; ` +
    `${sum((r) => r.inFlight.creates + r.inFlight.rotates)} writes in flight at a kill, ` +
    `${sum((r) => r.inFlight.createsPresent + r.inFlight.rotatesPresent)} of them whole, none half; ` +
    `usage lost at most ${Math.max(0, ...reports.map((r) => r.usageLost.maxAgeMs))} ms before a kill ` +
    `(${sum((r) => r.usageLost.verifications)} verifications in all); integrity_check ok after every trial`,
);
if (failure !== undefined) {
  console.error(`FAILED: ${failure instanceof Error ? failure.message : String(failure)}`);
  process.exit(1);
}
console.log("PASS");
