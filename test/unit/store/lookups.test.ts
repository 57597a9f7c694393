import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { KeyStore } from "../../../src/service/store/key-store.js";
import { insertKeys, makeKey, storeBackends, type TempStore } from "./store-fixtures.js";

describe.each(storeBackends())("$name store: lookups by hash", (backend) => {
  let temp: TempStore;
  let store: KeyStore;

  beforeEach(async () => {
    temp = await backend.open();
    store = temp.store;
  });

  afterEach(async () => {
    await temp.cleanup();
  });

  it("answers a burst of lookups at once, each with its own key or nothing, repeated hashes too", async () => {
    const keys = Array.from({ length: 300 }, () => makeKey());
    await insertKeys(store, keys);
    const asked = [
      ...keys.map((k) => k.hash),
      ...Array.from({ length: 40 }, (_, i) => `missing-${i}`),
      ...keys.slice(0, 20).map((k) => k.hash),
    ];
    const found = await Promise.all(asked.map((hash) => store.getKeyByHash(hash)));
    for (const [i, hash] of asked.entries()) {
      if (hash.startsWith("missing-")) expect(found[i]).toBeUndefined();
      else expect(found[i]?.hash).toBe(hash);
    }
    expect(found.filter(Boolean).map((k) => k?.id)).toEqual([...keys, ...keys.slice(0, 20)].map((k) => k.id));
  });

  it("keeps answering after a later migration adds a column (a replica of the previous build in a rolling upgrade)", async () => {
    const key = makeKey();
    await insertKeys(store, [key]);
    for (let i = 0; i < 8; i++) expect((await store.getKeyByHash(key.hash))?.id).toBe(key.id);
    await temp.exec("ALTER TABLE keys ADD COLUMN added_by_a_newer_build INTEGER");
    for (let i = 0; i < 8; i++) expect((await store.getKeyByHash(key.hash))?.id).toBe(key.id);
  });
});
