import type { KeyStore } from "../store/key-store.js";

interface PendingSpend {
  keyId: string;
  cost: number;
  resolve(balance: number | null): void;
  reject(error: unknown): void;
}

/**
 * Group commit for credit spends: every spend asked for in one turn of the
 * event loop is committed in one transaction at the next turn, and each
 * caller is answered only after that commit, so an acknowledged spend is
 * never lost and concurrent spends of the last credit are decided in order
 * by the database (exactly one wins).
 */
export class CreditSpender {
  private pending: PendingSpend[] = [];
  private scheduled = false;

  constructor(private readonly store: Pick<KeyStore, "spendCreditsBatch">) {}

  /** The balance after spending, Infinity for unlimited keys, or null when too few credits remain. */
  spend(keyId: string, cost: number): Promise<number | null> {
    return new Promise((resolve, reject) => {
      this.pending.push({ keyId, cost, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.commit());
      }
    });
  }

  private commit(): void {
    const batch = this.pending;
    this.pending = [];
    this.scheduled = false;
    this.store.spendCreditsBatch(batch.map(({ keyId, cost }) => ({ keyId, cost }))).then(
      (balances) => {
        for (let i = 0; i < batch.length; i++) batch[i]?.resolve(balances[i] ?? null);
      },
      (error: unknown) => {
        for (const spend of batch) spend.reject(error);
      },
    );
  }
}
