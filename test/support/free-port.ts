import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/**
 * Ports are drawn below the kernel's ephemeral range: there, no other
 * socket's bind(0) or outgoing connection takes the port between this check
 * and the test's own listen (a port the OS handed out once can be handed out
 * again a moment later, which made a restart in CI fail with "port in use").
 */
const LOWEST = 20_000;
const ABOVE_RANGE = ephemeralRangeStart();

function ephemeralRangeStart(): number {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > LOWEST + 1_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

function canListen(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** A TCP port that was free on 127.0.0.1 a moment ago and that the OS does not hand out on its own. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = LOWEST + Math.floor(Math.random() * (ABOVE_RANGE - LOWEST));
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port found between ${LOWEST} and ${ABOVE_RANGE}`);
}
