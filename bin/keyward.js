#!/usr/bin/env node
// V8's default young generation: --max-semi-space-size=64 raised VerifyKey's p99 on hot keys
// 1.4-2.6x (docs/benchmarks.md, "Effect of --max-semi-space-size").
// The keyward command runs the JavaScript that `npm ci` compiled into dist/ (the `prepare`
// script); `npm run dev -- <command>` runs the TypeScript sources instead.
import { existsSync } from "node:fs";

// `keyward keys list | head` closes the pipe early: that is the reader's choice, not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw error;
  });
}

const compiled = new URL("../dist/cli/main.js", import.meta.url);
if (!existsSync(compiled)) {
  process.stderr.write("keyward: not built yet: run `npm run build` (npm ci does it for you)\n");
  process.exit(1);
}
const { main } = await import(compiled.href);
const code = await main(process.argv.slice(2));
// Done: exit now rather than wait for fetch's idle keep-alive connection to close
// (~150 ms a command). Writes to stdout and stderr have completed: pipes and
// files are synchronous on Linux.
process.exit(code);
