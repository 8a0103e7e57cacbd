/**
 * Payment service providers behind one interface. A provider creates a payment for an order and cancels it;
 * confirmation comes from the provider (webhook), never from the client.
 */
import type { PartnerConfig } from '../config.js';
import { BasketError } from '../domain/errors.js';
import type { ComfortSettings } from '../store/store.js';

/** The providers this service has; a partner's `psps` may name only these (checked at start). */
export const KNOWN_PSPS = ['sandbox', 'stripe'] as const;

/**
 * Providers whose payments are confirmed only by their webhook: creating the payment is not the charge, so orders
 * paid with them stay pending until it comes (device orders `pending_payment`, shop orders `pending`).
 */
const WEBHOOK_CONFIRMED: ReadonlySet<string> = new Set(['stripe']);

export function confirmedByWebhook(provider: string): boolean {
  return WEBHOOK_CONFIRMED.has(provider);
}

export interface PaymentRequest {
  orderNo: string;
  partnerId: string;
  userId: string;
  /** Minor units. */
  amount: number;
  currency: string;
  /** As asked by the client (query testMode); null when not given. */
  testMode: boolean | null;
  language: string | null;
  country: string | null;
  usingSdk: boolean;
  /** The user's saved customer/payment method (partner users only). */
  comfort: ComfortSettings | null;
}

export interface CreatedPayment {
  /** Provider's reference (indexed for webhooks). */
  ref: string;
  /** Fields returned to the client in `payment`. */
  fields: Record<string, unknown>;
  /** The effective test mode of the payment. */
  testMode: boolean;
}

/** `canceled`: the payment can no longer succeed. `succeeded`: too late, the money was taken. */
export type CancelOutcome = 'canceled' | 'succeeded';

export interface Psp {
  readonly name: string;
  /** Whether the partner is set up for this provider (keys present). */
  available(partner: PartnerConfig): boolean;
  /**
   * The mode a payment for this request would run in (true = test). Asked before anything is reserved; throws a
   * BasketError when the provider cannot run in the mode the client asked for, rather than silently run in another.
   */
  testMode(partner: PartnerConfig, requested: boolean | null): boolean;
  /**
   * Creates the payment. Rejects with PspError when the provider fails or declines; must be safe to call twice
   * for the same order number (providers get an idempotency key derived from it).
   */
  createPayment(partner: PartnerConfig, request: PaymentRequest): Promise<CreatedPayment>;
  /** Cancels the payment; idempotent. Rejects with PspError when the provider cannot be reached. */
  cancelPayment(partner: PartnerConfig, ref: string, testMode: boolean): Promise<CancelOutcome>;
}

/** A provider failed or declined; the HTTP layer answers 502 `2022`. */
export class PspError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PspError';
  }
}

export class PspRegistry {
  private readonly byName = new Map<string, Psp>();

  constructor(psps: readonly Psp[]) {
    for (const p of psps) this.byName.set(p.name, p);
  }

  get(name: string): Psp | undefined {
    return this.byName.get(name);
  }

  /** The partner's default provider (first of `psps`, default sandbox); 422 `2001` when unusable. */
  forPartner(partner: PartnerConfig): Psp {
    const name = (partner.psps ?? ['sandbox'])[0] ?? 'sandbox';
    const psp = this.byName.get(name);
    if (!psp || !psp.available(partner)) {
      throw new BasketError('PAYMENT_PROVIDER_NOT_SUPPORTED', `Payment provider ${name} is not enabled for this partner`);
    }
    return psp;
  }

  /** The provider of an existing order; throws when it is no longer known (configuration changed). */
  forOrder(name: string): Psp {
    const psp = this.byName.get(name);
    if (!psp) throw new PspError(`payment provider ${name} is not configured`);
    return psp;
  }
}
