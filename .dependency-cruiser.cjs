/**
 * Who may import whom: the rules of docs/architecture.md, checked by
 * `npm run lint:architecture` (part of `npm test`). A wrong import fails with
 * the rule's name and the comment below.
 */
module.exports = {
  forbidden: [
    {
      name: "gen-is-generated",
      comment: "src/gen is generated from proto/ and imports nothing of ours",
      severity: "error",
      from: { path: "^src/gen/" },
      to: { path: "^src/", pathNot: "^src/gen/" },
    },
    {
      name: "shared-is-a-leaf",
      comment: "src/shared holds what several parts use; it imports only the contract and other shared modules",
      severity: "error",
      from: { path: "^src/shared/" },
      to: { path: "^src/(service|gateway|workers|cli|runtime|console)/" },
    },
    {
      name: "service-stands-alone",
      comment: "the service owns the data; it imports only the contract, src/shared and the config",
      severity: "error",
      from: { path: "^src/service/" },
      to: { path: "^src/(gateway|workers|cli|runtime|console)/" },
    },
    {
      name: "gateway-not-workers",
      comment: "the gateway talks to the workers through Redis queues defined in src/shared, never through their code",
      severity: "error",
      from: { path: "^src/gateway/" },
      to: { path: "^src/(service|workers|cli|runtime|console)/" },
    },
    {
      name: "workers-not-gateway",
      comment: "the workers call the service through the shared client; they import nothing of the gateway",
      severity: "error",
      from: { path: "^src/workers/" },
      to: { path: "^src/(service|gateway|cli|runtime|console)/" },
    },
    {
      name: "cli-is-a-client",
      comment:
        "the CLI is a client of the gateway (its router only as a type); `keyward start` reaches the parts through src/runtime",
      severity: "error",
      from: { path: "^src/cli/" },
      to: { path: "^src/(service|workers|console)/" },
    },
    {
      name: "cli-types-only-from-gateway",
      comment: "the CLI may name the gateway's router and answer shapes as types, nothing that runs",
      severity: "error",
      from: { path: "^src/cli/" },
      to: { path: "^src/gateway/", dependencyTypesNot: ["type-only"] },
    },
    {
      name: "client-stands-alone",
      comment:
        "src/client is keyward/client, shipped to other services: it imports only the generated contract and its own files",
      severity: "error",
      from: { path: "^src/client/" },
      to: { path: "^src/", pathNot: "^src/(client|gen)/" },
    },
    {
      name: "client-core-no-frameworks",
      comment:
        "keyward/client itself loads no web framework; each middleware under src/client/middleware/ imports only its own",
      severity: "error",
      from: { path: "^src/client/", pathNot: "^src/client/middleware/" },
      to: { path: "(^|/)node_modules/(express|fastify|hono|@hono/node-server|@connectrpc/)" },
    },
    {
      name: "nothing-imports-the-client",
      comment: "the client is for other services; Keyward's own parts talk to the service through src/shared",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/client/" },
      to: { path: "^src/client/" },
    },
    {
      name: "console-is-a-browser-client",
      comment:
        "the web console runs in browsers: of our code it may import src/shared/contract and the gateway's AppRouter type, nothing else",
      severity: "error",
      from: { path: "^src/console/" },
      to: { path: "^src/", pathNot: ["^src/console/", "^src/shared/contract/", "^src/gateway/routers/_app\\.ts$"] },
    },
    {
      name: "console-types-only-from-gateway",
      comment: "the console names the gateway's AppRouter as a type only: nothing of the server is bundled",
      severity: "error",
      from: { path: "^src/console/" },
      to: { path: "^src/gateway/", dependencyTypesNot: ["type-only"] },
    },
    {
      name: "console-not-node",
      comment: "the console is bundled for browsers: no Node built-ins (its vite.config.ts runs in Node and may)",
      severity: "error",
      from: { path: "^src/console/", pathNot: "^src/console/vite\\.config\\.ts$" },
      to: { dependencyTypes: ["core"] },
    },
    {
      name: "no-circular",
      comment: "a cycle makes two modules one; split what they share into a third",
      severity: "error",
      from: { path: "^src/" },
      to: { circular: true, viaOnly: { dependencyTypesNot: ["type-only"] } },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^src/gen/.*_pb\\.ts$" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { exportsFields: ["exports"], conditionNames: ["import", "require", "node", "default"] },
  },
};
