import type { Logger } from "../../shared/logger.js";
import type { KeyStore, WebhookSecretChange } from "../store/key-store.js";
import type { KeyCursor, WebhookEndpointRecord } from "./model.js";
import { isSealed, type SecretSealer } from "./secret-seal.js";

const PAGE = 500;

/**
 * At the service's start: with KEYWARD_SECRETS_KEY set, seals every webhook
 * secret still stored in plain text (written before the key was set) and
 * seals again under it every secret that only a KEYWARD_SECRETS_KEY_PREVIOUS
 * key opens (a rotation), one transaction for each of the two, and logs how
 * many of each (sealed, resealed); secrets no configured key opens are
 * counted in an error line (their deliveries fail). Without a key, warns if
 * any secret is stored unsealed, and says so if some are sealed. Idempotent:
 * a row another replica changed meanwhile is not changed twice (the store
 * replaces only an unchanged secret). Returns the number of rows written.
 */
export async function sealStoredWebhookSecrets(
  store: KeyStore,
  sealer: SecretSealer,
  logger: Pick<Logger, "info" | "warn" | "error">,
): Promise<number> {
  const plain: WebhookSecretChange[] = [];
  const stale: WebhookSecretChange[] = [];
  let unopenable = 0;
  let alreadySealed = 0;
  for await (const endpoint of everyEndpoint(store)) {
    if (!isSealed(endpoint.secret)) {
      plain.push({ endpointId: endpoint.id, from: endpoint.secret, to: sealer.seal(endpoint.id, endpoint.secret) });
      continue;
    }
    alreadySealed += 1;
    const opened = sealer.open(endpoint.id, endpoint.secret);
    if (!opened.ok) unopenable += 1;
    else if (opened.stale) {
      stale.push({ endpointId: endpoint.id, from: endpoint.secret, to: sealer.seal(endpoint.id, opened.secret) });
    }
  }
  if (!sealer.sealing) {
    if (plain.length > 0) logger.warn("webhook signing secrets are stored unsealed; set KEYWARD_SECRETS_KEY");
    if (alreadySealed > 0) {
      logger.error(
        { sealedEndpoints: alreadySealed },
        "webhook signing secrets are sealed but KEYWARD_SECRETS_KEY is not set: those endpoints get no deliveries",
      );
    }
    return 0;
  }
  if (unopenable > 0) {
    logger.error(
      { endpoints: unopenable },
      "webhook signing secrets sealed with a key that is neither KEYWARD_SECRETS_KEY nor in KEYWARD_SECRETS_KEY_PREVIOUS: those endpoints get no deliveries",
    );
  }
  const sealed = plain.length === 0 ? 0 : await store.replaceWebhookSecrets(plain);
  const resealed = stale.length === 0 ? 0 : await store.replaceWebhookSecrets(stale);
  logger.info({ sealed, resealed }, "webhook signing secrets sealed with KEYWARD_SECRETS_KEY");
  return sealed + resealed;
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
