import { KeyStatus } from "../../gen/keyward/v1/key_pb.js";
import { ADMIN_SCOPE } from "../../shared/contract/scopes.js";
import type { KeyServiceClient } from "../../shared/contract/service-client.js";
import { isEmail } from "../mail/address.js";

/**
 * The addresses of the admins: keys with the scope console:admin that still
 * work (active, or merely unused lately) and carry claims.email. One address
 * once, however many keys a person holds.
 */
export async function adminEmails(service: KeyServiceClient): Promise<string[]> {
  const emails = new Map<string, string>();
  let pageToken = "";
  do {
    const page = await service.listKeys({ scope: ADMIN_SCOPE, pageSize: 100, pageToken });
    for (const key of page.keys) {
      if (key.status !== KeyStatus.ACTIVE && key.status !== KeyStatus.INACTIVE) continue;
      const email = key.claims?.email;
      if (typeof email !== "string" || !isEmail(email.trim())) continue;
      const address = email.trim();
      emails.set(address.toLowerCase(), address);
    }
    pageToken = page.nextPageToken;
  } while (pageToken);
  return [...emails.values()];
}
