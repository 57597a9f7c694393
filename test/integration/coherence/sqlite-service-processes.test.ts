import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type ClusterProcess, startClusterProcess } from "../../support/cluster-process.js";
import { createKeyServiceGrpcClient } from "../../support/grpc-client.js";
import { describeCoherence, type Entrance } from "./coherence-suite.js";

/**
 * KEYWARD_SERVICE_PROCESSES=2 on SQLite: two service processes share the
 * ports and one database file. The primary hands connections out in turn,
 * so four connections reach both processes, two each.
 */
const CONNECTIONS = 4;

describeCoherence("two service processes on one SQLite file", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "keyward-cluster-"));
  const cluster: ClusterProcess = await startClusterProcess(dataDir, 2);
  const token = readFileSync(join(dataDir, "service-token"), "utf8").trim();
  const address = `127.0.0.1:${cluster.grpcPort}`;
  // A channel option of its own gives each client its own connection.
  const entrances: Entrance[] = Array.from({ length: CONNECTIONS }, (_, i) => ({
    admin: createKeyServiceGrpcClient(address, {
      token,
      actor: `admin-${i}@example.com`,
      channelOptions: { "keyward-test.connection": `admin-${i}` },
    }),
    caller: createKeyServiceGrpcClient(address, { channelOptions: { "keyward-test.connection": `caller-${i}` } }),
  }));
  return {
    entrances,
    async killOne() {
      const victim = cluster.servicePids()[0] as number;
      process.kill(victim, "SIGKILL");
      // The primary starts another behind the same ports; clients reconnect.
      await sleep(50);
      return entrances;
    },
    async stop() {
      for (const e of entrances) {
        e.admin.close();
        e.caller.close();
      }
      await cluster.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
});
