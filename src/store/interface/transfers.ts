/** Transfer tokens, keyed by the token's hash, never the token. */

export interface TransferRecord {
  partnerId: string;
  userId: string;
  /** Epoch ms after which the token is invalid. */
  expires: number;
  /** The URL the token was issued for, with `jaySource` but without `jayToken` (the store never holds the token). */
  url: string;
}

export interface TransferStore {
  putTransfer(tokenHash: string, record: TransferRecord): Promise<void>;
  /** The record while it is unexpired and unused. */
  getTransfer(tokenHash: string, now: number): Promise<TransferRecord | null>;
  /** Atomically consumes the token: of concurrent callers exactly one gets the record. */
  takeTransfer(tokenHash: string, now: number): Promise<TransferRecord | null>;
}
