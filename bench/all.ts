/**
 * `npm run bench`: the hot-path benchmark (bench/run.ts) and then the replicas
 * benchmark (bench/replicas.ts), each in its own process. Every option goes to
 * bench/run.ts; the ones both understand with the same meaning (`--quick`,
 * `--docs`, `--no-docs`) go to bench/replicas.ts too. For the replicas'
 * own options, run `npm run bench:replicas -- …`.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";

const SHARED = new Set(["--quick", "--docs", "--no-docs"]);
const args = process.argv.slice(2);

function run(script: string, scriptArgs: string[]): void {
  const result = spawnSync(process.execPath, ["--import", "tsx", join(import.meta.dirname, script), ...scriptArgs], {
    stdio: "inherit",
  });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

run("run.ts", args);
run(
  "replicas.ts",
  args.filter((arg) => SHARED.has(arg)),
);
