/**
 * Measurement inside a server under test (the echo baseline and Keyward alike,
 * so both pay the same small cost): event-loop delay, CPU time, GC pauses and
 * memory over a window that the orchestrator opens and closes over IPC.
 *
 * Messages from the parent: {t:"start"} opens a window, {t:"stop"} closes it
 * and answers {t:"window", ...WindowStats}, {t:"exit"} runs `onExit` and exits.
 *
 * With BENCH_CPU_PROFILE=<file> in the environment, V8's sampling profiler
 * (the one behind `node --cpu-prof`, through node:inspector) runs during the
 * window only, and the profile is written to that file after {t:"stop"},
 * followed by {t:"profile", file}. BENCH_CPU_PROFILE_INTERVAL_US sets the
 * sampling interval (default 500 µs).
 */
import fs from "node:fs";
import inspector from "node:inspector";
import { monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks";
import v8 from "node:v8";

export interface WindowStats {
  elapsedMs: number;
  /** Event-loop delay (perf_hooks.monitorEventLoopDelay, 1 ms resolution), ms. */
  eld: { p50: number; p99: number; max: number; mean: number };
  /** CPU time of the whole process (all threads), ms. */
  cpuUserMs: number;
  cpuSystemMs: number;
  gc: { minorCount: number; minorMs: number; majorCount: number; majorMs: number; otherCount: number; otherMs: number };
  /** Current resident set at the window's end, bytes. */
  rss: number;
  /** The process's peak resident set since it started (getrusage ru_maxrss), bytes. */
  maxRss: number;
  heapUsed: number;
  /** V8 new space (two semi-spaces' worth in use), bytes: shows --max-semi-space-size at work. */
  newSpaceSize: number;
}

type ParentMessage = { t: "start" } | { t: "stop" } | { t: "exit" };

/** Installs the IPC handlers; `onExit` closes the server gracefully before the process exits. */
export function installProbe(onExit: () => Promise<void>): void {
  const send = process.send?.bind(process);
  if (send === undefined) throw new Error("the probe needs an IPC channel: start this script with child_process.fork");
  const eld = monitorEventLoopDelay({ resolution: 1 });
  const gc = { minorCount: 0, minorMs: 0, majorCount: 0, majorMs: 0, otherCount: 0, otherMs: 0 };
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as unknown as { detail?: { kind?: number } }).detail?.kind;
      // perf_hooks.constants: NODE_PERFORMANCE_GC_MINOR = 1, MAJOR = 4 (2 incremental, 8 weakcb).
      if (kind === 1) {
        gc.minorCount++;
        gc.minorMs += entry.duration;
      } else if (kind === 4) {
        gc.majorCount++;
        gc.majorMs += entry.duration;
      } else {
        gc.otherCount++;
        gc.otherMs += entry.duration;
      }
    }
  });
  const profileFile = process.env.BENCH_CPU_PROFILE;
  const session = profileFile ? new inspector.Session() : undefined;
  const post = (method: string, params?: object) =>
    new Promise<unknown>((resolve, reject) => {
      session?.post(method, params ?? {}, (error, result) => (error ? reject(error) : resolve(result)));
    });
  if (session) session.connect();
  let windowStart = performance.now();
  let cpuStart = process.cpuUsage();

  process.on("message", (message: ParentMessage) => {
    if (message.t === "start") {
      Object.assign(gc, { minorCount: 0, minorMs: 0, majorCount: 0, majorMs: 0, otherCount: 0, otherMs: 0 });
      observer.observe({ entryTypes: ["gc"] });
      const begin = () => {
        eld.reset();
        eld.enable();
        windowStart = performance.now();
        cpuStart = process.cpuUsage();
        send({ t: "started" });
      };
      if (session) {
        const interval = Number(process.env.BENCH_CPU_PROFILE_INTERVAL_US ?? 500);
        void post("Profiler.enable")
          .then(() => post("Profiler.setSamplingInterval", { interval }))
          .then(() => post("Profiler.start"))
          .then(begin);
      } else begin();
    } else if (message.t === "stop") {
      const elapsedMs = performance.now() - windowStart;
      const cpu = process.cpuUsage(cpuStart);
      eld.disable();
      observer.disconnect();
      const memory = process.memoryUsage();
      const newSpace = v8.getHeapSpaceStatistics().find((s) => s.space_name === "new_space");
      const stats: WindowStats = {
        elapsedMs,
        eld: {
          p50: eld.percentile(50) / 1e6,
          p99: eld.percentile(99) / 1e6,
          max: eld.max / 1e6,
          mean: eld.mean / 1e6,
        },
        cpuUserMs: cpu.user / 1000,
        cpuSystemMs: cpu.system / 1000,
        gc: { ...gc },
        rss: memory.rss,
        maxRss: process.resourceUsage().maxRSS * 1024,
        heapUsed: memory.heapUsed,
        newSpaceSize: newSpace?.space_size ?? 0,
      };
      send({ t: "window", stats });
      if (session && profileFile) {
        void post("Profiler.stop").then((result) => {
          fs.writeFileSync(profileFile, JSON.stringify((result as { profile: unknown }).profile));
          send({ t: "profile", file: profileFile });
        });
      }
    } else if (message.t === "exit") {
      void onExit().finally(() => process.exit(0));
    }
  });
  // An orphaned server (the orchestrator died) must not outlive it.
  process.on("disconnect", () => {
    void onExit().finally(() => process.exit(0));
  });
}
