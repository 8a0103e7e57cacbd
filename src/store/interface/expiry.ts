/** The purge of expired records other than baskets (BasketStore.purgeExpiredBaskets purges those). */

export interface ExpiryStore {
  /**
   * Deletes expired transfer tokens and idempotency records, and reservations released or committed at least
   * RESERVATION_RETENTION_MS before `now` (Redis lets its reservation keys expire that long after they were made);
   * returns how many went. A reservation still `reserved` is never purged: checkout expiry releases it first.
   */
  purgeExpired(now: number, limit: number): Promise<number>;
}
