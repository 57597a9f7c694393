import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { create, createFileRegistry, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, file_google_protobuf_wrappers } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { serve } from "@hono/node-server";
import express from "express";
import Fastify from "fastify";
import { Hono } from "hono";
import type { PassedVerification, Verifier } from "../../../src/client/index.js";
import * as connectMw from "../../../src/client/middleware/connect.js";
import * as expressMw from "../../../src/client/middleware/express.js";
import * as fastifyMw from "../../../src/client/middleware/fastify.js";
import * as honoMw from "../../../src/client/middleware/hono.js";
import { ROUTES, type Route } from "./harness.js";

/** The verifiers a test app is built over. */
export interface AppVerifiers {
  /** The real service. */
  main: Verifier;
  /** Nothing answers; onUnavailable "deny". */
  denyDown: Verifier;
  /** Nothing answers; onUnavailable "allow". */
  allowDown: Verifier;
}

/** Routes beyond ROUTES: a custom header, and the two verifiers of a service that is down. */
export type AppRoute = Route | "/header" | "/deny-down" | "/allow-down";

export interface TestApp {
  framework: string;
  /** Sends a request to a route the way the framework's clients do; resolves with the raw HTTP answer. */
  request(route: AppRoute, headers: Record<string, string>): Promise<Response>;
  close(): Promise<void>;
}

/** What every app answers when the middleware let the request through. */
export function passBody(pass: PassedVerification | undefined) {
  return { checked: pass?.checked ?? null, code: pass?.code ?? null, keyId: pass?.checked ? pass.key.id : null };
}

/** Each route's middleware settings, the same for every framework. */
function settings(route: AppRoute, v: AppVerifiers) {
  if (route === "/header") return { verifier: v.main, header: "x-api-key" };
  if (route === "/deny-down") return { verifier: v.denyDown };
  if (route === "/allow-down") return { verifier: v.allowDown };
  return { verifier: v.main, ...ROUTES[route] };
}
const APP_ROUTES: AppRoute[] = [...(Object.keys(ROUTES) as Route[]), "/header", "/deny-down", "/allow-down"];

async function listening(server: Server): Promise<string> {
  if (!server.listening) await once(server, "listening");
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const closeServer = (server: Server) =>
  new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });

export async function startExpressApp(v: AppVerifiers): Promise<TestApp> {
  const app = express();
  for (const route of APP_ROUTES) {
    app.get(route, expressMw.keyward(settings(route, v)), (req, res) => {
      res.json(passBody(req.keyward));
    });
  }
  const server = app.listen(0, "127.0.0.1");
  const base = await listening(server);
  return {
    framework: "express",
    request: (route, headers) => fetch(`${base}${route}?q=1`, { headers }),
    close: () => closeServer(server),
  };
}

export async function startFastifyApp(v: AppVerifiers): Promise<TestApp> {
  const app = Fastify();
  app.decorateRequest("keyward", undefined);
  for (const route of APP_ROUTES) {
    app.get(route, { onRequest: fastifyMw.keyward(settings(route, v)) }, async (request) => passBody(request.keyward));
  }
  const base = await app.listen({ port: 0, host: "127.0.0.1" });
  return {
    framework: "fastify",
    request: (route, headers) => fetch(`${base}${route}?q=1`, { headers }),
    close: () => app.close(),
  };
}

export async function startHonoApp(v: AppVerifiers): Promise<TestApp> {
  const app = new Hono();
  for (const route of APP_ROUTES) {
    app.get(route, honoMw.keyward(settings(route, v)), (c) => c.json(passBody(c.get("keyward"))));
  }
  const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }) as Server;
  const base = await listening(server);
  return {
    framework: "hono",
    request: (route, headers) => fetch(`${base}${route}?q=1`, { headers }),
    close: () => closeServer(server),
  };
}

const CONNECT_METHODS: Record<AppRoute, string> = {
  "/open": "Open",
  "/full": "Full",
  "/domain": "Domain",
  "/scoped": "Scoped",
  "/header": "Header",
  "/deny-down": "DenyDown",
  "/allow-down": "AllowDown",
};

/** A small service built at run time (string in, string out), so the test needs no generated code of its own. */
export function testService(methods: string[]): DescService {
  const file = create(FileDescriptorProtoSchema, {
    name: "clienttest/v1/test.proto",
    package: "clienttest.v1",
    syntax: "proto3",
    dependency: ["google/protobuf/wrappers.proto"],
    service: [
      {
        name: "TestService",
        method: methods.map((name) => ({
          name,
          inputType: ".google.protobuf.StringValue",
          outputType: ".google.protobuf.StringValue",
        })),
      },
    ],
  });
  const registry = createFileRegistry(file, (name) =>
    name === "google/protobuf/wrappers.proto" ? file_google_protobuf_wrappers : undefined,
  );
  const service = registry.getService("clienttest.v1.TestService");
  if (service === undefined) throw new Error("no TestService");
  return service;
}

export async function startConnectApp(v: AppVerifiers): Promise<TestApp> {
  const service = testService(Object.values(CONNECT_METHODS));
  const byMethod = new Map<string, Interceptor>();
  for (const route of APP_ROUTES) byMethod.set(CONNECT_METHODS[route], connectMw.keyward(settings(route, v)));
  // One interceptor per method, as an application would give routes different requirements.
  const perMethod: Interceptor = (next) => {
    const wrapped = new Map([...byMethod].map(([name, interceptor]) => [name, interceptor(next)] as const));
    return (req) => (wrapped.get(req.method.name) ?? next)(req);
  };
  const server = createServer(
    connectNodeAdapter({
      interceptors: [perMethod],
      contextValues: connectMw.keywardContextValues,
      routes: (router) => {
        router.service(
          service,
          Object.fromEntries(
            service.methods.map((m) => [
              m.localName,
              (_req: unknown, ctx: HandlerContext) => ({
                value: JSON.stringify(passBody(ctx.values.get(connectMw.keywardVerification))),
              }),
            ]),
          ) as never,
        );
      },
    }),
  );
  server.listen(0, "127.0.0.1");
  const base = await listening(server);
  return {
    framework: "connect",
    // The Connect protocol, unary, JSON: a POST any HTTP client can make.
    request: (route, headers) =>
      fetch(`${base}/clienttest.v1.TestService/${CONNECT_METHODS[route]}?q=1`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify("hi"),
      }),
    close: () => closeServer(server),
  };
}
