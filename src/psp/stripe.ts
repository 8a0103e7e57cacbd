/**
 * Stripe through the official SDK: one PaymentIntent per order (idempotency key derived from the order number),
 * cancelled when the session is aborted. Payments are confirmed only by the signed webhook
 * (src/http/routes/stripe-webhook.ts).
 *
 * Test mode is the key's: Stripe decides it by the secret key (sk_test_… / sk_live_…). A request whose testMode
 * (query, or the partner's stripe.testMode) contradicts the key is refused (422 3002) rather than silently run in
 * the other mode.
 */
import type Stripe from 'stripe';
import type { PartnerConfig } from '../config.js';
import { BasketError } from '../domain/errors.js';
import { PspError, type CancelOutcome, type CreatedPayment, type PaymentRequest, type Psp } from './psp.js';

export interface StripeOptions {
  /** Another API base (tests: a local stand-in on http://127.0.0.1:port); default Stripe's. */
  apiBase?: string | null;
  timeoutMs?: number;
  maxNetworkRetries?: number;
}

type StripeKeys = NonNullable<PartnerConfig['stripe']>;
type StripeSdk = typeof Stripe;

// the SDK adds ~11 MB of RSS to a server process (measured): loaded by the first Stripe call, not at start
let sdk: StripeSdk | null = null;
let loading: Promise<StripeSdk> | null = null;
export function loadSdk(): Promise<StripeSdk> {
  loading ??= import('stripe').then(
    (m) => (sdk = m.default),
    (err: unknown) => {
      loading = null; // the next call tries again
      throw new PspError(`stripe: loading the SDK failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    },
  );
  return loading;
}

export function isTestKey(secretKey: string): boolean {
  return /^(sk|rk)_test_/.test(secretKey);
}

export class StripePsp implements Psp {
  readonly name = 'stripe';
  private readonly clients = new Map<string, Stripe>();
  private readonly config: ConstructorParameters<typeof Stripe>[1];

  constructor(opts: StripeOptions = {}) {
    const config: NonNullable<ConstructorParameters<typeof Stripe>[1]> = {
      timeout: opts.timeoutMs ?? 15_000,
      maxNetworkRetries: opts.maxNetworkRetries ?? 1,
      telemetry: false,
    };
    if (opts.apiBase) {
      const u = new URL(opts.apiBase);
      config.host = u.hostname;
      config.port = u.port || (u.protocol === 'http:' ? 80 : 443);
      config.protocol = u.protocol === 'http:' ? 'http' : 'https';
    }
    this.config = config;
  }

  available(partner: PartnerConfig): boolean {
    return partner.stripe !== undefined;
  }

  /** One SDK client per secret key. */
  async client(keys: StripeKeys): Promise<Stripe> {
    let c = this.clients.get(keys.secretKey);
    if (!c) {
      const Sdk = await loadSdk();
      // another call may have made it while the SDK loaded
      c = this.clients.get(keys.secretKey) ?? new Sdk(keys.secretKey, this.config);
      this.clients.set(keys.secretKey, c);
    }
    return c;
  }

  private keys(partner: PartnerConfig): StripeKeys {
    if (!partner.stripe) throw new BasketError('PAYMENT_PROVIDER_NOT_SUPPORTED', 'Stripe is not configured for this partner');
    return partner.stripe;
  }

  testMode(partner: PartnerConfig, requested: boolean | null): boolean {
    const keys = this.keys(partner);
    const keyTest = isTestKey(keys.secretKey);
    const wanted = requested ?? keys.testMode ?? keyTest;
    if (wanted !== keyTest) {
      throw new BasketError(
        'REQUEST_VALIDATION_ERROR',
        `testMode=${String(wanted)} does not match the partner's Stripe key (${keyTest ? 'test' : 'live'} mode)`,
        [{ field: 'querystring.testMode', message: `the partner's Stripe key is a ${keyTest ? 'test' : 'live'} key` }],
      );
    }
    return keyTest;
  }

  async createPayment(partner: PartnerConfig, request: PaymentRequest): Promise<CreatedPayment> {
    const keys = this.keys(partner);
    const keyTest = this.testMode(partner, request.testMode);
    const params: Stripe.PaymentIntentCreateParams = {
      amount: request.amount,
      currency: request.currency.toLowerCase(),
      metadata: { orderNo: request.orderNo, partnerId: request.partnerId, userId: request.userId },
      description: `Order ${request.orderNo}`,
    };
    const comfort = request.comfort;
    if (comfort?.customerId) params.customer = comfort.customerId;
    const oneClick = Boolean(comfort?.oneClick && comfort.customerId && comfort.paymentMethodId);
    if (oneClick) {
      // comfort one-click: charge the saved method of the saved customer now, without the customer on session
      params.payment_method = comfort!.paymentMethodId!;
      params.confirm = true;
      params.off_session = true;
    } else {
      params.automatic_payment_methods = { enabled: true };
    }
    let intent: Stripe.PaymentIntent;
    try {
      const stripe = await this.client(keys);
      intent = await stripe.paymentIntents.create(params, { idempotencyKey: `basket-pi-${request.partnerId}-${request.orderNo}` });
    } catch (err) {
      throw new PspError(`stripe: creating the PaymentIntent failed: ${describe(err)}`, { cause: err });
    }
    const fields: Record<string, unknown> = { paymentIntentId: intent.id, status: intent.status, oneClick };
    if (request.usingSdk) {
      // the app's Stripe SDK (PaymentSheet) confirms with these
      fields.clientSecret = intent.client_secret;
      fields.publishableKey = keys.publishableKey;
      if (intent.customer) fields.customerId = typeof intent.customer === 'string' ? intent.customer : intent.customer.id;
    } else {
      // without the SDK the device cannot collect a card: it shows the next action's URL when Stripe gives one
      const next = intent.next_action?.redirect_to_url?.url ?? null;
      fields.nextActionUrl = next;
    }
    return { ref: intent.id, fields, testMode: keyTest };
  }

  async cancelPayment(partner: PartnerConfig, ref: string): Promise<CancelOutcome> {
    const stripe = await this.client(this.keys(partner));
    try {
      const pi = await stripe.paymentIntents.cancel(ref, {}, { idempotencyKey: `basket-cancel-${ref}` });
      return pi.status === 'succeeded' ? 'succeeded' : 'canceled';
    } catch (err) {
      // already cancelled or already paid: Stripe refuses the cancel; the intent's status tells which
      if (sdk && err instanceof sdk.errors.StripeInvalidRequestError) {
        try {
          const pi = await stripe.paymentIntents.retrieve(ref);
          if (pi.status === 'succeeded') return 'succeeded';
          if (pi.status === 'canceled') return 'canceled';
        } catch (again) {
          throw new PspError(`stripe: reading the PaymentIntent failed: ${describe(again)}`, { cause: again });
        }
      }
      throw new PspError(`stripe: cancelling the PaymentIntent failed: ${describe(err)}`, { cause: err });
    }
  }
}

/** A StripeError can only come from the SDK, so it is loaded whenever `err` is one. */
function describe(err: unknown): string {
  if (sdk && err instanceof sdk.errors.StripeError) return `${err.type}${err.code ? ` ${err.code}` : ''}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}
