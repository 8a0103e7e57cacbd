/**
 * A refused subscription change (shop-api.md §3.4–§3.7): a ShopRuleError (the surface answers `status` with
 * `{"message"}`); a 423 also carries the pending change's date (body `effectiveDate`, `Retry-After` in seconds).
 */
import { ShopRuleError } from './errors.js';

export type ChangeErrorStatus = 400 | 404 | 409 | 423;

export const CHANGE_MESSAGES = {
  invalidChoice: 'Invalid request or multiple add offers provided',
  subscriptionNotFound: 'Subscription not found',
  locked: 'Subscription has pending change, checkout locked',
  changedSinceStart: 'Subscription changed since this checkout started; start a new one',
  nothingChosen: 'No offer chosen for the subscription change',
} as const;

export class SubscriptionChangeError extends ShopRuleError {
  constructor(
    status: ChangeErrorStatus,
    message: string,
    /** 423 only: when the pending change takes effect (epoch ms) and the seconds until then. */
    readonly lock: { effective: number; retryAfterSeconds: number } | null = null,
  ) {
    super(status, message);
    this.name = 'SubscriptionChangeError';
  }
}

export function isSubscriptionChangeError(err: unknown): err is SubscriptionChangeError {
  return err instanceof SubscriptionChangeError;
}
