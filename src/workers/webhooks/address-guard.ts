import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from "node:dns";
import type { LookupFunction } from "node:net";
import { CidrMatcher } from "../../shared/cidr.js";

/** What a delivery to a denied address fails with; its message is the attempt's recorded error. */
export class DeniedAddressError extends Error {
  readonly code = "EWEBHOOKDENIED";

  constructor(readonly address: string) {
    super(`refused: ${address} is in KEYWARD_WEBHOOK_DENY_CIDRS`);
    this.name = "DeniedAddressError";
  }
}

/** The resolver the guard asks: dns.lookup, or a stand-in in tests. */
export type ResolveAll = (
  hostname: string,
  options: LookupAllOptions,
  callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

export interface AddressGuard {
  /** The refusal for an address in the deny list, or undefined. */
  refusal(address: string): DeniedAddressError | undefined;
  /**
   * A `lookup` for net/tls connections: resolves every address of the name
   * and refuses the connection when any of them is denied, so that what is
   * checked is what the socket connects to (a name re-pointed at a denied
   * address between two deliveries, DNS rebinding, is caught too).
   */
  lookup: LookupFunction;
}

export function createAddressGuard(denyCidrs: readonly string[], resolve: ResolveAll = dnsLookup): AddressGuard {
  const denied = new CidrMatcher(denyCidrs, { throughTranslators: true });
  const refusal = (address: string) => (denied.matches(address) ? new DeniedAddressError(address) : undefined);
  const lookup: LookupFunction = (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, "");
      // Any denied one refuses the name: connecting tries the addresses in turn, and any may be the one it reaches.
      for (const { address } of addresses) {
        const refused = refusal(address);
        if (refused) return callback(refused, "");
      }
      const first = addresses[0];
      if (options.all) return callback(null, addresses);
      if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: "ENOTFOUND" }), "");
      return callback(null, first.address, first.family);
    });
  };
  return { refusal, lookup };
}
