import { resolve } from "node:path";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

/** The web console: built into dist/console, which the gateway serves at / (src/gateway/console-web.ts). */
export default defineConfig({
  root: import.meta.dirname,
  base: "/",
  plugins: [react()],
  // Only the page's own files: no CDN, no public/ folder to copy.
  publicDir: false,
  build: {
    outDir: resolve(import.meta.dirname, "../../dist/console"),
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    // The gateway's CSP allows no inline script or style: every asset is a file.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    target: "es2022",
    reportCompressedSize: true,
  },
});
