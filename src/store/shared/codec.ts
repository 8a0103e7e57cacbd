/**
 * Encoding shared by the store adapters: the JSON they write, the listOrders cursor, the change-notification
 * message, and the mapping of rows to domain records. Pure functions; one copy, so that the adapters cannot drift
 * apart in what they accept or produce.
 */
import type { BasketState } from '../../domain/basket.js';
import type { Product, ProductInput } from '../../domain/catalogue.js';
import { CursorError, type BasketKey, type ComfortSettings, type TransferRecord } from '../store.js';

// --- JSON --------------------------------------------------------------------------------------------------------

/** `undefined` has no JSON form; store it as null rather than failing a NOT NULL column or a script argument. */
export function toJson(value: unknown): string {
  return JSON.stringify(value) ?? 'null';
}

/** Parses JSON this store wrote itself; the shape is ours, so the assertion is sound. */
export function parseJson<T>(text: string): T {
  return JSON.parse(text) as T;
}

// --- baskets -----------------------------------------------------------------------------------------------------

/** A basket holding a checkout session or lines is never purged as expired. */
export function hasCheckout(state: BasketState): boolean {
  return state.session !== null || state.checkout.length > 0;
}

/**
 * The cross-process change message, [origin, partnerId, userId]; the origin lets a store skip its own writes,
 * which it already reported when they committed.
 */
export function encodeChange(origin: string, key: BasketKey): string {
  return JSON.stringify([origin, key.partnerId, key.userId]);
}

/** The basket a change message names; null for a malformed message or one that `ownOrigin` sent. */
export function decodeChange(message: string, ownOrigin: string): BasketKey | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(message);
  } catch {
    return null;
  }
  if (!Array.isArray(parsed) || parsed.length !== 3) return null;
  const [origin, partnerId, userId]: unknown[] = parsed;
  if (origin === ownOrigin || typeof partnerId !== 'string' || typeof userId !== 'string') return null;
  return { partnerId, userId };
}

// --- products ----------------------------------------------------------------------------------------------------

/** What a product record stores besides its key and its stock counters. */
export type ProductData = Omit<Product, 'stock' | 'reserved' | 'productId'>;

/** A products row of the SQL adapters; `Data` is how the data column comes back (text or parsed JSON). */
export interface ProductRow<Data> {
  product_id: string;
  stock: number | null;
  reserved: number;
  data: Data;
}

/** What PostgreSQL and Redis store as a product's data: the input without its key and its stock. */
export function productData(input: ProductInput): ProductData {
  const { stock: _stock, productId: _id, ...rest } = input;
  return rest;
}

/** Key and counters come from their own columns/fields and win over anything in the stored data. */
export function toProduct(data: ProductData, productId: string, stock: number | null, reserved: number): Product {
  return { ...data, productId, stock, reserved };
}

// --- transfer tokens and comfort settings (the SQL adapters' column names) --------------------------------------

export interface TransferRow {
  partner_id: string;
  user_id: string;
  url: string;
  expires: number;
}

export function toTransfer(row: TransferRow): TransferRecord {
  return { partnerId: row.partner_id, userId: row.user_id, expires: row.expires, url: row.url };
}

/** `oneClick` is passed apart because the column type differs (SQLite INTEGER 0/1, PostgreSQL BOOLEAN). */
export function toComfort(
  row: { customer_id: string | null; payment_method_id: string | null },
  oneClick: boolean,
): ComfortSettings {
  return { customerId: row.customer_id, paymentMethodId: row.payment_method_id, oneClick };
}

// --- listOrders cursor -------------------------------------------------------------------------------------------

/** The position after which the next page starts, in (created DESC, orderNo DESC) order. */
export interface CursorData {
  created: number;
  orderNo: string;
}

export function encodeCursor(c: CursorData): string {
  return Buffer.from(JSON.stringify([c.created, c.orderNo])).toString('base64url');
}

/** Rejects, as CursorError, anything encodeCursor did not produce (the HTTP layer answers 400). */
export function decodeCursor(cursor: string): CursorData {
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw new CursorError('cursor is not base64url');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new CursorError('cursor is not valid');
  }
  if (!Array.isArray(parsed) || parsed.length !== 2) throw new CursorError('cursor is not valid');
  const [created, orderNo]: unknown[] = parsed;
  if (typeof created !== 'number' || !Number.isSafeInteger(created) || typeof orderNo !== 'string') {
    throw new CursorError('cursor is not valid');
  }
  return { created, orderNo };
}

/**
 * Cuts a page from `limit + 1` fetched entries (newest first): the extra entry only tells that another page
 * exists, and the cursor then points after the page's last entry.
 */
export function cutPage<T>(fetched: readonly T[], limit: number, positionOf: (entry: T) => CursorData): { page: T[]; next: string | null } {
  const page = fetched.slice(0, limit);
  const last = page[page.length - 1];
  const next = fetched.length > limit && last ? encodeCursor(positionOf(last)) : null;
  return { page, next };
}
