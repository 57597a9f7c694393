import type { Queue } from "bullmq";
import { SWEEP_JOB, SWEEP_SCHEDULER_ID } from "../../shared/queues/queues.js";

/**
 * Creates or updates the one maintenance schedule. Every worker process calls
 * this at start (and after Redis comes back, in case Redis lost its data);
 * the scheduler id is fixed, so however many run there is one schedule and
 * one sweep per period.
 */
export async function scheduleSweeps(queue: Queue, everyMs: number): Promise<void> {
  await queue.upsertJobScheduler(
    SWEEP_SCHEDULER_ID,
    { every: everyMs },
    {
      name: SWEEP_JOB,
      data: {},
      opts: {
        attempts: 3,
        backoff: { type: "exponential", delay: 30_000 },
        removeOnComplete: { count: 100 },
        removeOnFail: { count: 100 },
      },
    },
  );
}
