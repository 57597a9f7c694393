import { type Logger, pino } from "pino";

export type { Logger };

/**
 * The one logger factory. Tokens never reach it: no call site logs a request
 * body, and the redaction below is a second line of defence for header-shaped
 * fields.
 */
export function createLogger(level: string, name = "keyward", fd: 1 | 2 = 1): Logger {
  return pino(
    {
      name,
      level,
      redact: {
        paths: ["token", "*.token", "authorization", "*.authorization", "headers.authorization"],
        censor: "[redacted]",
      },
    },
    pino.destination({ fd, sync: true }),
  );
}
