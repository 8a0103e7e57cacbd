/** The catalogue: each partner's products, with their stock counters. */
import type { Product, ProductInput } from '../../domain/catalogue.js';

export interface CatalogueStore {
  getProducts(partnerId: string, productIds: readonly string[]): Promise<Map<string, Product>>;
  hasCatalogue(partnerId: string): Promise<boolean>;
  /** Inserts or replaces products; `stock` sets the units on hand, reservations already held are kept. */
  upsertProducts(partnerId: string, products: readonly ProductInput[]): Promise<number>;
}
