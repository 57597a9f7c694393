/**
 * What /proc tells bench/replicas.ts about processes it did not write probes
 * into (`keyward service` and its node:cluster workers, PostgreSQL backends):
 * their CPU time, their descendants, and which process holds the server side
 * of a TCP connection (to know which cluster worker a connection reached).
 * Linux only, like the rest of the bench.
 */
import fs from "node:fs";

/** USER_HZ: /proc/<pid>/stat counts CPU in ticks of 10 ms. */
const TICK_MS = 10;

function stat(pid: number): string[] | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) is in parentheses and may hold spaces.
    return text.slice(text.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/** User + system CPU of one process so far, ms (0 when it is gone). */
export function processCpuMs(pid: number): number {
  const fields = stat(pid);
  if (fields === undefined) return 0;
  // After the name: state(3) ppid(4) ... utime(14) stime(15), here shifted by 3.
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

/** Every live process whose parent chain leads to `root`, `root` included. */
export function processTree(root: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = stat(Number(entry));
    if (fields !== undefined) parents.set(Number(entry), Number(fields[1]));
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) {
    for (const [pid, ppid] of parents) if (ppid === out[i]) out.push(pid);
  }
  return out.filter((pid) => parents.has(pid));
}

/** CPU ms of each pid now; `cpuSince` turns two such samples into a total. */
export function cpuSample(pids: readonly number[]): Map<number, number> {
  return new Map(pids.map((pid) => [pid, processCpuMs(pid)]));
}

/** CPU used between two samples by the processes in `later` (a process absent earlier counts from 0). */
export function cpuSince(earlier: Map<number, number>, later: Map<number, number>): number {
  let total = 0;
  for (const [pid, ms] of later) total += Math.max(0, ms - (earlier.get(pid) ?? 0));
  return total;
}

const hexPort = (port: number) => port.toString(16).toUpperCase().padStart(4, "0");

/**
 * The pid among `candidates` holding the server side of the loopback TCP
 * connection from client port `clientPort` to `serverPort`, or undefined.
 */
export function socketOwner(serverPort: number, clientPort: number, candidates: readonly number[]): number | undefined {
  const local = `:${hexPort(serverPort)}`;
  const remote = `:${hexPort(clientPort)}`;
  let inode: string | undefined;
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = fs.readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && f[1]?.endsWith(local) && f[2]?.endsWith(remote)) inode = f[9];
    }
  }
  if (inode === undefined) return undefined;
  const target = `socket:[${inode}]`;
  for (const pid of candidates) {
    let fds: string[] = [];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === target) return pid;
      } catch {
        // closed meanwhile
      }
    }
  }
  return undefined;
}

/** The 1-, 5- and 15-minute load averages. */
export function loadAverage(): [number, number, number] {
  const [a, b, c] = fs.readFileSync("/proc/loadavg", "utf8").split(" ").map(Number);
  return [a ?? Number.NaN, b ?? Number.NaN, c ?? Number.NaN];
}
