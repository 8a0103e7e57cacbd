/** Idempotency records: a keyed request runs once, and its repeats get the stored response. */

export interface StoredResponse {
  status: number;
  body: unknown;
}

export type IdempotencyBegin =
  | { state: 'new' }
  | { state: 'done'; response: StoredResponse }
  | { state: 'running' }
  | { state: 'mismatch' };

export interface IdempotencyStore {
  /**
   * Starts a keyed request. `new`: the caller runs it and must finish or abandon it. `done`: the stored
   * response. `running`: another caller holds it (its hold lapses after `leaseMs`). `mismatch`: the key was used
   * with another fingerprint. Records expire `ttlMs` after they begin.
   */
  beginIdempotent(scope: string, key: string, fingerprint: string, now: number, ttlMs: number, leaseMs: number): Promise<IdempotencyBegin>;
  finishIdempotent(scope: string, key: string, response: StoredResponse): Promise<void>;
  abandonIdempotent(scope: string, key: string): Promise<void>;
}
