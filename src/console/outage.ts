import { useSyncExternalStore } from "react";

/**
 * The gateway's latest "unavailable" answer (HTTP 503: its sessions' Redis or
 * the key service is away), kept until a call succeeds again. A 503 is not a
 * sign-out: the session lives on, so the console stays where it is, says
 * why, and asks again by itself (app.tsx).
 */

let message: string | undefined;
const listeners = new Set<() => void>();
const notify = () => {
  for (const listener of listeners) listener();
};

export function startOutage(text: string): void {
  if (message === text) return;
  message = text;
  notify();
}

/** Whether there was an outage to end: the caller then reloads what it made fail. */
export function endOutage(): boolean {
  if (message === undefined) return false;
  message = undefined;
  notify();
  return true;
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The outage's message, or undefined while the gateway answers. */
export function useOutage(): string | undefined {
  return useSyncExternalStore(subscribe, () => message);
}
