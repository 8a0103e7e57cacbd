/**
 * Basket problems: per line of cart and saved list, what the catalogue says now and the basket cannot honour.
 * Pure: the caller hands in the catalogue's current view of each product. Lines in checkout are left out (their
 * stock is reserved and their price fixed by the order).
 */
import type { BasketState, Line } from './basket.js';
import { availableStock, type Product } from './catalogue.js';

export type ProblemCode = 'PRODUCT_GONE' | 'NOT_FOR_SALE' | 'PRICE_CHANGED' | 'OUT_OF_STOCK' | 'INSUFFICIENT_STOCK';

export interface BasketProblem {
  productId: string;
  code: ProblemCode;
  list: 'cart' | 'saved';
  /** INSUFFICIENT_STOCK: units still available (fewer than the line's count). */
  available?: number;
  /** PRICE_CHANGED: the price when the line was assigned and now, in minor units, and the current currency. */
  addedPrice?: number;
  addedCurrency?: string;
  price?: number;
  currency?: string;
}

/**
 * What the catalogue knows of a product: the product, `null` when the partner's catalogue does not have it (gone),
 * `undefined` when there is nothing to say (a partner without a catalogue accepts any id).
 */
export type ProductLookup = (productId: string) => Product | null | undefined;

function lineProblems(line: Line, list: 'cart' | 'saved', product: Product | null | undefined, out: BasketProblem[]): void {
  if (product === undefined) return;
  const { productId } = line;
  if (product === null) {
    out.push({ productId, code: 'PRODUCT_GONE', list });
    return;
  }
  if (product.price === null) {
    out.push({ productId, code: 'NOT_FOR_SALE', list });
  } else if (
    line.addedPrice !== undefined &&
    line.addedCurrency !== undefined &&
    (line.addedPrice !== product.price || line.addedCurrency !== product.currency)
  ) {
    out.push({ productId, code: 'PRICE_CHANGED', list, addedPrice: line.addedPrice, addedCurrency: line.addedCurrency, price: product.price, currency: product.currency });
  }
  const available = availableStock(product);
  if (available === null) return;
  if (available <= 0) out.push({ productId, code: 'OUT_OF_STOCK', list });
  else if (available < line.count) out.push({ productId, code: 'INSUFFICIENT_STOCK', list, available });
}

/** The problems of cart then saved lines, in line order; an empty array when there are none. */
export function basketProblems(state: Pick<BasketState, 'cart' | 'saved'>, lookup: ProductLookup): BasketProblem[] {
  const out: BasketProblem[] = [];
  for (const line of state.cart) lineProblems(line, 'cart', lookup(line.productId), out);
  for (const line of state.saved) lineProblems(line, 'saved', lookup(line.productId), out);
  return out;
}
