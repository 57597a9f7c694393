import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

/** keyward/client as another service sees it: the exports map over dist/, and the import rules that keep it small. */

const run = promisify(execFile);
const root = resolve(import.meta.dirname, "../../..");
const scratch: string[] = [];
afterAll(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

describe("the package's exports", () => {
  it("keyward/client and its middlewares resolve to dist/ with their declarations, from another package", async () => {
    expect(existsSync(join(root, "dist/client/index.js")), "dist/ is built by npm ci (prepare) or npm run build").toBe(
      true,
    );
    // Another project with keyward in its node_modules, as npm links a local package (Node follows the link).
    const app = mkdtempSync(join(tmpdir(), "keyward-consumer-"));
    scratch.push(app);
    mkdirSync(join(app, "node_modules"));
    symlinkSync(root, join(app, "node_modules/keyward"), "dir");
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "consumer", type: "module" }));
    const script = `
      const client = await import("keyward/client");
      const connect = await import("keyward/client/connect");
      const express = await import("keyward/client/express");
      const fastify = await import("keyward/client/fastify");
      const hono = await import("keyward/client/hono");
      console.log(JSON.stringify({
        createVerifier: typeof client.createVerifier,
        denialOf: typeof client.denialOf,
        middlewares: [connect, express, fastify, hono].map((m) => typeof m.keyward),
        resolved: import.meta.resolve("keyward/client"),
      }));
    `;
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], { cwd: app });
    const seen = JSON.parse(stdout) as {
      createVerifier: string;
      denialOf: string;
      middlewares: string[];
      resolved: string;
    };
    expect(seen).toMatchObject({
      createVerifier: "function",
      denialOf: "function",
      middlewares: ["function", "function", "function", "function"],
    });
    expect(seen.resolved).toMatch(/\/dist\/client\/index\.js$/);
    for (const file of ["index", "middleware/express", "middleware/fastify", "middleware/hono", "middleware/connect"]) {
      expect(existsSync(join(root, `dist/client/${file}.d.ts`)), file).toBe(true);
    }
  }, 30_000);

  it("keyward/client itself loads no web framework", async () => {
    // Every module the import loads, seen by a resolve hook; none may be a framework.
    const script = `
      import { register } from "node:module";
      import { MessageChannel } from "node:worker_threads";
      const { port1, port2 } = new MessageChannel();
      const seen = [];
      port1.on("message", (url) => seen.push(url));
      register("data:text/javascript," + encodeURIComponent(\`
        let port;
        export function initialize(data) { port = data.port; }
        export async function resolve(specifier, context, next) {
          const result = await next(specifier, context);
          port.postMessage(result.url);
          return result;
        }
      \`), { data: { port: port2 }, transferList: [port2] });
      await import(${JSON.stringify(join(root, "dist/client/index.js"))});
      await new Promise((r) => setTimeout(r, 50));
      port1.close();
      console.log(JSON.stringify(seen));
    `;
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], { cwd: root });
    const urls = JSON.parse(stdout) as string[];
    expect(urls.some((u) => u.includes("@grpc/grpc-js"))).toBe(true);
    expect(urls.filter((u) => /node_modules\/(express|fastify|hono|@hono|@connectrpc)\//.test(u))).toEqual([]);
  }, 30_000);
});

async function cruise(cwd: string): Promise<{ ok: boolean; output: string }> {
  try {
    const { stdout } = await run(
      join(root, "node_modules/.bin/depcruise"),
      ["src", "--config", join(root, ".dependency-cruiser.cjs"), "--output-type", "err"],
      { cwd },
    );
    return { ok: true, output: stdout };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    return { ok: false, output: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "keyward-client-imports-"));
  scratch.push(dir);
  for (const [path, source] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), source);
  }
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions: { module: "NodeNext" } }));
  return dir;
}

describe("the client's import rules", () => {
  it.each([
    [
      "client-stands-alone",
      "src/client/a.ts",
      'import { x } from "../shared/b.js";\nexport const y = x;',
      "src/shared/b.ts",
    ],
    [
      "client-stands-alone",
      "src/client/a.ts",
      'import { x } from "../service/b.js";\nexport const y = x;',
      "src/service/b.ts",
    ],
    [
      "nothing-imports-the-client",
      "src/gateway/a.ts",
      'import { x } from "../client/b.js";\nexport const y = x;',
      "src/client/b.ts",
    ],
  ])(
    "a wrong import fails naming the rule %s (%s)",
    async (rule, from, source, to) => {
      const result = await cruise(tree({ [from]: source, [to]: "export const x = 1;\n" }));
      expect(result.ok).toBe(false);
      expect(result.output).toContain(rule);
    },
    60_000,
  );

  it("the client may import the generated contract", async () => {
    const result = await cruise(
      tree({
        "src/client/a.ts": 'import { x } from "../gen/b.js";\nexport const y = x;\n',
        "src/gen/b.ts": "export const x = 1;\n",
      }),
    );
    expect(result.output).toContain("no dependency violations found");
  }, 60_000);
});
