/**
 * Catalogue input: one schema for the admin API and the JSON-lines import, turned into the stored form
 * (money in minor units, tax in basis points). Prices on the wire are decimals in major units.
 */
import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';
import type { Product, ProductInput } from '../domain/catalogue.js';
import { availableStock } from '../domain/catalogue.js';
import { isCurrency, toMajor, toMinor } from '../domain/money.js';
import { decodeJsonLine } from './json-lines.js';

const OptStr = (max: number) => Type.Optional(Type.Union([Type.String({ maxLength: max }), Type.Null()]));

export const ProductIdSchema = Type.String({ minLength: 1, maxLength: 128 });

export const ProductBodySchema = Type.Object(
  {
    productId: Type.Optional(ProductIdSchema),
    variant: OptStr(128),
    mainProductIdentifier: OptStr(128),
    name: Type.String({ minLength: 1, maxLength: 500 }),
    brand: OptStr(200),
    price: Type.Optional(Type.Union([Type.Number({ minimum: 0, maximum: 100_000_000 }), Type.Null()], { description: 'Gross price, decimal in major units (29.99); null: not for sale' })),
    currency: Type.String({ pattern: '^[A-Z]{3}$' }),
    taxRate: Type.Optional(Type.Number({ minimum: 0, maximum: 100, description: 'Tax rate in percent included in the price (19 or 7.7)' })),
    stock: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 1_000_000_000 }), Type.Null()], { description: 'Units on hand; null or absent: unlimited' })),
    shopSource: OptStr(200),
    slug: OptStr(500),
    images: Type.Optional(Type.Array(Type.String({ maxLength: 2000 }), { maxItems: 50 })),
  },
  { additionalProperties: false },
);
export type ProductBody = Static<typeof ProductBodySchema>;

export class ProductInputError extends Error {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
    this.name = 'ProductInputError';
  }
}

/** Checks what the schema cannot (currency code, exact money, tax precision) and builds the stored form. */
export function toProductInput(body: ProductBody, productId: string): ProductInput {
  if (!isCurrency(body.currency)) throw new ProductInputError(`unknown currency ${body.currency}`, 'currency');
  let price: number | null = null;
  if (body.price !== undefined && body.price !== null) {
    price = toMinor(body.price, body.currency);
    if (price === null) throw new ProductInputError(`price ${body.price} has more decimals than ${body.currency} allows`, 'price');
  }
  const taxRateBp = Math.round((body.taxRate ?? 0) * 100);
  if (Math.abs((body.taxRate ?? 0) * 100 - taxRateBp) > 1e-6) throw new ProductInputError('taxRate allows at most two decimals', 'taxRate');
  return {
    productId,
    variant: body.variant ?? null,
    mainProductIdentifier: body.mainProductIdentifier ?? null,
    name: body.name,
    brand: body.brand ?? null,
    price,
    currency: body.currency,
    taxRateBp,
    stock: body.stock ?? null,
    shopSource: body.shopSource ?? null,
    slug: body.slug ?? null,
    images: body.images ?? [],
  };
}

export interface ParsedLines {
  products: ProductInput[];
  errors: { line: number; message: string }[];
}

/**
 * One JSON line of a catalogue import (1-based `line`): a product, an error, or null for a blank line. Lines too
 * deeply nested or holding strings no store can keep are refused before anything recursive sees them (json-lines.ts).
 */
export function parseProductLine(raw: string, line: number): { product: ProductInput } | { error: ParsedLines['errors'][number] } | null {
  const decoded = decodeJsonLine(raw);
  if (decoded === null) return null;
  if ('error' in decoded) return { error: { line, message: decoded.error } };
  const json = decoded.json;
  if (!Value.Check(ProductBodySchema, json)) {
    const first = Value.Errors(ProductBodySchema, json)[0];
    return { error: { line, message: first ? `${first.instancePath || '/'} ${first.message}` : 'invalid product' } };
  }
  if (json.productId === undefined) return { error: { line, message: '/productId is required' } };
  try {
    return { product: toProductInput(json, json.productId) };
  } catch (err) {
    if (!(err instanceof ProductInputError)) throw err;
    return { error: { line, message: `/${err.field} ${err.message}` } };
  }
}

/** Adds one line's outcome to `into`. */
export function collectProductLine(into: ParsedLines, raw: string, line: number): void {
  const parsed = parseProductLine(raw, line);
  if (parsed === null) return;
  if ('error' in parsed) into.errors.push(parsed.error);
  else into.products.push(parsed.product);
}

/** Parses JSON lines (blank lines skipped); each line is a product body with its productId. */
export function parseProductLines(text: string): ParsedLines {
  const parsed: ParsedLines = { products: [], errors: [] };
  for (const [i, raw] of text.split(/\r?\n/).entries()) collectProductLine(parsed, raw, i + 1);
  return parsed;
}

/** The public view of a product (getProductInformation). */
export interface ProductInfo {
  productId: string;
  variant: string | null;
  mainProductIdentifier: string | null;
  name: string;
  brand: string | null;
  price: number | null;
  currency: string;
  currentStockCount: number | null;
  shopSource: string | null;
  slug: string | null;
  images: string[];
}

export function productInfo(p: Product): ProductInfo {
  return {
    productId: p.productId,
    variant: p.variant,
    mainProductIdentifier: p.mainProductIdentifier,
    name: p.name,
    brand: p.brand,
    price: p.price === null ? null : toMajor(p.price, p.currency),
    currency: p.currency,
    currentStockCount: availableStock(p),
    shopSource: p.shopSource,
    slug: p.slug,
    images: p.images,
  };
}
