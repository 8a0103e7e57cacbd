/**
 * Shop ids (shop-api.md §1): baskets `basket-<uuid v4>`, orders `order-<32 hex>`, order items `item-<12 hex>`
 * (unique within their basket), order references `S-<yyyymmdd>-<10 base32>` (for people: receipts, support).
 */
import { randomBytes, randomUUID } from 'node:crypto';

export const newBasketId = (): string => `basket-${randomUUID()}`;
export const newShopOrderId = (): string => `order-${randomBytes(16).toString('hex')}`;
export const newItemId = (): string => `item-${randomBytes(6).toString('hex')}`;

const REFERENCE_ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';

export function newOrderReference(now: number): string {
  const day = new Date(now).toISOString().slice(0, 10).replace(/-/g, '');
  let s = '';
  for (const b of randomBytes(10)) s += REFERENCE_ALPHABET[b % REFERENCE_ALPHABET.length];
  return `S-${day}-${s}`;
}

/**
 * What may name a basket in a cookie, a query or a body: our own ids and, read liberally, other `basket-...` ids
 * (the seed's example is `basket-a1b2c3d4e5f6`). Anything else cannot be a basket, so it is never looked up.
 */
const BASKET_ID = /^basket-[A-Za-z0-9_-]{1,120}$/;

export function isBasketId(value: unknown): value is string {
  return typeof value === 'string' && BASKET_ID.test(value);
}
