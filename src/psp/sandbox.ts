/**
 * The built-in sandbox provider: in-process, no network, deterministic references derived from the order
 * number. It declines when told to (`SANDBOX_PSP_DECLINE=true`) or for the magic amount 666.66 (66666 minor
 * units), so that tests and demos can exercise the failure path. It moves no money, so it runs in test mode only:
 * `testMode=false` is refused (422 3002) rather than answered as a live payment that nobody pays.
 */
import type { PartnerConfig } from '../config.js';
import { BasketError } from '../domain/errors.js';
import { PspError, type CancelOutcome, type CreatedPayment, type PaymentRequest, type Psp } from './psp.js';

export const SANDBOX_DECLINE_AMOUNT = 66_666;

export interface SandboxOptions {
  decline?: boolean | (() => boolean);
}

export class SandboxPsp implements Psp {
  readonly name = 'sandbox';
  /** References cancelled so far (tests look at it). */
  readonly cancelled = new Set<string>();
  private readonly decline: () => boolean;

  constructor(opts: SandboxOptions = {}) {
    const d = opts.decline ?? false;
    this.decline = typeof d === 'function' ? d : () => d;
  }

  available(_partner: PartnerConfig): boolean {
    return true;
  }

  testMode(_partner: PartnerConfig, requested: boolean | null): boolean {
    if (requested === false) {
      throw new BasketError('REQUEST_VALIDATION_ERROR', 'testMode=false: the sandbox payment provider takes no real payments', [
        { field: 'querystring.testMode', message: 'the partner pays with the sandbox provider, which runs in test mode only' },
      ]);
    }
    return true;
  }

  async createPayment(partner: PartnerConfig, request: PaymentRequest): Promise<CreatedPayment> {
    const testMode = this.testMode(partner, request.testMode);
    if (this.decline() || request.amount === SANDBOX_DECLINE_AMOUNT) throw new PspError('sandbox payment declined');
    const ref = `sbx_${request.orderNo}`;
    // the status then follows the order (Stripe's names): succeeded once ordered or paid, canceled once cancelled
    return { ref, testMode, fields: { paymentId: ref, status: 'requires_confirmation' } };
  }

  async cancelPayment(_partner: PartnerConfig, ref: string): Promise<CancelOutcome> {
    this.cancelled.add(ref);
    return 'canceled';
  }
}
