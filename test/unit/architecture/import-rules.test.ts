import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

/** The import rules of docs/architecture.md, as dependency-cruiser checks them. */

const run = promisify(execFile);
const root = resolve(import.meta.dirname, "../../..");
const depcruise = join(root, "node_modules/.bin/depcruise");
const config = join(root, ".dependency-cruiser.cjs");
const scratch: string[] = [];
afterAll(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

async function cruise(cwd: string): Promise<{ ok: boolean; output: string }> {
  try {
    const { stdout } = await run(depcruise, ["src", "--config", config, "--output-type", "err"], { cwd });
    return { ok: true, output: stdout };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    return { ok: false, output: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

/** A throwaway tree of files `{path: source}` to cruise. */
function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "keyward-imports-"));
  scratch.push(dir);
  for (const [path, source] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), source);
  }
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions: { module: "NodeNext" } }));
  return dir;
}

describe("import rules", () => {
  it("the code as it stands follows them", async () => {
    const result = await cruise(root);
    expect(result.output).toContain("no dependency violations found");
    expect(result.ok).toBe(true);
  }, 60_000);

  it.each([
    [
      "gateway-not-workers",
      "src/gateway/a.ts",
      'import { x } from "../workers/b.js";\nexport const y = x;',
      "src/workers/b.ts",
    ],
    [
      "workers-not-gateway",
      "src/workers/a.ts",
      'import { x } from "../gateway/b.js";\nexport const y = x;',
      "src/gateway/b.ts",
    ],
    [
      "service-stands-alone",
      "src/service/a.ts",
      'import { x } from "../gateway/b.js";\nexport const y = x;',
      "src/gateway/b.ts",
    ],
    [
      "cli-types-only-from-gateway",
      "src/cli/a.ts",
      'import { x } from "../gateway/b.js";\nexport const y = x;',
      "src/gateway/b.ts",
    ],
    [
      "console-is-a-browser-client",
      "src/console/a.ts",
      'import { x } from "../config.js";\nexport const y = x;',
      "src/config.ts",
    ],
    [
      "console-types-only-from-gateway",
      "src/console/a.ts",
      'import { x } from "../gateway/routers/_app.js";\nexport const y = x;',
      "src/gateway/routers/_app.ts",
    ],
    [
      "shared-is-a-leaf",
      "src/shared/a.ts",
      'import { x } from "../workers/b.js";\nexport const y = x;',
      "src/workers/b.ts",
    ],
  ])(
    "a wrong import fails naming the rule %s",
    async (rule, from, source, to) => {
      const result = await cruise(tree({ [from]: source, [to]: "export const x = 1;\n" }));
      expect(result.ok).toBe(false);
      expect(result.output).toContain(rule);
    },
    60_000,
  );

  it("the console may name the gateway's AppRouter as a type and use src/shared/contract", async () => {
    const result = await cruise(
      tree({
        "src/console/a.ts":
          'import type { AppRouter } from "../gateway/routers/_app.js";\nimport { W } from "../shared/contract/words.js";\nexport type Y = AppRouter;\nexport const z = W;\n',
        "src/gateway/routers/_app.ts": "export type AppRouter = number;\n",
        "src/shared/contract/words.ts": "export const W = 1;\n",
      }),
    );
    expect(result.output).toContain("no dependency violations found");
    expect(result.ok).toBe(true);
  }, 60_000);

  it("the CLI may name the gateway's router as a type", async () => {
    const result = await cruise(
      tree({
        "src/cli/a.ts": 'import type { X } from "../gateway/b.js";\nexport type Y = X;\n',
        "src/gateway/b.ts": "export type X = number;\n",
      }),
    );
    expect(result.output).toContain("no dependency violations found");
    expect(result.ok).toBe(true);
  }, 60_000);
});
