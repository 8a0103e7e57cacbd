/**
 * The catalogue in Redis: a stock hash per (partner, product), and a flag per partner that has products.
 */
import type { Product, ProductInput } from '../../domain/catalogue.js';
import { parseJson, productData, toJson, toProduct, type ProductData } from '../shared/codec.js';
import type { CatalogueStore } from '../store.js';
import { type RedisConnection } from './connection.js';
import type { RedisKeys } from './keys.js';
import * as scripts from './scripts/index.js';

export class RedisCatalogue implements CatalogueStore {
  private readonly keys: RedisKeys;

  constructor(private readonly conn: RedisConnection) {
    this.keys = conn.keys;
  }

  async getProducts(partnerId: string, productIds: readonly string[]): Promise<Map<string, Product>> {
    const products = new Map<string, Product>();
    const unique = [...new Set(productIds)];
    const rows = await Promise.all(unique.map((id) => this.conn.cmd((c) => c.hmget(this.keys.stock(partnerId, id), 'd', 's', 'r'))));
    unique.forEach((productId, i) => {
      const [d, s, r] = rows[i] ?? [];
      if (d === null || d === undefined) return;
      const stock = s === '' || s === null || s === undefined ? null : Number(s);
      products.set(productId, toProduct(parseJson<ProductData>(d), productId, stock, Number(r ?? 0)));
    });
    return products;
  }

  async hasCatalogue(partnerId: string): Promise<boolean> {
    return (await this.conn.cmd((c) => c.exists(this.keys.catalogue(partnerId)))) === 1;
  }

  async upsertProducts(partnerId: string, products: readonly ProductInput[]): Promise<number> {
    await this.conn.cmd((c) => c.set(this.keys.catalogue(partnerId), '1'));
    await Promise.all(
      products.map((p) => {
        const stock = p.stock === null ? '' : String(p.stock);
        return this.conn.script(scripts.PRODUCT_UPSERT, [this.keys.stock(partnerId, p.productId)], [toJson(productData(p)), stock]);
      }),
    );
    return products.length;
  }
}
