/**
 * Catalogue administration (spec §4): `X-Admin-Key` guards it, `?partner=` names whose catalogue.
 * The bulk import is all-or-nothing: one bad line and nothing is written.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Type } from 'typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { BasketError } from '../../domain/errors.js';
import type { PartnerRegistry } from '../../auth/partners.js';
import type { CatalogueStore } from '../../store/store.js';
import type { BasketService } from '../../service/baskets.js';
import { parseProductLines, ProductBodySchema, ProductIdSchema, ProductInputError, productInfo, toProductInput } from '../../service/catalogue.js';
import { ok } from './baskets.js';
import { envelope, errorResponses, ProductInfoSchema } from '../schemas.js';

export interface AdminRoutesOptions {
  store: CatalogueStore;
  /** Catalogue writes go through it, so the products it remembers for adding to baskets are forgotten at once. */
  baskets: BasketService;
  partners: PartnerRegistry;
  adminKey: string | null;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * The admin routes' check: the `X-Admin-Key` (401 `2023` when missing or wrong; the admin API is closed without
 * ADMIN_KEY), then the `?partner=` it names (422 when unknown). Returns the partner id.
 */
export function adminAuthorizer(adminKey: string | null, partners: PartnerRegistry): (request: FastifyRequest, partnerId: string) => string {
  const expected = adminKey === null ? null : digest(adminKey);
  return (request, partnerId) => {
    const given = request.headers['x-admin-key'];
    if (expected === null || typeof given !== 'string' || !timingSafeEqual(digest(given), expected)) {
      throw new BasketError('API_KEY_INVALID', 'Admin key missing or invalid');
    }
    const partner = partners.byId(partnerId);
    if (!partner) {
      throw new BasketError('REQUEST_VALIDATION_ERROR', `Unknown partner ${partnerId}`, [{ field: 'querystring.partner', message: 'unknown partner' }]);
    }
    return partner.id;
  };
}

export const adminRoutes: FastifyPluginAsyncTypebox<AdminRoutesOptions> = async (app, { store, baskets, partners, adminKey }) => {
  const authorize = adminAuthorizer(adminKey, partners);
  const security = [{ AdminKey: [] }];
  const tags = ['Admin'];
  const PartnerQuery = Type.Object({ partner: Type.String({ minLength: 1, description: 'Partner id whose catalogue is changed' }) });
  const MAX_IMPORT_BYTES = 64 * 1024 * 1024;

  // JSON lines arrive as text; parsed and validated line by line below
  for (const type of ['application/x-ndjson', 'application/jsonl', 'application/x-jsonlines', 'text/plain']) {
    app.addContentTypeParser(type, { parseAs: 'string', bodyLimit: MAX_IMPORT_BYTES }, (_req, body, done) => done(null, body));
  }

  app.put(
    '/admin/products/:productId',
    {
      schema: {
        security,
        tags,
        operationId: 'putProduct',
        summary: 'Creates or replaces one product of a partner catalogue',
        params: Type.Object({ productId: ProductIdSchema }),
        querystring: PartnerQuery,
        body: ProductBodySchema,
        response: { 200: envelope(ProductInfoSchema), ...errorResponses },
      },
    },
    async (req) => {
      const partnerId = authorize(req, req.query.partner);
      let input;
      try {
        input = toProductInput(req.body, req.params.productId);
      } catch (err) {
        if (err instanceof ProductInputError) throw new BasketError('REQUEST_VALIDATION_ERROR', `body.${err.field} ${err.message}`, [{ field: `body.${err.field}`, message: err.message }]);
        throw err;
      }
      await baskets.upsertProducts(partnerId, [input]);
      const stored = (await store.getProducts(partnerId, [input.productId])).get(input.productId);
      if (!stored) throw new Error('product vanished after upsert');
      return ok(productInfo(stored));
    },
  );

  app.post(
    '/admin/products::import',
    {
      bodyLimit: MAX_IMPORT_BYTES,
      schema: {
        security,
        tags,
        operationId: 'importProducts',
        summary: 'Bulk import of products as JSON lines (one product object with productId per line); all or nothing',
        querystring: PartnerQuery,
        consumes: ['application/x-ndjson', 'text/plain'],
        body: Type.String({ description: 'JSON lines' }),
        response: { 200: envelope(Type.Object({ imported: Type.Integer() })), ...errorResponses },
      },
    },
    async (req) => {
      const partnerId = authorize(req, req.query.partner);
      const { products, errors } = parseProductLines(req.body);
      if (errors.length > 0) {
        throw new BasketError(
          'REQUEST_VALIDATION_ERROR',
          `${errors.length} invalid line(s); nothing imported`,
          errors.slice(0, 100).map((e) => ({ field: `line ${e.line}`, message: e.message })),
        );
      }
      return ok({ imported: await baskets.upsertProducts(partnerId, products) });
    },
  );
};
