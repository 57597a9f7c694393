import { execFile } from "node:child_process";
import { join } from "node:path";
import type { CliIO } from "../../../src/cli/io.js";
import { main } from "../../../src/cli/main.js";

const ROOT = join(import.meta.dirname, "../../..");
const BIN = join(ROOT, "bin/keyward.js");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `keyward <args>` as a child process, as a person would, with only the
 * given Keyward variables (none inherited from the test's environment).
 */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith("KEYWARD_") && k !== "NO_COLOR") base[k] = v;
  }
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: ROOT, env: { ...base, ...env }, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Every Keyward token in a text. */
export function tokensIn(text: string): string[] {
  return text.match(/\bkw_[0-9A-Za-z]{38}\b/g) ?? [];
}

/** Runs main() in this process with a pretend terminal (`isTTY`) and only the given variables. */
export async function runCliInProcess(
  argv: string[],
  isTTY: boolean,
  env: Record<string, string | undefined>,
): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const io: CliIO = {
    stdout: {
      write: (s: string) => {
        stdout += s;
      },
    },
    stderr: {
      write: (s: string) => {
        stderr += s;
      },
    },
    env,
    isTTY,
  };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}
