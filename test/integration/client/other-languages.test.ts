import { execFile, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Keyward, startKeyward } from "./harness.js";

/**
 * Callers in other languages: the buf templates under clients/ generate code
 * with local plugins only (buf runs offline). Where a language's plugins are
 * not installed, its generation test is skipped and says so in its name; the
 * protos are still built and the templates still checked.
 */

const run = promisify(execFile);
const root = resolve(import.meta.dirname, "../../..");
const buf = join(root, "node_modules/.bin/buf");
const scratch: string[] = [];

const onPath = (command: string) => spawnSync("sh", ["-c", `command -v ${command}`]).status === 0;
/** A Python interpreter that has grpcio and protobuf, if any. */
const python = ["/usr/bin/python3", "python3"].find(
  (py) => spawnSync(py, ["-c", "import grpc, google.protobuf"], { stdio: "ignore" }).status === 0,
);

const LANGUAGES = [
  {
    lang: "go",
    plugins: ["protoc-gen-go", "protoc-gen-go-grpc"],
    files: ["gen/keyward/v1/verify.pb.go", "gen/keyward/v1/key_service_grpc.pb.go"],
    marker: ["gen/keyward/v1/key_service_grpc.pb.go", "VerifyKey(ctx context.Context, in *VerifyKeyRequest"],
  },
  {
    lang: "python",
    plugins: ["protoc", "grpc_python_plugin"],
    files: ["gen/keyward/v1/verify_pb2.py", "gen/keyward/v1/verify_pb2.pyi", "gen/keyward/v1/key_service_pb2_grpc.py"],
    marker: ["gen/keyward/v1/key_service_pb2_grpc.py", "/keyward.v1.KeyService/VerifyKey"],
  },
  {
    lang: "java",
    plugins: ["protoc", "grpc_java_plugin"],
    files: ["src/main/java/com/keyward/v1/KeyServiceGrpc.java", "src/main/java/com/keyward/v1/VerifyKeyRequest.java"],
    marker: ["src/main/java/com/keyward/v1/KeyServiceGrpc.java", "getVerifyKeyMethod"],
  },
] as const;

let k: Keyward;
beforeAll(async () => {
  k = await startKeyward();
});
afterAll(async () => {
  await k?.stop();
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "keyward-gen-"));
  scratch.push(dir);
  return dir;
}

