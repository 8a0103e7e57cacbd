/**
 * Catalogue records (spec §4): one sellable thing per product id, money in integer minor units,
 * tax as an integer in basis points (1900 = 19 %), stock null for unlimited.
 */
import type { ProductRef } from './basket.js';

export interface Product {
  productId: string;
  variant: string | null;
  mainProductIdentifier: string | null;
  name: string;
  brand: string | null;
  /** Gross price in minor units (cents); null = not for sale yet (checkout refuses it). */
  price: number | null;
  /** ISO 4217, upper case. */
  currency: string;
  /** Tax rate included in the gross price, in basis points. */
  taxRateBp: number;
  /** Units on hand; null = unlimited. */
  stock: number | null;
  /** Units held by active checkout reservations. */
  reserved: number;
  shopSource: string | null;
  slug: string | null;
  images: string[];
}

/** A product as loaded by the admin API or the import (stock sets the units on hand). */
export type ProductInput = Omit<Product, 'reserved'>;

/** Units a buyer can still reserve; null when unlimited. */
export function availableStock(p: Pick<Product, 'stock' | 'reserved'>): number | null {
  return p.stock === null ? null : p.stock - p.reserved;
}

export function productRef(p: Pick<Product, 'productId' | 'variant' | 'mainProductIdentifier' | 'price' | 'currency'>): ProductRef {
  const ref: ProductRef = { productId: p.productId };
  if (p.variant !== null) ref.variant = p.variant;
  if (p.mainProductIdentifier !== null) ref.mainProductIdentifier = p.mainProductIdentifier;
  if (p.price !== null) {
    ref.price = p.price;
    ref.currency = p.currency;
  }
  return ref;
}
