#!/usr/bin/env node
// `npm run dev -- <command>`: the keyward command from the TypeScript sources, through tsx.
import { register } from "tsx/esm/api";

for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw error;
  });
}

register();
const { main } = await import("../src/cli/main.ts");
const code = await main(process.argv.slice(2));
// Done: exit now rather than wait for fetch's idle keep-alive connection to close
// (~150 ms a command). Writes to stdout and stderr have completed: pipes and
// files are synchronous on Linux.
process.exit(code);
