import type { LookupAddress } from "node:dns";
import { connect, createServer, type Server } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config.js";
import {
  type AddressGuard,
  createAddressGuard,
  DeniedAddressError,
  type ResolveAll,
} from "../../../src/workers/webhooks/address-guard.js";

const DEFAULT_LIST = loadConfig({}).KEYWARD_WEBHOOK_DENY_CIDRS;

/** A resolver answering from a table, as DNS would for these names. */
function table(names: Record<string, string[]>): ResolveAll {
  return (hostname, _options, callback) => {
    const addresses = names[hostname];
    if (!addresses) return callback(Object.assign(new Error(`no ${hostname}`), { code: "ENOTFOUND" }), []);
    callback(
      null,
      addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 })),
    );
  };
}

const names = table({
  "metadata.google.internal": ["169.254.169.254"],
  "hooks.internal": ["10.1.2.3"],
  "v6.internal": ["fd00:1::7"],
  "aws-v6-metadata.internal": ["fd00:ec2::254"],
  "link-local-v6.internal": ["fe80::1"],
  "mapped.internal": ["::ffff:169.254.169.254"],
  "mapped-hex.internal": ["::ffff:a9fe:a9fe"],
  "this-network.internal": ["0.0.0.0"],
  // The metadata address through a NAT64 gateway (RFC 6052) and a 6to4 relay (RFC 3056).
  "nat64.internal": ["64:ff9b::a9fe:a9fe"],
  "nat64-quad.internal": ["64:ff9b::169.254.169.254"],
  "6to4.internal": ["2002:a9fe:a9fe::1"],
  "nat64-good.internal": ["64:ff9b::a01:203"],
  // Round-robin DNS, or a rebinding name answering a public and the metadata address together.
  "mixed.internal": ["10.1.2.3", "fd00:1::7", "169.254.169.254"],
  "several-good.internal": ["10.1.2.3", "fd00:1::7", "192.168.0.9"],
});

type Looked = { error: NodeJS.ErrnoException | null; address: string | LookupAddress[]; family?: number };

function look(guard: AddressGuard, hostname: string, all = false): Promise<Looked> {
  return new Promise((resolve) =>
    guard.lookup(hostname, { all }, (error, address, family) => resolve({ error, address, family })),
  );
}

describe("the webhook address guard", () => {
  const guard = createAddressGuard(DEFAULT_LIST, names);

  it("refuses names resolving to a denied IPv4 address, naming the address and the variable", async () => {
    for (const name of ["metadata.google.internal", "this-network.internal"]) {
      const { error } = await look(guard, name);
      expect(error, name).toBeInstanceOf(DeniedAddressError);
    }
    const { error } = await look(guard, "metadata.google.internal");
    expect(error?.message).toBe("refused: 169.254.169.254 is in KEYWARD_WEBHOOK_DENY_CIDRS");
    expect(error?.code).toBe("EWEBHOOKDENIED");
  });

  it("refuses denied IPv6 addresses, and IPv4-mapped IPv6 ones of a denied IPv4 range", async () => {
    for (const name of [
      "aws-v6-metadata.internal",
      "link-local-v6.internal",
      "mapped.internal",
      "mapped-hex.internal",
    ]) {
      const { error } = await look(guard, name);
      expect(error, name).toBeInstanceOf(DeniedAddressError);
    }
    expect((await look(guard, "mapped-hex.internal")).error?.message).toBe(
      "refused: ::ffff:a9fe:a9fe is in KEYWARD_WEBHOOK_DENY_CIDRS",
    );
  });

  it("refuses IPv6 addresses that reach a denied IPv4 address through NAT64 or 6to4", async () => {
    for (const name of ["nat64.internal", "nat64-quad.internal", "6to4.internal"]) {
      const { error } = await look(guard, name);
      expect(error, name).toBeInstanceOf(DeniedAddressError);
    }
    expect((await look(guard, "nat64.internal")).error?.message).toBe(
      "refused: 64:ff9b::a9fe:a9fe is in KEYWARD_WEBHOOK_DENY_CIDRS",
    );
    // Through NAT64 to an internal address that is not denied: delivered.
    expect(await look(guard, "nat64-good.internal")).toEqual({ error: null, address: "64:ff9b::a01:203", family: 6 });
    expect(guard.refusal("2002:a01:203::1")).toBeUndefined();
    expect(guard.refusal("::1")).toBeUndefined();
  });

  it("lets internal addresses through, in the shape the caller asked for", async () => {
    expect(await look(guard, "hooks.internal")).toEqual({ error: null, address: "10.1.2.3", family: 4 });
    expect(await look(guard, "v6.internal")).toEqual({ error: null, address: "fd00:1::7", family: 6 });
    expect(await look(guard, "several-good.internal", true)).toEqual({
      error: null,
      address: [
        { address: "10.1.2.3", family: 4 },
        { address: "fd00:1::7", family: 6 },
        { address: "192.168.0.9", family: 4 },
      ],
      family: undefined,
    });
  });

  it("refuses a name when any of its addresses is denied, whichever one a connection would pick", async () => {
    for (const all of [false, true]) {
      const { error } = await look(guard, "mixed.internal", all);
      expect(error?.message).toBe("refused: 169.254.169.254 is in KEYWARD_WEBHOOK_DENY_CIDRS");
    }
  });

  it("passes resolution errors on as they are", async () => {
    const { error } = await look(guard, "nowhere.internal");
    expect(error?.code).toBe("ENOTFOUND");
    expect(error).not.toBeInstanceOf(DeniedAddressError);
  });

  it("refuses nothing with an empty list", async () => {
    const open = createAddressGuard([], names);
    expect(await look(open, "metadata.google.internal")).toEqual({
      error: null,
      address: "169.254.169.254",
      family: 4,
    });
    expect((await look(open, "mixed.internal", true)).error).toBeNull();
    expect(open.refusal("169.254.169.254")).toBeUndefined();
  });

  it("judges literal addresses, which connections never look up", () => {
    expect(guard.refusal("169.254.169.254")?.message).toBe("refused: 169.254.169.254 is in KEYWARD_WEBHOOK_DENY_CIDRS");
    expect(guard.refusal("fd00:ec2::254")).toBeInstanceOf(DeniedAddressError);
    expect(guard.refusal("::ffff:169.254.169.254")).toBeInstanceOf(DeniedAddressError);
    expect(guard.refusal("10.1.2.3")).toBeUndefined();
    expect(guard.refusal("127.0.0.1")).toBeUndefined();
  });
});

describe("the guard on a real connection", () => {
  let server: Server;
  let port = 0;
  let accepted = 0;
  beforeAll(async () => {
    server = createServer((socket) => {
      accepted++;
      socket.end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const dial = (guard: AddressGuard) =>
    new Promise<Error | undefined>((resolve) => {
      const socket = connect({ host: "localhost", port, lookup: guard.lookup });
      socket.once("connect", () => {
        socket.destroy();
        resolve(undefined);
      });
      socket.once("error", resolve);
    });

  it("stops net.connect before it connects, with the system's resolver", async () => {
    const refused = await dial(createAddressGuard(["127.0.0.0/8", "::1/128"]));
    expect(refused).toBeInstanceOf(DeniedAddressError);
    expect(accepted).toBe(0);
    expect(await dial(createAddressGuard(DEFAULT_LIST))).toBeUndefined();
    expect(accepted).toBe(1);
  });
});
