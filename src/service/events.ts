/**
 * Tracking events (issue 23): who did what from which playout session and provider, recorded off the hot path.
 *
 * `record()` is synchronous and cheap (a keyed hash and an object): the events of one turn of the event loop are
 * collected and written with one store call at the end of the turn (SQLite: it joins the group commit of the
 * turn's basket writes; PostgreSQL: one INSERT; Redis: one script per partner). A basket request is answered
 * without waiting for its event (docs/decisions.md: an event is lost if the process dies in the few milliseconds
 * between the answer and that write, or if the store refuses the write; both are logged with a count). The
 * checkout and order events are awaited by their callers.
 *
 * Users are pseudonymised per partner: the first 128 bits of HMAC-SHA256(secret, partner NUL user), so events can
 * be counted per viewer without holding the viewer's id, and pseudonyms of two partners cannot be joined.
 *
 * Partners with an `analyticsWebhookUrl` also get each batch of their events through the outbox (`analytics.deliver`),
 * signed as order webhooks are, retried with backoff.
 */
import { createHmac, randomUUID } from 'node:crypto';
import type { PartnerConfig } from '../config.js';
import type { EventAction, EventAttribution, EventInput, EventStore, OutboxStore, StoredEvent } from '../store/store.js';
import { OutageLog } from '../store/shared/outage-log.js';
import type { Logger } from './checkout.js';
import { postSignedWebhook } from './orders.js';

export const TOPIC_ANALYTICS = 'analytics.deliver';

/** Events without a request (webhooks, expiry) and without a stored attribution. */
export const NO_ATTRIBUTION: EventAttribution = { tracking: 'absent', sessionId: null, startTime: null, source: null, provider: null, apiVersion: null };

/** What an event says beyond who, what and where from. */
export interface EventFacts {
  productId?: string | null;
  count?: number | null;
  orderNo?: string | null;
  amount?: number | null;
  currency?: string | null;
  outcome?: string | null;
}

/** An event as the admin API and the analytics webhook show it (amount in minor units, time ISO 8601 UTC with ms). */
export type EventView = Omit<EventInput, 'partnerId' | 'time'> & { id?: string; time: string };

export function eventView(e: EventInput | StoredEvent): EventView {
  return {
    ...('id' in e ? { id: e.id } : {}),
    time: new Date(e.time).toISOString(),
    action: e.action,
    user: e.user,
    productId: e.productId,
    count: e.count,
    orderNo: e.orderNo,
    amount: e.amount,
    currency: e.currency,
    outcome: e.outcome,
    sessionId: e.sessionId,
    startTime: e.startTime,
    source: e.source,
    provider: e.provider,
    tracking: e.tracking,
    apiVersion: e.apiVersion,
  };
}

export interface AnalyticsPayload {
  partnerId: string;
  events: EventView[];
}

/** Most events written in one store call; a turn with more writes several. */
const MAX_BATCH = 1000;

interface Batch {
  events: EventInput[];
  done: Promise<void>;
  resolve: () => void;
}

export interface EventRecorderOptions {
  store: EventStore & OutboxStore;
  /** The pseudonym key (EVENTS_SECRET, or derived from the service keys). */
  secret: Buffer;
  partner: (partnerId: string) => PartnerConfig | undefined;
  now: () => number;
  log: Logger;
}

/** Pseudonyms remembered (about 150 bytes each). */
const PSEUDONYM_CACHE_SIZE = 10_000;

export class EventRecorder {
  readonly #pseudonyms = new Map<string, string>();
  private batch: Batch | null = null;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly flushLater = () => this.flush();
  private readonly failures = new OutageLog();
  private closed = false;

  constructor(private readonly opts: EventRecorderOptions) {}

