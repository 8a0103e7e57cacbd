/** The catalogue in SQLite: a row per (partner, product), its data as JSON beside the stock counters. */
import type { Product, ProductInput } from '../../domain/catalogue.js';
import { parseJson, toJson, toProduct, type ProductRow } from '../shared/codec.js';
import type { CatalogueStore } from '../store.js';
import { SqliteConcern, type Db, type SqliteConnection } from './connection.js';
import type { GroupCommit } from './group-commit.js';

function prepareStatements(db: Db) {
  return {
    getProducts: db.prepare<[string, string], ProductRow<string>>(
      `SELECT product_id, stock, reserved, data FROM products
       WHERE partner_id = ? AND product_id IN (SELECT value FROM json_each(?))`,
    ),
    getProduct: db.prepare<[string, string], ProductRow<string>>(
      'SELECT product_id, stock, reserved, data FROM products WHERE partner_id = ? AND product_id = ?',
    ),
    hasCatalogue: db.prepare<[string], unknown>('SELECT 1 FROM products WHERE partner_id = ? LIMIT 1'),
    upsertProduct: db.prepare<[string, string, number | null, string]>(
      `INSERT INTO products (partner_id, product_id, stock, reserved, data) VALUES (?, ?, ?, 0, ?)
       ON CONFLICT (partner_id, product_id) DO UPDATE SET stock = excluded.stock, data = excluded.data`,
    ),
  };
}

/** The stored data keeps the productId (written so since the first schema); the column's value wins. */
function rowToProduct(row: ProductRow<string>): Product {
  return toProduct(parseJson<Omit<Product, 'stock' | 'reserved'>>(row.data), row.product_id, row.stock, row.reserved);
}

export class SqliteCatalogue extends SqliteConcern<ReturnType<typeof prepareStatements>> implements CatalogueStore {
  protected prepareStatements(db: Db) {
    return prepareStatements(db);
  }

  async getProducts(partnerId: string, productIds: readonly string[]): Promise<Map<string, Product>> {
    const products = new Map<string, Product>();
    if (productIds.length === 0) return products;
    if (productIds.length === 1) {
      // the assign hot path: a plain primary-key lookup instead of json_each
      const row = this.conn.read(() => this.st.getProduct.get(partnerId, productIds[0]!));
      if (row) products.set(row.product_id, rowToProduct(row));
      return products;
    }
    const rows = this.conn.read(() => this.st.getProducts.all(partnerId, JSON.stringify(productIds)));
    for (const row of rows) products.set(row.product_id, rowToProduct(row));
    return products;
  }

  async hasCatalogue(partnerId: string): Promise<boolean> {
    return this.conn.read(() => this.st.hasCatalogue.get(partnerId)) !== undefined;
  }

  async upsertProducts(partnerId: string, products: readonly ProductInput[]): Promise<number> {
    await this.writes.writeTransaction(() => {
      for (const p of products) {
        const { stock, ...rest } = p;
        this.st.upsertProduct.run(partnerId, p.productId, stock, toJson(rest));
      }
    });
    return products.length;
  }
}
