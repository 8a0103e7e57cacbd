import type { ProductInput } from '../../src/domain/catalogue.js';

/** A catalogue product for tests: unlimited stock, 10.00 EUR at 19 % tax, nothing optional; `extra` overrides. */
export function productInput(productId: string, extra: Partial<ProductInput> = {}): ProductInput {
  return {
    productId,
    variant: null,
    mainProductIdentifier: null,
    name: productId,
    brand: null,
    price: 1000,
    currency: 'EUR',
    taxRateBp: 1900,
    stock: null,
    shopSource: null,
    slug: null,
    images: [],
    ...extra,
  };
}
