/**
 * `npm run fuzz [-- --seed N] [--cases N]`: the fuzz suite of
 * test/reliability/fuzz with many more cases than `npm test` runs (100,000
 * by default, shared among the gRPC, Connect and tRPC campaigns). Prints the
 * seed first; the same seed and case count replay the same inputs.
 */
import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    seed: { type: "string" },
    cases: { type: "string", default: "100000" },
    verbose: { type: "boolean", default: false },
  },
});
const seed = values.seed ?? String(Math.floor(Math.random() * 0xffffffff));
if (!/^\d+$/.test(seed) || Number(seed) > 0xffffffff) throw new Error(`--seed must be 0-4294967295: ${seed}`);
const cases = Number(values.cases);
if (!Number.isInteger(cases) || cases < 1) throw new Error(`--cases must be a positive whole number: ${values.cases}`);

console.log(`fuzz: seed ${seed}, ${cases} cases (replay with: npm run fuzz -- --seed ${seed} --cases ${cases})`);
const result = spawnSync("npx", ["vitest", "run", "test/reliability/fuzz"], {
  stdio: "inherit",
  env: {
    ...process.env,
    FUZZ_SEED: seed,
    FUZZ_CASES: String(cases),
    ...(values.verbose ? { FUZZ_VERBOSE: "1" } : {}),
  },
});
console.log(`fuzz: seed ${seed} ${result.status === 0 ? "passed" : "FAILED"}`);
process.exit(result.status ?? 1);
