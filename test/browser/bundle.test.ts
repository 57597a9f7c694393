/**
 * The built console (dist/console, from `npm run build`): what the first
 * page loads stays under 300 KB of gzipped JS, and nothing comes from
 * another origin (no CDN, no font or script service).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { ROOT } from "./harness.js";

const DIR = join(ROOT, "dist/console");

function built(): string {
  if (!existsSync(join(DIR, "index.html"))) {
    throw new Error("dist/console is not built: run `npm run build` (npm test and npm ci do)");
  }
  return readFileSync(join(DIR, "index.html"), "utf8");
}

describe("the built console", () => {
  it("loads under 300 KB of gzipped JS before its first page", () => {
    const html = built();
    const scripts = [
      ...html.matchAll(/<script[^>]+src="\/([^"]+)"/g),
      ...html.matchAll(/<link[^>]+rel="modulepreload"[^>]+href="\/([^"]+)"/g),
    ].map((m) => m[1] as string);
    expect(scripts.length).toBeGreaterThan(0);
    const gzipped = scripts.reduce((sum, file) => sum + gzipSync(readFileSync(join(DIR, file))).length, 0);
    expect(gzipped).toBeLessThan(300 * 1024);
  });

  it("names no other origin: every asset is the gateway's own", () => {
    const html = built();
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    for (const file of readdirSync(join(DIR, "assets")).filter((f) => f.endsWith(".css"))) {
      expect(readFileSync(join(DIR, "assets", file), "utf8")).not.toMatch(/url\(\s*["']?(https?:)?\/\//);
    }
    // Hashed names, so that the gateway can let browsers keep them for a year.
    for (const file of readdirSync(join(DIR, "assets"))) expect(file).toMatch(/-[A-Za-z0-9_-]{8}\.(js|css)$/);
  });
});
