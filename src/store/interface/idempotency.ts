/** Idempotency records: a keyed request runs once, and its repeats get the stored response. */

export interface StoredResponse {
  status: number;
  body: unknown;
}

export type IdempotencyBegin =
  | { state: 'new'; holder: string }
  | { state: 'done'; response: StoredResponse }
  | { state: 'running' }
  | { state: 'mismatch' };

export interface IdempotencyStore {
  /**
   * Starts a keyed request. `new`: the caller runs it and must finish or abandon it with the `holder` token it
   * gets. `done`: the stored response. `running`: another caller holds it (its hold lapses after `leaseMs`, and
   * then the next begin takes it over with a new holder). `mismatch`: the key was used with another fingerprint.
   * Records expire `ttlMs` after they begin.
   */
  beginIdempotent(scope: string, key: string, fingerprint: string, now: number, ttlMs: number, leaseMs: number): Promise<IdempotencyBegin>;
  /**
   * Stores the response, if `holder` still holds the running record. False when it did not: the hold lapsed and
   * another caller took it over (or the record is gone or done), and nothing changed.
   */
  finishIdempotent(scope: string, key: string, holder: string, response: StoredResponse): Promise<boolean>;
  /** Deletes the running record so the key is new again, if `holder` still holds it; false (and no change) if not. */
  abandonIdempotent(scope: string, key: string, holder: string): Promise<boolean>;
}
