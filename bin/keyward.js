#!/usr/bin/env -S node --max-semi-space-size=64
// --max-semi-space-size: a larger young generation lets VerifyKey's short-lived garbage die
// young; measured in docs/benchmarks.md.
// The keyward command. TypeScript runs through tsx, so there is no build step.
import { register } from "tsx/esm/api";

// `keyward keys list | head` closes the pipe early: that is the reader's choice, not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw error;
  });
}

register();
const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
