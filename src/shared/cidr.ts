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

/** An IPv6 address's eight 16-bit words (a trailing dotted quad counts as two); undefined when it is not IPv6. */
function ipv6Words(ip: string): number[] | undefined {
  if (isIP(ip) !== 6) return undefined;
  let text = ip.toLowerCase().split("%")[0] as string;
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split("::") as [string, string | undefined];
  const words = (part: string | undefined) => (part ? part.split(":").map((w) => Number.parseInt(w, 16)) : []);
  const front = words(head);
  if (tail === undefined) return front;
  const back = words(tail);
  return [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
}

const quadOf = (high: number, low: number) => `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;

/**
 * The IPv4 address an IPv6 address reaches through a translator or tunnel:
 * NAT64's well-known prefix (64:ff9b::/96, RFC 6052) and 6to4 (2002::/16,
 * RFC 3056). A connection to 64:ff9b::a9fe:a9fe lands on 169.254.169.254 where
 * a NAT64 gateway runs, so a deny list of IPv4 ranges must see through it.
 * (IPv4-mapped addresses, ::ffff:0:0/96, node:net's BlockList matches itself.)
 */
export function translatedIpv4(ip: string): string | undefined {
  const w = ipv6Words(ip);
  if (!w) return undefined;
  if (w[0] === 0x64 && w[1] === 0xff9b && w[2] === 0 && w[3] === 0 && w[4] === 0 && w[5] === 0) {
    return quadOf(w[6] as number, w[7] as number);
  }
  if (w[0] === 0x2002) return quadOf(w[1] as number, w[2] as number);
  return undefined;
}

/** Matches addresses against a list of CIDRs: a key's allowlist (built once per cached key), the webhook deny list. */
export class CidrMatcher {
  private readonly list = new BlockList();

  /**
   * `throughTranslators`: an IPv6 address also matches by the IPv4 address it
   * reaches (translatedIpv4): for a list of destinations to refuse. A key's
   * allowlist leaves it off: a client's address is where it connects from.
   */
  constructor(
    cidrs: readonly string[],
    private readonly options: { throughTranslators?: boolean } = {},
  ) {
    for (const cidr of cidrs) {
      const [address, prefix] = cidr.split("/") as [string, string];
      this.list.addSubnet(address, Number(prefix), isIP(address) === 4 ? "ipv4" : "ipv6");
    }
  }

  matches(ip: string): boolean {
    const family = isIP(ip);
    if (family === 0) return false;
    // BlockList matches an IPv4-mapped IPv6 address (::ffff:a.b.c.d, or in hex) against IPv4 ranges itself.
    if (this.list.check(ip, family === 4 ? "ipv4" : "ipv6")) return true;
    const reached = this.options.throughTranslators && family === 6 ? translatedIpv4(ip) : undefined;
    return reached !== undefined && this.list.check(reached, "ipv4");
  }
}
