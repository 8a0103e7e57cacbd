/**
 * Basket transfer (spec §3.8) and redemption (§3.7 with `jayToken`): single-use tokens of 256 random bits, stored
 * only as their SHA-256, valid `transferMs`; the URL they travel in, optionally as a QR code (PNG).
 */
import type { PartnerConfig } from '../config.js';
import { BasketError } from '../domain/errors.js';
import { hashTransferToken, newTransferToken } from '../domain/transfer-token.js';
import { extendTransferUrl, parseTransferUrl, transferUrlWithoutToken, withTransferToken } from '../domain/transfer-url.js';
import type { TransferRecord, TransferStore } from '../store/store.js';
import type { BasketKey } from '../store/store.js';
import type { GuestCredentials, GuestService } from './guests.js';
// QR codes are drawn on a thread of their own, started (and `qrcode` loaded) by the first code
import { qrPng } from './qr-thread.js';

export interface TransferServiceOptions {
  store: TransferStore;
  guests: GuestService;
  /** Base URL of this service, without a trailing slash (QR image URLs), read when a transfer is made. */
  publicUrl: { readonly base: string };
  transferMs: number;
  now: () => number;
}

export interface Transfer {
  /** Epoch ms. */
  expires: number;
  jaySource: string;
  jayToken: string;
  url: string;
  qrCodeImageUrl: string | null;
  qrCodeImageBase64: string | null;
}

/** Longest jayToken looked up at all; anything longer is not one of ours. */
export const MAX_TOKEN_LENGTH = 512;

/** The name a partner's transfer URLs carry as `jaySource`. */
export function jaySourceOf(partner: PartnerConfig): string {
  return partner.source ?? partner.id;
}

const tokenInvalid = (): BasketError => new BasketError('TRANSFER_TOKEN_INVALID');


export class TransferService {
  readonly #store: TransferStore;
  readonly #guests: GuestService;
  readonly #publicUrl: { readonly base: string };
  readonly #transferMs: number;
  readonly #now: () => number;

  constructor(opts: TransferServiceOptions) {
    this.#store = opts.store;
    this.#guests = opts.guests;
    this.#publicUrl = opts.publicUrl;
    this.#transferMs = opts.transferMs;
    this.#now = opts.now;
  }

  /**
   * transferBasket: a new token for `owner`'s basket and the URL carrying it. `url` defaults to the partner's
   * landing URL (trusted: configured by the operator); a given URL must pass the partner's allow-list. 422 `2018`.
   */
  async create(partner: PartnerConfig, owner: BasketKey, opts: { url?: string | null | undefined; qr: boolean; ttlMs?: number }): Promise<Transfer> {
    const jaySource = jaySourceOf(partner);
    const jayToken = newTransferToken();
    const policy = { hosts: partner.transferHosts };
    let base: URL;
    if (opts.url !== undefined && opts.url !== null) {
      base = parseTransferUrl(opts.url, policy);
    } else if (partner.landingUrl !== undefined) {
      base = parseTransferUrl(partner.landingUrl, policy, true);
    } else {
      throw new BasketError('TRANSFER_URL_INVALID', 'No URL given and the partner has no landing URL configured');
    }
    const url = extendTransferUrl(base, { jaySource, jayToken });
    // The record keeps the URL without its jayToken (withTransferToken restores it): nothing stored holds the token.
    const stored = transferUrlWithoutToken(base, jaySource);
    // Render before storing: a failure then leaves no live token behind.
    const png = opts.qr ? await qrPng(url) : null;
    // ttlMs: a longer-lived link (an abandoned basket's recovery link, basket-webhooks.ts); else TRANSFER_TTL
    const expires = this.#now() + (opts.ttlMs ?? this.#transferMs);
    await this.#store.putTransfer(hashTransferToken(jayToken), { partnerId: partner.id, userId: owner.userId, expires, url: stored });
    return {
      expires,
      jaySource,
      jayToken,
      url,
      qrCodeImageUrl: png ? `${this.#publicUrl.base}/baskets/transfers/${encodeURIComponent(jayToken)}/qr.png` : null,
      qrCodeImageBase64: png ? png.toString('base64') : null,
    };
  }

  /**
   * Consumes a token, exactly once among concurrent callers. With `partnerId`, a token of another partner is
   * refused without being consumed (a partner cannot burn another's tokens). 410 `2017`.
   */
  async take(token: string, partnerId?: string): Promise<TransferRecord> {
    if (token === '' || token.length > MAX_TOKEN_LENGTH) throw tokenInvalid();
    const hash = hashTransferToken(token);
    const now = this.#now();
    if (partnerId !== undefined) {
      const peek = await this.#store.getTransfer(hash, now);
      if (peek === null || peek.partnerId !== partnerId) throw tokenInvalid();
    }
    const record = await this.#store.takeTransfer(hash, now);
    if (record === null || (partnerId !== undefined && record.partnerId !== partnerId)) throw tokenInvalid();
    return record;
  }

  /** createGuestBasket with `jayToken`: guest credentials addressing the transferred basket itself. */
  async redeem(partner: PartnerConfig, token: string): Promise<GuestCredentials> {
    const record = await this.take(token, partner.id);
    return this.#guests.credentialsFor(record.partnerId, record.userId);
  }

  /** The record of a live (unexpired, unused) token, without consuming it; null otherwise. */
  async peek(token: string): Promise<TransferRecord | null> {
    if (token === '' || token.length > MAX_TOKEN_LENGTH) return null;
    return this.#store.getTransfer(hashTransferToken(token), this.#now());
  }

  /** The QR image of a live token's URL; null once it expired or was used. */
  async qrImage(token: string): Promise<Buffer | null> {
    const record = await this.peek(token);
    return record ? qrPng(withTransferToken(record.url, token)) : null;
  }
}
