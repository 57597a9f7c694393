import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { Logger } from "pino";
import type { KeyService } from "../gen/keyward/v1/key_service_pb.js";
import type { KeysApi, VerifyResult } from "./keys/api.js";
import type { Actor, VerifyCode } from "./keys/model.js";
import type { WebhooksApi } from "./keys/webhooks.js";
import { actorFrom, createServiceAuth } from "./mapping/credentials.js";
import { createErrorMapper } from "./mapping/errors.js";
import {
  createExportInput,
  createKeyInput,
  exportBatchSize,
  keyFilter,
  listAuditInput,
  listExportsInput,
  listKeyLogsInput,
  listKeysInput,
  sweepInput,
  updateExportInput,
  updateKeyInput,
  usageInput,
  verifyInput,
} from "./mapping/from-proto.js";
import { rejectNulCharacters } from "./mapping/nul-characters.js";
import {
  auditEventToProto,
  exportToProto,
  keyLogToProto,
  keyToProto,
  sweepToProto,
  usageToProto,
  verifyResponse,
} from "./mapping/to-proto.js";
import {
  attemptToProto,
  endpointToProto,
  leakAction,
  mailEventToProto,
  pageInput,
  relayInput,
  updateEndpointInput,
} from "./mapping/webhooks.js";

export interface HandlerDeps {
  keys: KeysApi;
  /** Without it (tests of the transports alone) the webhook RPCs answer UNIMPLEMENTED. */
  webhooks?: WebhooksApi;
  /** Called once per VerifyKey answer with its outcome and the seconds it took. */
  observeVerify?: (code: VerifyCode, seconds: number) => void;
  serviceToken: string;
  verifyRequiresAuth: boolean;
  logger: Logger;
}

/**
 * The one implementation of keyward.v1.KeyService that both transports serve.
 * Each handler checks the credential, turns the request into a domain input,
 * makes one domain call and turns the result back; errors are mapped to
 * Connect codes here and nowhere else.
 */
