import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config.js";
import { type RunningGateway, startGateway } from "../../../src/gateway/server.js";
import { createLogger } from "../../../src/shared/logger.js";
import { type Harness, startHarness } from "./harness.js";

/** The gateway never hangs on the service and never blames the admin for the service's trouble. */
const config = loadConfig({ KEYWARD_GATEWAY_PORT: "0", LOG_LEVEL: "silent" });
const logger = createLogger("silent");
const token = `kw_${"A".repeat(38)}`;

async function status(
  gateway: RunningGateway,
): Promise<{ status: number; ms: number; body: { error: { message: string } } }> {
  const started = Date.now();
  const res = await fetch(`http://127.0.0.1:${gateway.port}/trpc/keys.list`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return { status: res.status, ms: Date.now() - started, body: (await res.json()) as { error: { message: string } } };
}

describe("service outage", () => {
  let hanging: Server;
  let hangingPort: number;
  beforeAll(async () => {
    // Accepts the request and never answers.
    hanging = createServer(() => {});
    await new Promise<void>((resolve) => hanging.listen(0, "127.0.0.1", resolve));
    hangingPort = (hanging.address() as AddressInfo).port;
  });
  afterAll(async () => {
    hanging.closeAllConnections();
    await new Promise((resolve) => hanging.close(resolve));
  });

  it("a service that is down is a 503", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const gateway = await startGateway(config, {
      logger,
      serviceToken: "x".repeat(32),
      serviceUrl: `http://127.0.0.1:${port}`,
    });
    try {
      const answer = await status(gateway);
      expect(answer.status).toBe(503);
      expect(answer.body.error.message).toMatch(/unavailable/);
    } finally {
      await gateway.close();
    }
  });

  it("a service that does not answer is a 503 at the deadline, not a hang", async () => {
    const gateway = await startGateway(config, {
      logger,
      serviceToken: "x".repeat(32),
      serviceUrl: `http://127.0.0.1:${hangingPort}`,
      serviceTimeoutMs: 300,
    });
    try {
      const answer = await status(gateway);
      expect(answer.status).toBe(503);
      expect(answer.ms).toBeLessThan(3000);
      expect(answer.body.error.message).toMatch(/did not answer in time/);
    } finally {
      await gateway.close();
    }
  });

  describe("with a wrong service credential", () => {
    let h: Harness;
    beforeAll(async () => {
      h = await startHarness({ startGateway: false });
    });
    afterAll(async () => {
      await h.close();
    });

    it("is a 503 (the operator's problem), not a 401 (the admin's)", async () => {
      const admin = await h.consoleKey("admin");
      const gateway = await startGateway(config, {
        logger,
        serviceToken: "wrong-".repeat(8),
        serviceUrl: h.serviceUrl,
      });
      try {
        const res = await fetch(`http://127.0.0.1:${gateway.port}/trpc/me`, {
          headers: { authorization: `Bearer ${admin.token}` },
        });
        // VerifyKey is open by default, so sign-in works; the admin RPC behind keys.list is refused.
        expect(res.status).toBe(200);
        const list = await fetch(`http://127.0.0.1:${gateway.port}/trpc/keys.list`, {
          headers: { authorization: `Bearer ${admin.token}` },
        });
        expect(list.status).toBe(503);
        const body = (await list.json()) as { error: { message: string } };
        expect(body.error.message).toMatch(/service token/);
      } finally {
        await gateway.close();
      }
    });
  });

  it("a port in use is a clear start error", async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
    const port = (busy.address() as AddressInfo).port;
    try {
      const taken = loadConfig({ KEYWARD_GATEWAY_PORT: String(port), LOG_LEVEL: "silent" });
      await expect(startGateway(taken, { logger, serviceToken: "x".repeat(32) })).rejects.toThrow(
        /port is in use\. Is another Keyward running\? Stop it, or choose another port with KEYWARD_GATEWAY_PORT/,
      );
    } finally {
      await new Promise((resolve) => busy.close(resolve));
    }
  });

  it("close() lets an in-flight request finish", async () => {
    const h = await startHarness();
    try {
      const admin = await h.consoleKey("admin");
      const inFlight = fetch(`${h.url}/trpc/keys.list`, { headers: { authorization: `Bearer ${admin.token}` } });
      // Long enough for the connection to be accepted on a loaded machine; the answer itself waits on the service.
      await new Promise((r) => setTimeout(r, 30));
      const closing = h.close();
      expect((await inFlight).status).toBe(200);
      await closing;
    } finally {
      await h.close();
    }
  });
});
