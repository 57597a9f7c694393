import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { ThrottledWarning } from "../../../src/service/limits/throttled-warning.js";

function capture() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

describe("ThrottledWarning", () => {
  it("logs at most one warn line per interval, counting the ones it held back", () => {
    const { logger, lines } = capture();
    let now = 0;
    const warning = new ThrottledWarning(logger, "redis down", 10_000, () => now);
    for (let i = 0; i < 1_000; i++) {
      warning.note(new Error("ECONNREFUSED"));
      now += 5; // 1,000 failures over 5 s
    }
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 40, msg: "redis down", suppressed: 0 });

    now = 10_000;
    warning.note(new Error("ECONNREFUSED"));
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({ suppressed: 999 });
  });

  it("reports recovery once per failure, without shortening the interval", () => {
    const { logger, lines } = capture();
    let now = 0;
    const warning = new ThrottledWarning(logger, "redis down", 10_000, () => now);
    expect(warning.recovered()).toBe(false);
    warning.note(new Error("down"));
    expect(warning.recovered()).toBe(true);
    expect(warning.recovered()).toBe(false);
    now = 1_000;
    warning.note(new Error("down again"));
    expect(lines).toHaveLength(1);
  });
});