  pseudonym(partnerId: string, userId: string): string {
    // an HMAC per event was ~2 % of an assign's CPU: the users active now are remembered (oldest forgotten first)
    const key = `${partnerId}\u0000${userId}`;
    let found = this.#pseudonyms.get(key);
    if (found === undefined) {
      found = createHmac('sha256', this.opts.secret).update(key).digest('hex').slice(0, 32);
      if (this.#pseudonyms.size >= PSEUDONYM_CACHE_SIZE) this.#pseudonyms.delete(this.#pseudonyms.keys().next().value!);
      this.#pseudonyms.set(key, found);
    }
    return found;
  }

  /**
   * Records one event with the next batch. Resolves once the batch is written (or its failure logged); never
   * rejects, so a caller that does not wait may drop the promise.
   */
  record(partnerId: string, userId: string, action: EventAction, attribution: EventAttribution, facts: EventFacts = {}): Promise<void> {
    const event: EventInput = {
      partnerId,
      time: this.opts.now(),
      action,
      user: this.pseudonym(partnerId, userId),
      productId: facts.productId ?? null,
      count: facts.count ?? null,
      orderNo: facts.orderNo ?? null,
      amount: facts.amount ?? null,
      currency: facts.currency ?? null,
      outcome: facts.outcome ?? null,
      sessionId: attribution.sessionId,
      startTime: attribution.startTime,
      source: attribution.source,
      provider: attribution.provider,
      tracking: attribution.tracking,
      apiVersion: attribution.apiVersion,
    };
    let batch = this.batch;
    if (batch === null) {
      let resolve!: () => void;
      const done = new Promise<void>((r) => (resolve = r));
      batch = this.batch = { events: [], done, resolve };
      // a closed recorder (shutdown) writes at once: nothing will come after
      if (this.closed) queueMicrotask(this.flushLater);
      else setImmediate(this.flushLater);
    }
    batch.events.push(event);
    if (batch.events.length >= MAX_BATCH) this.flush();
    return batch.done;
  }

  private flush(): void {
    const batch = this.batch;
    if (batch === null) return;
    this.batch = null;
    const writing = this.write(batch.events).finally(() => {
      this.inFlight.delete(writing);
      batch.resolve();
    });
    this.inFlight.add(writing);
  }

  private async write(events: EventInput[]): Promise<void> {
    const { store } = this.opts;
    const deliveries = this.analytics(events);
    const [appended, enqueued] = await Promise.allSettled([store.appendEvents(events), deliveries.length > 0 ? store.enqueue(deliveries) : undefined]);
    if (appended.status === 'rejected') this.warn(appended.reason, events.length, 'tracking events were not recorded');
    if (enqueued.status === 'rejected') this.warn(enqueued.reason, deliveries.length, 'tracking events were not queued for analytics delivery');
  }

  private warn(err: unknown, lost: number, msg: string): void {
    const suppressed = this.failures.admit();
    if (suppressed !== null) this.opts.log.warn({ err, lost, suppressed }, msg);
  }

  /** One outbox message per partner with an analytics webhook, holding that partner's events of the batch. */
  private analytics(events: readonly EventInput[]): { topic: string; key: string; payload: AnalyticsPayload; availableAt: number }[] {
    let byPartner: Map<string, EventView[]> | null = null;
    for (const e of events) {
      if (!this.opts.partner(e.partnerId)?.analyticsWebhookUrl) continue;
      byPartner ??= new Map();
      let list = byPartner.get(e.partnerId);
      if (list === undefined) byPartner.set(e.partnerId, (list = []));
      list.push(eventView(e));
    }
    if (byPartner === null) return [];
    const availableAt = this.opts.now();
    return [...byPartner].map(([partnerId, views]) => ({ topic: TOPIC_ANALYTICS, key: randomUUID(), payload: { partnerId, events: views }, availableAt }));
  }

  /** Resolves once every event recorded so far is written (or its failure logged). */
  async settled(): Promise<void> {
    this.flush();
    await Promise.all([...this.inFlight]);
  }

  /** Shutdown: writes what is pending; later events (requests still draining) are written at once. */
  async close(): Promise<void> {
    this.closed = true;
    await this.settled();
  }
}

export interface AnalyticsDeliveryOptions {
  partner: (partnerId: string) => PartnerConfig | undefined;
  now: () => number;
  log: Logger;
  timeoutMs?: number;
}

/**
 * The `analytics.deliver` handler: POSTs `{partnerId, events}` to the partner's analyticsWebhookUrl, signed with
 * `X-Basket-Signature` as the order webhook is, `X-Basket-Delivery-Id` the message key. A non-2xx answer or a
 * network error throws, and the outbox retries with backoff.
 */
export class AnalyticsDelivery {
  constructor(private readonly opts: AnalyticsDeliveryOptions) {}

  async handle(payload: AnalyticsPayload, deliveryId: string): Promise<void> {
    const partner = this.opts.partner(payload.partnerId);
    if (!partner?.analyticsWebhookUrl || !partner.analyticsWebhookSecret) {
      this.opts.log.info({ partnerId: payload.partnerId, events: payload.events.length }, 'analytics events dropped: the partner has no analytics webhook any more');
      return;
    }
    const body = JSON.stringify({ event: 'analytics.events', partnerId: payload.partnerId, events: payload.events });
    await postSignedWebhook({
      kind: 'analytics',
      url: partner.analyticsWebhookUrl,
      secret: partner.analyticsWebhookSecret,
      deliveryId,
      body,
      nowMs: this.opts.now(),
      timeoutMs: this.opts.timeoutMs ?? 10_000,
    });
  }
}
