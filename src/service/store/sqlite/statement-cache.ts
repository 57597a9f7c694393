import type Database from "better-sqlite3";

type Params = Record<string, string | number>;

/**
 * Prepared statements for SQL built from a filter's shape. Each distinct text
 * is prepared once and reused; the number of shapes is fixed by the filter
 * types, so the cache is bounded.
 */
export class StatementCache {
  private readonly statements = new Map<string, Database.Statement<[Params]>>();

  constructor(private readonly db: Database.Database) {}

  get(sql: string): Database.Statement<[Params]> {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare<[Params]>(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }
}
