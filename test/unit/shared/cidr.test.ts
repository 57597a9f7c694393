import { describe, expect, it } from "vitest";
import { CidrMatcher, normalizeCidr, translatedIpv4 } from "../../../src/shared/cidr.js";

describe("CIDR allowlists", () => {
  it("normalise addresses and ranges and refuse anything else", () => {
    expect(normalizeCidr("10.0.0.0/8")).toBe("10.0.0.0/8");
    expect(normalizeCidr(" 192.168.1.7 ")).toBe("192.168.1.7/32");
    expect(normalizeCidr("2001:DB8::/32")).toBe("2001:db8::/32");
    expect(normalizeCidr("::1")).toBe("::1/128");
    for (const bad of ["10.0.0.0/33", "::/129", "10.0.0/8", "banana", "10.0.0.0/8/8", "10.0.0.0/-1", "10.0.0.0/"]) {
      expect(normalizeCidr(bad), bad).toBeNull();
    }
  });

  it("match IPv4, IPv6 and IPv4-mapped IPv6 addresses", () => {
    const m = new CidrMatcher(["10.0.0.0/8", "2001:db8::/32"]);
    expect(m.matches("10.200.3.4")).toBe(true);
    expect(m.matches("11.0.0.1")).toBe(false);
    expect(m.matches("2001:db8:1::5")).toBe(true);
    expect(m.matches("2001:db9::1")).toBe(false);
    expect(m.matches("::ffff:10.1.1.1")).toBe(true);
    // The same address as URLs write it (new URL("http://[::ffff:10.1.1.1]/").hostname).
    expect(m.matches("::ffff:a01:101")).toBe(true);
    expect(m.matches("::ffff:b00:1")).toBe(false);
    expect(m.matches("not an ip")).toBe(false);
  });

  it("read the IPv4 address a NAT64 or 6to4 address reaches, in any IPv6 spelling", () => {
    expect(translatedIpv4("64:ff9b::a9fe:a9fe")).toBe("169.254.169.254");
    expect(translatedIpv4("64:ff9b::169.254.169.254")).toBe("169.254.169.254");
    expect(translatedIpv4("64:FF9B:0:0:0:0:a01:203")).toBe("10.1.2.3");
    expect(translatedIpv4("2002:a9fe:a9fe::1")).toBe("169.254.169.254");
    expect(translatedIpv4("2002:a9fe:a9fe:1:2:3:4:5")).toBe("169.254.169.254");
    for (const other of ["::1", "::", "fe80::1", "64:ff9b:1::a9fe:a9fe", "2001:db8::1", "10.0.0.1", "nope"]) {
      expect(translatedIpv4(other), other).toBeUndefined();
    }
  });

  it("match through translators only when asked: deny lists do, a key's allowlist does not", () => {
    const deny = new CidrMatcher(["169.254.0.0/16"], { throughTranslators: true });
    expect(deny.matches("64:ff9b::a9fe:a9fe")).toBe(true);
    expect(deny.matches("2002:a9fe:1::")).toBe(true);
    expect(deny.matches("64:ff9b::a01:203")).toBe(false);
    const allow = new CidrMatcher(["169.254.0.0/16"]);
    expect(allow.matches("64:ff9b::a9fe:a9fe")).toBe(false);
  });
});