describe("the contract for other languages", () => {
  it("buf build compiles proto/ into an image holding KeyService.VerifyKey", async () => {
    const out = join(tempDir(), "image.json");
    await run(buf, ["build", "--output", out], { cwd: root });
    const image = JSON.parse(readFileSync(out, "utf8")) as {
      file: { name: string; service?: { name: string; method: { name: string }[] }[] }[];
    };
    const file = image.file.find((f) => f.name === "keyward/v1/key_service.proto");
    const methods = file?.service?.find((s) => s.name === "KeyService")?.method.map((m) => m.name);
    expect(methods).toContain("VerifyKey");
  }, 60_000);

  for (const { lang, plugins, files, marker } of LANGUAGES) {
    const template = join(root, `clients/buf.gen.${lang}.yaml`);

    it(`clients/buf.gen.${lang}.yaml names local plugins only (${plugins.join(", ")})`, () => {
      const text = readFileSync(template, "utf8");
      expect(text).not.toMatch(/^\s*-?\s*remote:/m);
      const named = [...text.matchAll(/^\s*-\s*(local|protoc_builtin):\s*(\S+)/gm)].map((m) => m[2]);
      expect(named.length).toBeGreaterThanOrEqual(2);
    });

    const missing = plugins.filter((p) => !onPath(p));
    const title =
      missing.length === 0
        ? `buf generate with clients/buf.gen.${lang}.yaml writes the ${lang} client`
        : `buf generate for ${lang}: SKIPPED, ${missing.join(" and ")} not installed on this machine (see docs/clients.md)`;
    it.skipIf(missing.length > 0)(
      title,
      async () => {
        const out = tempDir();
        await run(buf, ["generate", "--template", template, "--output", out], { cwd: root });
        for (const file of files) expect(existsSync(join(out, file)), file).toBe(true);
        expect(readFileSync(join(out, marker[0]), "utf8")).toContain(marker[1]);
      },
      60_000,
    );
  }

  const pythonReady = python !== undefined && onPath("protoc") && onPath("grpc_python_plugin");
  it.skipIf(!pythonReady)(
    pythonReady
      ? "clients/python/verify_key.py verifies keys against a real service with the generated code"
      : "clients/python/verify_key.py: SKIPPED, needs protoc, grpc_python_plugin and a python3 with grpcio",
    async () => {
      const out = tempDir();
      await run(buf, ["generate", "--template", join(root, "clients/buf.gen.python.yaml"), "--output", out], {
        cwd: root,
      });
      const { id, token } = await k.createKey({ name: "From Python", scopes: ["read:users"] });
      const verify = async (...args: string[]) => {
        try {
          const { stdout } = await run(python as string, [join(root, "clients/python/verify_key.py"), ...args], {
            env: { ...process.env, PYTHONPATH: join(out, "gen") },
          });
          return { exit: 0, answer: JSON.parse(stdout) };
        } catch (error) {
          const e = error as { code: number; stdout: string; stderr: string };
          if (e.stdout === "") throw new Error(e.stderr);
          return { exit: e.code, answer: JSON.parse(e.stdout) };
        }
      };
      expect(await verify(k.target, token, "read:users")).toEqual({
        exit: 0,
        answer: { valid: true, code: "VALID", key_id: id },
      });
      expect(await verify(k.target, token, "write:users")).toEqual({
        exit: 1,
        answer: { valid: false, code: "MISSING_SCOPES", key_id: id },
      });
    },
    60_000,
  );

  // grpc-go from Debian's packages, in GOPATH mode (no module download: the machine has no Go proxy).
  const goPath = "/usr/share/gocode";
  const goReady =
    onPath("go") &&
    onPath("protoc-gen-go") &&
    onPath("protoc-gen-go-grpc") &&
    existsSync(join(goPath, "src/google.golang.org/grpc")) &&
    existsSync(join(goPath, "src/google.golang.org/protobuf")) &&
    // github.com/golang/protobuf 1.4 or later (grpc-go's codec); 1.3 cannot marshal today's generated messages.
    existsSync(join(goPath, "src/github.com/golang/protobuf/proto/registry.go"));
  it.skipIf(!goReady)(
    goReady
      ? "clients/go/main.go compiles against the generated code and verifies keys against a real service"
      : "clients/go/main.go: SKIPPED, needs go, protoc-gen-go, protoc-gen-go-grpc and grpc-go in /usr/share/gocode (Debian golang-go golang-google-grpc-dev golang-google-protobuf-dev golang-github-golang-protobuf-1-5-dev)",
    async () => {
      const gopath = tempDir();
      const module = join(gopath, "src/example.com/yourservice");
      await run(buf, ["generate", "--template", join(root, "clients/buf.gen.go.yaml"), "--output", module], {
        cwd: root,
      });
      mkdirSync(join(module, "cmd/verify"), { recursive: true });
      copyFileSync(join(root, "clients/go/main.go"), join(module, "cmd/verify/main.go"));
      const binary = join(gopath, "verify");
      await run("go", ["build", "-o", binary, "./cmd/verify"], {
        cwd: module,
        env: {
          ...process.env,
          GOPATH: `${gopath}:${goPath}`,
          GO111MODULE: "off",
          GOPROXY: "off",
          GOCACHE: process.env.GOCACHE ?? join(tmpdir(), "keyward-go-build-cache"),
        },
      });
      const { id, token } = await k.createKey({ name: "From Go", scopes: ["read:users"] });
      const verify = async (...args: string[]) => {
        try {
          const { stdout } = await run(binary, args);
          return { exit: 0, answer: JSON.parse(stdout) };
        } catch (error) {
          const e = error as { code: number; stdout: string; stderr: string };
          if (e.stdout === "") throw new Error(e.stderr);
          return { exit: e.code, answer: JSON.parse(e.stdout) };
        }
      };
      expect(await verify(k.target, token, "read:users")).toEqual({
        exit: 0,
        answer: { valid: true, code: "VALID", key_id: id },
      });
      expect(await verify(k.target, token, "write:users")).toEqual({
        exit: 1,
        answer: { valid: false, code: "MISSING_SCOPES", key_id: id },
      });
    },
    180_000,
  );

  it("buf curl calls VerifyKey through the service's reflection, no proto files needed", async () => {
    const { id, token } = await k.createKey({ name: "From buf curl" });
    const { stdout } = await run(
      buf,
      [
        "curl",
        "--protocol",
        "grpc",
        "--http2-prior-knowledge",
        "--data",
        JSON.stringify({ token, requiredScopes: [] }),
        `http://${k.target}/keyward.v1.KeyService/VerifyKey`,
      ],
      { cwd: tmpdir() },
    );
    expect(JSON.parse(stdout)).toMatchObject({ valid: true, code: "VERIFY_CODE_VALID", key: { id } });
  }, 60_000);
});
