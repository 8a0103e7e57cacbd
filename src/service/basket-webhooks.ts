/**
 * Basket webhooks (issue 22), next to the order webhooks (orders.ts) and signed alike (`X-Basket-Signature`,
 * `X-Basket-Delivery-Id`), delivered and retried through the outbox, to a partner's `basketWebhookUrl`:
 *
 * - `basket.changed`, coalesced per basket: time is cut into windows of BASKET_WEBHOOK_WINDOW; the first change
 *   of a basket in a window enqueues one message for (window, basket), available when the window ends (the
 *   outbox's (topic, key) dedup drops the window's later ones), and the delivery reads the basket then: one
 *   delivery per window with the latest state. A message is claimable only after its window, when no change
 *   enqueues it any more, so a change is never swallowed by a delivery under way. Receivers keep the highest
 *   `version` they have seen (a retried older window may arrive after a newer one).
 * - `basket.abandoned`: each change also enqueues (coarser window, basket), available BASKET_ABANDONED_AFTER after
 *   the window's end; the delivery re-checks that the basket is still idle (no change since that window, idle long
 *   enough, a non-empty cart, no checkout) and carries a recovery link: a transfer token to the partner's landing
 *   page, valid BASKET_RECOVERY_TTL. At most one per idle period (the window holding its last change).
 *
 * Only this process's writes enqueue (a change another process wrote is that process's to enqueue), and each
 * (window, basket) once per process. A write whose process dies before its enqueue is not delivered: the
 * store's basket writes carry no outbox message in their transaction (docs/decisions.md).
 */
import { randomUUID } from 'node:crypto';
import type { BasketWebhookSettings, PartnerConfig } from '../config.js';
import { dropInternalLineFields, liveBasket, type BasketState } from '../domain/basket.js';
import { isoSeconds } from '../domain/time.js';
import type { BasketChangeSource, BasketKey, BasketStore, OutboxInput, OutboxMessage, OutboxStore } from '../store/store.js';
import type { Logger } from './checkout.js';
import { postSignedWebhook } from './orders.js';
import type { TransferService } from './transfer.js';

export const TOPIC_BASKET_CHANGED = 'basket.changed';
export const TOPIC_BASKET_ABANDONED = 'basket.abandoned';

export interface BasketWebhookPayload {
  partnerId: string;
  userId: string;
  /** Epoch ms: the end of the window of the changes this message stands for. */
  windowEnd: number;
}

export interface BasketWebhooksOptions {
  store: BasketStore & OutboxStore;
  partner: (partnerId: string) => PartnerConfig | undefined;
  transfers: Pick<TransferService, 'create'>;
  settings: BasketWebhookSettings;
  now: () => number;
  log: Logger;
  timeoutMs?: number;
}

/** The basket as the device API's GET shows it. */
export function basketJson(s: BasketState): Record<string, unknown> {
  return { expires: isoSeconds(s.expires), lastChanged: isoSeconds(s.lastChanged), cart: s.cart, saved: s.saved, checkout: s.checkout };
}

/** One window's messages already enqueued by this process (forgotten when the window moves on). */
class WindowMemo {
  private window = -1;
  private readonly seen = new Set<string>();

  /** True the first time `id` is seen in `window`. */
  first(window: number, id: string): boolean {
    if (window !== this.window) {
      this.window = window;
      this.seen.clear();
    }
    if (this.seen.has(id)) return false;
    this.seen.add(id);
    return true;
  }
}

export class BasketWebhooks {
  private readonly changedMemo = new WindowMemo();
  private readonly abandonedMemo = new WindowMemo();
  private readonly inFlight = new Set<Promise<void>>();
  private lastWarning = 0;
  /** Window of `basket.abandoned`: a tenth of the idle time (at least the change window), so that it is reported within 1.1 × BASKET_ABANDONED_AFTER. */
  readonly abandonedWindowMs: number;

  constructor(private readonly opts: BasketWebhooksOptions) {
    this.abandonedWindowMs = Math.max(opts.settings.windowMs, Math.floor(opts.settings.abandonedMs / 10));
  }

  /** Starts enqueueing on this process's basket writes; returns the function that stops it. */
  listen(): () => void {
    return this.opts.store.onBasketChange((key, source) => this.changed(key, source));
  }

