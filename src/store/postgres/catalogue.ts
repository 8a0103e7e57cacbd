/**
 * The catalogue in PostgreSQL: a row per (partner, product), its data as JSONB beside the stock counters.
 */
import type { Product, ProductInput } from '../../domain/catalogue.js';
import { productData, toJson, toProduct, type ProductData, type ProductRow } from '../shared/codec.js';
import type { CatalogueStore } from '../store.js';
import type { PgConnection } from './connection.js';

export class PgCatalogue implements CatalogueStore {
  constructor(private readonly conn: PgConnection) {}

  async getProducts(partnerId: string, productIds: readonly string[]): Promise<Map<string, Product>> {
    const products = new Map<string, Product>();
    if (productIds.length === 0) return products;
    const { rows } = await this.conn.q<ProductRow<ProductData>>(
      'SELECT product_id, stock, reserved, data FROM products WHERE partner_id = $1 AND product_id = ANY($2::text[])',
      [partnerId, [...productIds]],
    );
    for (const row of rows) {
      products.set(row.product_id, toProduct(row.data, row.product_id, row.stock, row.reserved));
    }
    return products;
  }

  async hasCatalogue(partnerId: string): Promise<boolean> {
    const { rowCount } = await this.conn.q('SELECT 1 FROM products WHERE partner_id = $1 LIMIT 1', [partnerId]);
    return (rowCount ?? 0) > 0;
  }

  async upsertProducts(partnerId: string, products: readonly ProductInput[]): Promise<number> {
    if (products.length === 0) return 0;
    // Last one wins for repeated ids, as with one upsert after the other; sorted to lock rows in a fixed order.
    const byId = new Map<string, ProductInput>();
    for (const p of products) byId.set(p.productId, p);
    const list = [...byId.values()].sort((a, b) => (a.productId < b.productId ? -1 : a.productId > b.productId ? 1 : 0));
    await this.conn.q(
      `INSERT INTO products (partner_id, product_id, stock, reserved, data)
       SELECT $1, u.id, u.stock, 0, u.data FROM unnest($2::text[], $3::int[], $4::jsonb[]) AS u(id, stock, data)
       ON CONFLICT (partner_id, product_id) DO UPDATE SET stock = excluded.stock, data = excluded.data`,
      [
        partnerId,
        list.map((p) => p.productId),
        list.map((p) => p.stock),
        list.map((p) => toJson(productData(p))),
      ],
    );
    return products.length;
  }
}
