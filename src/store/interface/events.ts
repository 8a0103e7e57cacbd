/**
 * Tracking events (issue 23): one record per basket action, attributed to the playout session and provider it
 * came from. Append-only; listed per partner with a keyset cursor; summed into the funnel per provider and
 * source; purged once older than the retention (EVENTS_TTL).
 *
 * What an event holds is chosen for privacy (docs/decisions.md): a per-partner pseudonym of the user (keyed hash),
 * never the user id, a token or a client address.
 */

export type EventAction =
  /** assignProductToBasket (count as sent: > 0 cart, 0 saved, -1 removed) */
  | 'assign'
  /** updateProductInBasket (count null: unchanged) */
  | 'update'
  /** deleteProductFromBasket */
  | 'remove'
  /** deleteBasket */
  | 'clear'
  /** createGuestBasket without a transfer token */
  | 'guest'
  /** transferBasket */
  | 'transfer'
  /** a transfer token redeemed (API, or the landing page) */
  | 'redeem'
  /** checkout started: order number and amount */
  | 'checkout_start'
  /** finishActiveCheckout: outcome `ordered` or `aborted` */
  | 'checkout_finish'
  /** the order's payment is confirmed: `paid` (PSP webhook) or `ordered` with a PSP the client confirms */
  | 'order_paid'
  /** the order was cancelled (aborted session, payment deadline, PSP cancellation) */
  | 'order_cancelled';

export const EVENT_ACTIONS: readonly EventAction[] = [
  'assign',
  'update',
  'remove',
  'clear',
  'guest',
  'transfer',
  'redeem',
  'checkout_start',
  'checkout_finish',
  'order_paid',
  'order_cancelled',
];

/** How the request's `X-JAY-Tracking` header was: decoded, not sent, or not readable (base64 JSON object). */
export type TrackingState = 'ok' | 'absent' | 'undecodable';

export interface EventInput {
  partnerId: string;
  /** Epoch ms. */
  time: number;
  action: EventAction;
  /** Pseudonym of the user: truncated HMAC-SHA256 of (partner, user id) with the service's events secret. */
  user: string;
  productId: string | null;
  count: number | null;
  orderNo: string | null;
  /** Minor units of `currency` (the order's full price). */
  amount: number | null;
  currency: string | null;
  /** `ordered` | `aborted` for checkout_finish. */
  outcome: string | null;
  /** From the tracking header. */
  sessionId: string | null;
  startTime: string | null;
  source: string | null;
  /** The tracking session's provider, else the request's `provider_id`, else null. */
  provider: string | null;
  tracking: TrackingState;
  /** The API version the request was served with; null for events without a request (webhook, expiry). */
  apiVersion: string | null;
}

/** What a request tells about where an action came from; kept on an order for the events of its outcome. */
export type EventAttribution = Pick<EventInput, 'tracking' | 'sessionId' | 'startTime' | 'source' | 'provider' | 'apiVersion'>;

export interface StoredEvent extends EventInput {
  /** The event's position in its partner's list: pass it as `after` to list the events that follow. */
  id: string;
}

export interface EventPage {
  events: StoredEvent[];
  /** Cursor after the last event of the page; null when the page is empty (keep the cursor you had). */
  next: string | null;
}

export interface FunnelQuery {
  partnerId: string;
  /** Epoch ms, inclusive. */
  from: number;
  /** Epoch ms, exclusive. */
  to: number;
  /** Only events of this playout session. */
  sessionId?: string | null;
}

export interface FunnelPaid {
  currency: string;
  orders: number;
  /** Minor units. */
  value: number;
}

/** The funnel of one (provider, source) pair; null stands for "none". */
export interface FunnelGroup {
  provider: string | null;
  source: string | null;
  /** assign/update events with a count above 0 (a product put into the cart). */
  adds: number;
  /** Distinct user pseudonyms among the group's events. */
  users: number;
  checkoutsStarted: number;
  /** order_paid events per currency, in currency order. */
  paid: FunnelPaid[];
}

export interface EventStore {
  /** Appends events; each gets its id in the order given. One store call for any number of them. */
  appendEvents(events: readonly EventInput[]): Promise<void>;
  /**
   * A partner's events in append order, the first `limit` after the cursor `after` (null: from the start).
   * Stable under concurrent writes: an event never appears before one listed earlier, so a client that keeps
   * the last cursor misses nothing (an event may show up a moment after it was appended). Rejects a cursor this
   * store did not issue with CursorError.
   */
  listEvents(partnerId: string, after: string | null, limit: number): Promise<EventPage>;
  /** The funnel of a partner's events in [from, to), per (provider, source), sorted by provider then source. */
  eventFunnel(query: FunnelQuery): Promise<FunnelGroup[]>;
  /** Deletes events older than `before` (time < before), up to about `limit`; returns how many went. */
  purgeEvents(before: number, limit: number): Promise<number>;
}
