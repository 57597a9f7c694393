import type Database from "better-sqlite3";

export interface CreditStatements {
  /** Each spend is one conditional UPDATE, in order, in one transaction. */
  spendMany(spends: readonly { keyId: string; cost: number }[]): (number | null)[];
  /** Sets the balance to `amount` if the key was last refilled at `expected`; false if someone else refilled. */
  refill(keyId: string, amount: number, at: number, expected: number | null): boolean;
  /** Refills every key whose last refill is before its interval's latest refill moment; returns their ids. */
  refillDue(at: number, dailyMoment: number, monthlyMoments: readonly number[]): string[];
}

/**
 * Credit balances. Spends are committed with synchronous=NORMAL: in WAL mode
 * a committed transaction then survives the process being killed (the WAL is
 * in the OS page cache) and is fsynced with the next FULL commit or
 * checkpoint; only a power loss in between can roll it back. A FULL fsync
 * costs about 5 ms here, which would cap credit verifications at ~200/s.
 */
export function createCreditStatements(db: Database.Database): CreditStatements {
  const spend = db
    .prepare<[number, string, number], number>(
      `UPDATE keys SET remaining = remaining - ?
        WHERE id = ? AND remaining IS NOT NULL AND remaining >= ?
        RETURNING remaining`,
    )
    .pluck();
  const remainingOf = db.prepare<[string], { remaining: number | null }>("SELECT remaining FROM keys WHERE id = ?");
  const spendTx = db.transaction((spends: readonly { keyId: string; cost: number }[]) =>
    spends.map(({ keyId, cost }) => {
      const after = spend.get(cost, keyId, cost);
      if (after !== undefined) return after;
      const current = remainingOf.get(keyId);
      if (current === undefined) return null;
      return current.remaining === null ? Number.POSITIVE_INFINITY : null;
    }),
  );
  const refillOne = db.prepare<[{ keyId: string; amount: number; at: number; expected: number | null }]>(
    `UPDATE keys
        SET remaining = @amount, refill = json_set(refill, '$.lastRefillAt', @at), version = version + 1
      WHERE id = @keyId AND refill IS NOT NULL
        AND json_extract(refill, '$.lastRefillAt') IS @expected`,
  );
  const refillAll = db.prepare<[{ at: number; daily: number; monthly: string }], string>(
    `UPDATE keys
        SET remaining = json_extract(refill, '$.amount'), refill = json_set(refill, '$.lastRefillAt', @at),
            version = version + 1
      WHERE refill IS NOT NULL AND revoked_at IS NULL
        AND coalesce(json_extract(refill, '$.lastRefillAt'), 0) < CASE json_extract(refill, '$.interval')
              WHEN 'daily' THEN @daily
              ELSE json_extract(@monthly, '$[' || (json_extract(refill, '$.dayOfMonth') - 1) || ']')
            END
      RETURNING id`,
  );
  const pluckedRefillAll = refillAll.pluck();

  function withNormalSync<T>(work: () => T): T {
    db.pragma("synchronous = NORMAL");
    try {
      return work();
    } finally {
      db.pragma("synchronous = FULL");
    }
  }

  return {
    spendMany(spends) {
      for (const { cost } of spends) {
        if (!Number.isInteger(cost) || cost < 0)
          throw new RangeError(`cost must be a non-negative integer, got ${cost}`);
      }
      return withNormalSync(() => spendTx(spends));
    },
    refill(keyId, amount, at, expected) {
      return refillOne.run({ keyId, amount, at, expected }).changes === 1;
    },
    refillDue(at, dailyMoment, monthlyMoments) {
      return pluckedRefillAll.all({ at, daily: dailyMoment, monthly: JSON.stringify(monthlyMoments) });
    },
  };
}
