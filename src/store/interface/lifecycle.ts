/** What every store does whatever it holds: open its schema, answer a readiness probe, close. */

export interface StoreLifecycle {
  readonly kind: 'sqlite' | 'postgres' | 'redis';

  /** Creates or migrates the schema; safe when several processes call it together. */
  init(): Promise<void>;
  close(): Promise<void>;
  /** Resolves when the store answers; rejects otherwise (readiness probe). */
  ping(): Promise<void>;
}
