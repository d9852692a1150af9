// The table store interface: narrow enough for SQLite and a PostgreSQL server behind the same calls.

/**
 * A row of an xCAT table. A column that is absent or empty has no key: xCAT makes no
 * difference between NULL and "" (Table.pm getAllEntries turns both into undef).
 */
export type Row = Record<string, string>;

export interface ReadOptions {
  /** Return rows whose `disable` column comments them out (tabdump does; nothing else). */
  includeDisabled?: boolean;
}

/** Reads, inside or outside a transaction. */
export interface StoreReader {
  /**
   * Rows of `table` whose columns equal every value in `where`, in insertion order.
   * Disabled rows are skipped unless `includeDisabled` is set.
   */
  rows(table: string, where?: Row, options?: ReadOptions): Promise<Row[]>;
}

/** Writes, only inside `Store.write`. */
export interface StoreWriter extends StoreReader {
  /**
   * Insert the row, or, when a row with the same key exists, set the columns named in `row`
   * (a column whose value is "" is cleared) and leave the others as they are.
   */
  upsert(table: string, row: Row): Promise<void>;
  /** Delete the rows matching `where` (an empty `where` deletes every row); returns the count. */
  delete(table: string, where: Row): Promise<number>;
}

/**
 * One database of xCAT's tables. Every change happens inside `write`, one transaction that
 * either commits whole or not at all, serialized against other processes.
 */
export interface Store {
  read<T>(work: (reader: StoreReader) => Promise<T>): Promise<T>;
  write<T>(work: (writer: StoreWriter) => Promise<T>): Promise<T>;
  /** The schema version this database is at after migrations. */
  schemaVersion(): Promise<number>;
  /** Closes the database (a server store ends its connections: await it). */
  close(): Promise<void>;
}
