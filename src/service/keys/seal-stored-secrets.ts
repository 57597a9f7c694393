import type { Logger } from "../../shared/logger.js";
import type { KeyStore, WebhookSecretChange } from "../store/key-store.js";
import type { KeyCursor, WebhookEndpointRecord } from "./model.js";
import { isSealed, type SecretSealer } from "./secret-seal.js";

const PAGE = 500;

/**
 * At the service's start: with KEYWARD_SECRETS_KEY set, seals every webhook
 * secret still stored in plain text (written before the key was set) in one
 * transaction, and logs how many. Without it, warns if any secret is stored
 * unsealed, and says so if some are sealed (their deliveries will fail).
 * Idempotent: sealed rows are left alone, and a row another replica sealed
 * meanwhile is not sealed twice (the store replaces only an unchanged
 * secret). Returns the number sealed.
 */
export async function sealStoredWebhookSecrets(
  store: KeyStore,
  sealer: SecretSealer,
  logger: Pick<Logger, "info" | "warn" | "error">,
): Promise<number> {
  const changes: WebhookSecretChange[] = [];
  let alreadySealed = 0;
  for await (const endpoint of everyEndpoint(store)) {
    if (isSealed(endpoint.secret)) alreadySealed += 1;
    else
      changes.push({ endpointId: endpoint.id, from: endpoint.secret, to: sealer.seal(endpoint.id, endpoint.secret) });
  }
  if (!sealer.sealing) {
    if (changes.length > 0) logger.warn("webhook signing secrets are stored unsealed; set KEYWARD_SECRETS_KEY");
    if (alreadySealed > 0) {
      logger.error(
        { sealedEndpoints: alreadySealed },
        "webhook signing secrets are sealed but KEYWARD_SECRETS_KEY is not set: those endpoints get no deliveries",
      );
    }
    return 0;
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
