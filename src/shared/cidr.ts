import { BlockList, isIP } from "node:net";

/** Parses `a.b.c.d/n`, `x::/n` or a bare address into its canonical CIDR form, or null. */
export function normalizeCidr(text: string): string | null {
  const [address, prefixText, extra] = text.trim().split("/");
  if (address === undefined || extra !== undefined) return null;
  const family = isIP(address);
  if (family === 0) return null;
  const max = family === 4 ? 32 : 128;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return null;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (prefix > max) return null;
  return `${address.toLowerCase()}/${prefix}`;
}

/** A URL's host when it is a literal IP address (an IPv6 one without its brackets), else undefined. */
export function literalAddressOf(url: URL): string | undefined {
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  return isIP(host) === 0 ? undefined : host;
}

/** Matches addresses against a list of CIDRs: a key's allowlist (built once per cached key), the webhook deny list. */
export class CidrMatcher {
  private readonly list = new BlockList();

  constructor(cidrs: readonly string[]) {
    for (const cidr of cidrs) {
      const [address, prefix] = cidr.split("/") as [string, string];
      this.list.addSubnet(address, Number(prefix), isIP(address) === 4 ? "ipv4" : "ipv6");
    }
  }

  matches(ip: string): boolean {
    const family = isIP(ip);
    if (family === 0) return false;
    // An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is checked as IPv4 too.
    if (family === 6 && ip.toLowerCase().startsWith("::ffff:") && isIP(ip.slice(7)) === 4) {
      return this.list.check(ip.slice(7), "ipv4") || this.list.check(ip, "ipv6");
    }
    return this.list.check(ip, family === 4 ? "ipv4" : "ipv6");
  }
}
