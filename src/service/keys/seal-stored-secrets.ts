import type { Logger } from "../../shared/logger.js";
import type { KeyStore, WebhookSecretChange } from "../store/key-store.js";
import type { KeyCursor, WebhookEndpointRecord } from "./model.js";
import { isSealed, type SecretSealer } from "./secret-seal.js";

const PAGE = 500;

/**
 * At the service's start: with KEYWARD_SECRETS_KEY set, seals every webhook
 * secret still stored in plain text (written before the key was set) in one
 * transaction, and logs how many; without it, warns once if any endpoint
 * exists. Idempotent: sealed rows are left alone, and a row another replica
 * sealed meanwhile is not sealed twice (the store replaces only an unchanged
 * secret). Returns the number sealed.
 */
export async function sealStoredWebhookSecrets(
  store: KeyStore,
  sealer: SecretSealer,
  logger: Pick<Logger, "info" | "warn">,
): Promise<number> {
  if (!sealer.sealing) {
    const [any] = await store.listWebhookEndpoints(1);
    if (any) logger.warn("webhook signing secrets are stored unsealed; set KEYWARD_SECRETS_KEY");
    return 0;
  }
  const changes: WebhookSecretChange[] = [];
  for await (const endpoint of everyEndpoint(store)) {
    if (isSealed(endpoint.secret)) continue;
    changes.push({ endpointId: endpoint.id, from: endpoint.secret, to: sealer.seal(endpoint.id, endpoint.secret) });
  }
  const sealed = changes.length === 0 ? 0 : await store.replaceWebhookSecrets(changes);
  logger.info({ sealed }, "webhook signing secrets sealed with KEYWARD_SECRETS_KEY");
  return sealed;
}

async function* everyEndpoint(store: KeyStore): AsyncGenerator<WebhookEndpointRecord> {
  let after: KeyCursor | undefined;
  for (;;) {
    const page = await store.listWebhookEndpoints(PAGE, after);
    yield* page;
    const last = page[page.length - 1];
    if (page.length < PAGE || !last) return;
    after = { createdAt: last.createdAt, id: last.id };
  }
}
