import type { PgDatabase, Queryable } from "./database.js";

/**
 * Credit balances, as sqlite/credits.ts: each spend is one conditional
 * UPDATE; a refill lands only if the last refill is still the one expected.
 * Commits are synchronous (durable when the promise resolves); a batch of
 * spends is one transaction, so one commit.
 */

// The balance after the spend; when nothing was spent, whether the key has
// no limit (NULL when the key does not exist).
const SPEND = `
  WITH spent AS (
    UPDATE keys SET remaining = remaining - $1::bigint
     WHERE id = $2::text AND remaining IS NOT NULL AND remaining >= $1::bigint
     RETURNING remaining
  )
  SELECT (SELECT remaining FROM spent) AS after,
         (SELECT remaining IS NULL FROM keys WHERE id = $2::text) AS unlimited`;

async function spendOne(q: Queryable, keyId: string, cost: number): Promise<number | null> {
  const [row] = await q.query<{ after: number | null; unlimited: boolean | null }>(SPEND, [cost, keyId]);
  if (row === undefined) return null;
  if (row.after !== null) return row.after;
  return row.unlimited === true ? Number.POSITIVE_INFINITY : null;
}

/** Each spend as spendCredits, in order, in one transaction; returns the balances after. */
export async function spendMany(
  db: PgDatabase,
  spends: readonly { keyId: string; cost: number }[],
): Promise<(number | null)[]> {
  for (const { cost } of spends) {
    if (!Number.isInteger(cost) || cost < 0) throw new RangeError(`cost must be a non-negative integer, got ${cost}`);
  }
  if (spends.length === 0) return [];
  // One statement is its own transaction.
  if (spends.length === 1) {
    const [spend] = spends as [{ keyId: string; cost: number }];
    return [await spendOne(db, spend.keyId, spend.cost)];
  }
  const ids = [...new Set(spends.map((spend) => spend.keyId))].sort();
  return db.transaction(async (tx) => {
    // Rows are locked in id order first: two batches over the same keys
    // then queue instead of deadlocking.
    await tx.run("SELECT 1 FROM keys WHERE id = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE", [ids]);
    const results: (number | null)[] = [];
    for (const { keyId, cost } of spends) results.push(await spendOne(tx, keyId, cost));
    return results;
  });
}

/** Sets the balance to `amount` if the key was last refilled at `expected`; false if someone else refilled. */
export async function refill(
  db: PgDatabase,
  keyId: string,
  amount: number,
  at: number,
  expected: number | null,
): Promise<boolean> {
  const changed = await db.run(
    `UPDATE keys
        SET remaining = $2::bigint, refill = jsonb_set(refill, '{lastRefillAt}', to_jsonb($3::bigint)),
            version = version + 1
      WHERE id = $1 AND refill IS NOT NULL
        AND (refill ->> 'lastRefillAt')::numeric IS NOT DISTINCT FROM $4::numeric`,
    [keyId, amount, at, expected],
  );
  return changed === 1;
}

/** Refills every live key whose last refill is before its interval's latest refill moment; returns their ids. */
export async function refillDue(
  db: PgDatabase,
  at: number,
  dailyMoment: number,
  monthlyMoments: readonly number[],
): Promise<string[]> {
  const rows = await db.query<{ id: string }>(
    `UPDATE keys
        SET remaining = (refill ->> 'amount')::bigint,
            refill = jsonb_set(refill, '{lastRefillAt}', to_jsonb($1::bigint)),
            version = version + 1
      WHERE refill IS NOT NULL AND revoked_at IS NULL
        AND coalesce((refill ->> 'lastRefillAt')::numeric, 0) < CASE refill ->> 'interval'
              WHEN 'daily' THEN $2::numeric
              ELSE ($3::jsonb ->> ((refill ->> 'dayOfMonth')::int - 1))::numeric
            END
      RETURNING id`,
    [at, dailyMoment, JSON.stringify(monthlyMoments)],
  );
  return rows.map((row) => row.id);
}