  /** A basket was written: enqueue its window's messages, once per window and process. */
  changed(key: BasketKey, source: BasketChangeSource): void {
    if (source.remote) return;
    const partner = this.opts.partner(key.partnerId);
    if (!partner?.basketWebhookUrl) return;
    const now = this.opts.now();
    const { windowMs, abandonedMs } = this.opts.settings;
    const id = `${key.partnerId}:${key.userId}`;
    const messages: OutboxInput[] = [];
    const window = Math.floor(now / windowMs);
    if (this.changedMemo.first(window, id)) {
      const windowEnd = (window + 1) * windowMs;
      messages.push({ topic: TOPIC_BASKET_CHANGED, key: `changed:${window}:${id}`, payload: this.payload(key, windowEnd), availableAt: windowEnd });
    }
    if (abandonedMs > 0) {
      const idleWindow = Math.floor(now / this.abandonedWindowMs);
      if (this.abandonedMemo.first(idleWindow, id)) {
        const windowEnd = (idleWindow + 1) * this.abandonedWindowMs;
        messages.push({ topic: TOPIC_BASKET_ABANDONED, key: `abandoned:${idleWindow}:${id}`, payload: this.payload(key, windowEnd), availableAt: windowEnd + abandonedMs });
      }
    }
    if (messages.length === 0) return;
    const enqueued: Promise<void> = this.opts.store.enqueue(messages).then(
      () => undefined,
      (err: unknown) => {
        const t = Date.now();
        if (t - this.lastWarning > 10_000) {
          this.lastWarning = t;
          this.opts.log.warn({ err, partnerId: key.partnerId }, 'basket webhook not queued: the outbox is unavailable');
        }
      },
    );
    this.inFlight.add(enqueued);
    void enqueued.finally(() => this.inFlight.delete(enqueued));
  }

  private payload(key: BasketKey, windowEnd: number): BasketWebhookPayload {
    return { partnerId: key.partnerId, userId: key.userId, windowEnd };
  }

  /** Resolves once every enqueue started so far has finished (tests, shutdown). */
  async settled(): Promise<void> {
    await Promise.all([...this.inFlight]);
  }

  /**
   * The operator's replay: the current state of these baskets as `basket.changed`, queued now (a basket webhook is
   * a state, so the current one supersedes whatever a receiver lost). Returns the new delivery ids.
   */
  async replay(partnerId: string, userIds: readonly string[]): Promise<string[]> {
    const now = this.opts.now();
    const messages = [...new Set(userIds)].map((userId) => ({
      topic: TOPIC_BASKET_CHANGED,
      key: `replay:${randomUUID()}:${partnerId}:${userId}`,
      payload: this.payload({ partnerId, userId }, now),
      availableAt: now,
    }));
    if (messages.length > 0) await this.opts.store.enqueue(messages);
    return messages.map((m) => m.key);
  }

  /** The `basket.changed` handler: the basket as it is now. */
  async deliverChanged(payload: BasketWebhookPayload, message: OutboxMessage): Promise<void> {
    const partner = this.deliverable(payload);
    if (!partner) return;
    const stored = await this.opts.store.getBasket(payload);
    const state = liveBasket(stored?.state, this.opts.now());
    await this.post(partner, message.key, {
      event: TOPIC_BASKET_CHANGED,
      partnerId: payload.partnerId,
      userId: payload.userId,
      version: stored?.version ?? 0,
      // null: the basket is gone (expired and purged) or expired
      basket: state ? basketJson(state) : null,
    });
  }

  /** The `basket.abandoned` handler: delivered only if the basket is still idle, with a recovery link. */
  async deliverAbandoned(payload: BasketWebhookPayload, message: OutboxMessage): Promise<void> {
    const partner = this.deliverable(payload);
    if (!partner) return;
    const now = this.opts.now();
    const stored = await this.opts.store.getBasket(payload);
    const state = liveBasket(stored?.state, now);
    const idle =
      state !== null &&
      state.cart.length > 0 &&
      state.session === null &&
      state.checkout.length === 0 &&
      // a change after this message's window has a message (and an idle period) of its own
      state.lastChanged < payload.windowEnd &&
      now - state.lastChanged >= this.opts.settings.abandonedMs;
    if (!idle || stored === null) return;
    let recovery: { url: string; expires: number } | null = null;
    if (partner.landingUrl) {
      const made = await this.opts.transfers.create(partner, payload, { qr: false, ttlMs: this.opts.settings.recoveryMs });
      recovery = { url: made.url, expires: made.expires };
    }
    await this.post(partner, message.key, {
      event: TOPIC_BASKET_ABANDONED,
      partnerId: payload.partnerId,
      userId: payload.userId,
      version: stored.version,
      idleSince: isoSeconds(state.lastChanged),
      basket: basketJson(state),
      // single use, opens the basket on the partner's landing page (as a transfer does)
      recoveryUrl: recovery?.url ?? null,
      recoveryExpires: recovery ? isoSeconds(recovery.expires) : null,
    });
  }

  private deliverable(payload: BasketWebhookPayload): PartnerConfig | null {
    const partner = this.opts.partner(payload.partnerId);
    if (!partner?.basketWebhookUrl || !partner.basketWebhookSecret) {
      this.opts.log.info({ partnerId: payload.partnerId }, 'basket webhook dropped: the partner has no basket webhook any more');
      return null;
    }
    return partner;
  }

  private async post(partner: PartnerConfig, deliveryId: string, content: Record<string, unknown>): Promise<void> {
    const body = JSON.stringify(content, dropInternalLineFields);
    await postSignedWebhook({
      kind: 'basket',
      url: partner.basketWebhookUrl!,
      secret: partner.basketWebhookSecret!,
      deliveryId,
      body,
      nowMs: this.opts.now(),
      timeoutMs: this.opts.timeoutMs ?? 10_000,
    });
  }
}
