import type { Command } from "commander";
import { loadServerConfig } from "../load-config.js";
import type { CommandContext } from "./context.js";

type ProcessKind = "service" | "gateway" | "workers";

const PROCESSES: { name: string; kinds: ProcessKind[]; description: string }[] = [
  {
    name: "start",
    kinds: ["service", "gateway", "workers"],
    description: "run the key service, the gateway and the workers in one process",
  },
  { name: "service", kinds: ["service"], description: "run the key service alone (gRPC and Connect)" },
  { name: "gateway", kinds: ["gateway"], description: "run the admin gateway alone, calling KEYWARD_SERVICE_URL" },
  { name: "workers", kinds: ["workers"], description: "run the background workers alone (exports and sweeps)" },
];

/** `keyward start|service|gateway|workers`: long-running processes, configured by the environment. */
export function registerProcesses(program: Command, ctx: CommandContext): void {
  for (const { name, kinds, description } of PROCESSES) {
    program
      .command(name)
      .description(`${description}; stops gracefully on SIGTERM/SIGINT`)
      .action(async () => {
        const config = await loadServerConfig(ctx.io.env);
        // Loaded on demand: the key commands should not pay for the service's start-up.
        const { runProcess } = await import("../../runtime/run-process.js");
        await runProcess(kinds, config);
      });
  }
}
