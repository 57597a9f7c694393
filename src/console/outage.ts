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

export function inOutage(): boolean {
  return message !== undefined;
}

export function endOutage(): void {
  if (message === undefined) return;
  message = undefined;
  notify();
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The outage's message, or undefined while the gateway answers. */
export function useOutage(): string | undefined {
  return useSyncExternalStore(subscribe, () => message);
}
