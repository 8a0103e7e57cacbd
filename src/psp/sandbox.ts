/**
 * The built-in sandbox provider: in-process, no network, deterministic references derived from the order
 * number. It declines when told to (`SANDBOX_PSP_DECLINE=true`) or for the magic amount 666.66 (66666 minor
 * units), so that tests and demos can exercise the failure path.
 */
import type { PartnerConfig } from '../config.js';
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

  async createPayment(_partner: PartnerConfig, request: PaymentRequest): Promise<CreatedPayment> {
    if (this.decline() || request.amount === SANDBOX_DECLINE_AMOUNT) throw new PspError('sandbox payment declined');
    const ref = `sbx_${request.orderNo}`;
    return { ref, testMode: true, fields: { paymentId: ref, status: 'requires_confirmation' } };
  }

  async cancelPayment(_partner: PartnerConfig, ref: string): Promise<CancelOutcome> {
    this.cancelled.add(ref);
    return 'canceled';
  }
}