export function createHandlers(deps: HandlerDeps): ServiceImpl<typeof KeyService> {
  const { keys, observeVerify } = deps;
  const webhooks: WebhooksApi =
    deps.webhooks ??
    new Proxy({} as WebhooksApi, {
      get: () => () => Promise.reject(new ConnectError("webhooks are not served here", Code.Unimplemented)),
    });
  const auth = createServiceAuth(deps.serviceToken);
  const toConnectError = createErrorMapper(deps.logger);

  /** A verification's answer, timed from the decoded request. */
  function verified(result: VerifyResult, start: number) {
    observeVerify?.(result.code, (performance.now() - start) / 1000);
    return verifyResponse(result);
  }

  /** An admin RPC: credential, actor, then the body; any throw mapped once. */
  function admin<Req, Res>(rpc: string, body: (req: Req, actor: Actor) => Promise<Res>) {
    return async (req: Req, ctx: HandlerContext): Promise<Res> => {
      try {
        auth.require(ctx.requestHeader);
        rejectNulCharacters(req);
        return await body(req, actorFrom(ctx.requestHeader));
      } catch (error) {
        throw toConnectError(error, rpc);
      }
    };
  }

  return {
    createKey: admin("CreateKey", async (req, actor) => {
      const created = await keys.create(createKeyInput(req), actor);
      return { key: keyToProto(created.key), token: created.token };
    }),

    getKey: admin("GetKey", async (req) => ({ key: keyToProto(await keys.get(req.id)) })),

    listKeys: admin("ListKeys", async (req) => {
      const page = await keys.list(listKeysInput(req));
      return { keys: page.items.map(keyToProto), nextPageToken: page.nextPageToken };
    }),

    countKeys: admin("CountKeys", async (req) => ({ count: BigInt(await keys.count(keyFilter(req))) })),

    updateKey: admin("UpdateKey", async (req, actor) => ({
      key: keyToProto(await keys.update(req.id, updateKeyInput(req), actor)),
    })),

    deleteKey: admin("DeleteKey", async (req, actor) => ({
      key: keyToProto(await keys.delete(req.id, req.reason, actor, { etag: req.etag })),
    })),

    rotateKey: admin("RotateKey", async (req, actor) => {
      const rotated = await keys.rotate(req.id, req.gracePeriodSeconds, actor, { etag: req.etag });
      return { key: keyToProto(rotated.key), token: rotated.token, previousKey: keyToProto(rotated.previous) };
    }),

    // The hot path: no logging, no wrapper closure, and no promise when the
    // domain answers synchronously (a cached key without credits or shared
    // limits). A key that fails verification is a normal answer; only a bad
    // request or a missing credential (when required) is an error.
    verifyKey(req, ctx) {
      try {
        if (deps.verifyRequiresAuth) auth.require(ctx.requestHeader);
        const start = performance.now();
        const answer = keys.verify(verifyInput(req));
        if (answer instanceof Promise) {
          return answer.then(
            (result) => verified(result, start),
            (error: unknown) => {
              throw toConnectError(error, "VerifyKey");
            },
          );
        }
        return verified(answer, start);
      } catch (error) {
        throw toConnectError(error, "VerifyKey");
      }
    },

    getKeyUsage: admin("GetKeyUsage", async (req) => usageToProto(await keys.usage(usageInput(req)))),

    listKeyLogs: admin("ListKeyLogs", async (req) => {
      const page = await keys.logs(listKeyLogsInput(req));
      return { logs: page.items.map(keyLogToProto), nextPageToken: page.nextPageToken };
    }),

    listAuditEvents: admin("ListAuditEvents", async (req) => {
      const page = await keys.audit(listAuditInput(req));
      return { events: page.items.map(auditEventToProto), nextPageToken: page.nextPageToken };
    }),

    createExport: admin("CreateExport", async (req, actor) => ({
      export: exportToProto(await keys.createExport(createExportInput(req), actor)),
    })),

    getExport: admin("GetExport", async (req) => ({ export: exportToProto(await keys.getExport(req.id)) })),

    listExports: admin("ListExports", async (req) => {
      const page = await keys.listExports(listExportsInput(req));
      return { exports: page.items.map(exportToProto), nextPageToken: page.nextPageToken };
    }),

    updateExport: admin("UpdateExport", async (req) => ({
      export: exportToProto(await keys.updateExport(updateExportInput(req))),
    })),

    async *streamExportRows(req, ctx) {
      let rows: ReturnType<KeysApi["exportRows"]>;
      try {
        auth.require(ctx.requestHeader);
        rows = keys.exportRows(req.id, exportBatchSize(req));
      } catch (error) {
        throw toConnectError(error, "StreamExportRows");
      }
      try {
        for await (const batch of rows) {
          // A cancelled call stops reading the store instead of draining it.
          if (ctx.signal.aborted) return;
          yield { keys: batch.keys.map(keyToProto), logs: batch.logs.map(keyLogToProto) };
        }
      } catch (error) {
        throw toConnectError(error, "StreamExportRows");
      }
    },

    runSweep: admin("RunSweep", async (req) => sweepToProto(await keys.sweep(sweepInput(req)))),

    createWebhookEndpoint: admin("CreateWebhookEndpoint", async (req, actor) => {
      const created = await webhooks.createEndpoint(
        { url: req.url, description: req.description, eventTypes: req.eventTypes, enabled: req.enabled },
        actor,
      );
      return { endpoint: endpointToProto(created.endpoint), secret: created.secret };
    }),

    getWebhookEndpoint: admin("GetWebhookEndpoint", async (req) => ({
      endpoint: endpointToProto(await webhooks.getEndpoint(req.id)),
    })),

    listWebhookEndpoints: admin("ListWebhookEndpoints", async (req) => {
      const page = await webhooks.listEndpoints(pageInput(req));
      return { endpoints: page.items.map(endpointToProto), nextPageToken: page.nextPageToken };
    }),

    updateWebhookEndpoint: admin("UpdateWebhookEndpoint", async (req, actor) => ({
      endpoint: endpointToProto(await webhooks.updateEndpoint(req.id, updateEndpointInput(req), actor)),
    })),

    deleteWebhookEndpoint: admin("DeleteWebhookEndpoint", async (req, actor) => ({
      endpoint: endpointToProto(await webhooks.deleteEndpoint(req.id, actor)),
    })),

    listWebhookAttempts: admin("ListWebhookAttempts", async (req) => {
      const page = await webhooks.listAttempts({
        ...pageInput(req),
        endpointId: req.endpointId,
        eventId: req.eventId || undefined,
      });
      return { attempts: page.items.map(attemptToProto), nextPageToken: page.nextPageToken };
    }),

    resendWebhookEvent: admin("ResendWebhookEvent", async (req, actor) => ({
      deliveryId: await webhooks.resend(req.endpointId, req.eventId, actor),
    })),

    relayWebhooks: admin("RelayWebhooks", async (req) => {
      const result = await webhooks.relay(relayInput(req));
      return {
        deliveryIds: result.deliveryIds.map(String),
        mailEvents: result.mailEvents.map(mailEventToProto),
        more: result.more,
      };
    }),

    prepareWebhookDelivery: admin("PrepareWebhookDelivery", async (req) => webhooks.prepare(req.deliveryId)),

    recordWebhookAttempt: admin("RecordWebhookAttempt", async (req) =>
      webhooks.recordAttempt({
        deliveryId: req.deliveryId,
        attempt: req.attempt,
        responseCode: req.responseCode,
        durationMs: req.durationMs,
        error: req.error,
        succeeded: req.succeeded,
        final: req.final,
      }),
    ),

    reportLeak: admin("ReportLeak", async (req, actor) => {
      const result = await keys.reportLeak(
        { token: req.token, url: req.url, source: req.source, action: leakAction(req) },
        actor,
      );
      return { truePositive: result.truePositive, keyId: result.keyId ?? "" };
    }),
  };
}
