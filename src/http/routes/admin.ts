/**
 * Catalogue administration (spec §4): `X-Admin-Key` guards it, checked as the request arrives (before any body
 * is read), `?partner=` names whose catalogue. The bulk import streams its JSON lines (parsed as they arrive,
 * up to 64 MiB, json-lines-body.ts) and is all-or-nothing: one bad line and nothing is written.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Type } from 'typebox';
import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { BasketError } from '../../domain/errors.js';
import type { PartnerRegistry } from '../../auth/partners.js';
import type { CatalogueStore } from '../../store/store.js';
import type { BasketService } from '../../service/baskets.js';
import { collectProductLine, type ParsedLines, ProductBodySchema, ProductIdSchema, ProductInputError, productInfo, toProductInput } from '../../service/catalogue.js';
import { ok } from './baskets.js';
import { acceptJsonLines, IMPORT_TYPES, type LineSink, linesRefused, NO_LINES } from '../json-lines-body.js';
import { envelope, errorResponses, ProductInfoSchema, ref } from '../schemas.js';

export interface AdminRoutesOptions {
  store: CatalogueStore;
  /** Catalogue writes go through it, so the products it remembers for adding to baskets are forgotten at once. */
  baskets: BasketService;
  partners: PartnerRegistry;
  adminKey: string | null;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * The admin routes' key check, as an onRequest hook: it runs before any body is read, so a request without the
 * key costs nothing but its headers (401 `2023` when missing or wrong; the admin API is closed without ADMIN_KEY).
 */
export function adminKeyHook(adminKey: string | null): (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void {
  const expected = adminKey === null ? null : digest(adminKey);
  return (request, _reply, done) => {
    const given = request.headers['x-admin-key'];
    if (expected === null || typeof given !== 'string' || !timingSafeEqual(digest(given), expected)) {
      return done(new BasketError('API_KEY_INVALID', 'Admin key missing or invalid'));
    }
    done();
  };
}

/** The partner an admin request's `?partner=` names (422 when unknown). */
export function adminPartner(partners: PartnerRegistry, partnerId: string): string {
  const partner = partners.byId(partnerId);
  if (!partner) {
    throw new BasketError('REQUEST_VALIDATION_ERROR', `Unknown partner ${partnerId}`, [{ field: 'querystring.partner', message: 'unknown partner' }]);
  }
  return partner.id;
}

export const adminRoutes: FastifyPluginAsyncTypebox<AdminRoutesOptions> = async (app, { store, baskets, partners, adminKey }) => {
  const security = [{ AdminKey: [] }];
  const tags = ['Admin'];
  const PartnerQuery = Type.Object({ partner: Type.String({ minLength: 1, description: 'Partner id whose catalogue is changed' }) });

  app.addHook('onRequest', adminKeyHook(adminKey));
  const partnerOf = (partnerId: string): string => adminPartner(partners, partnerId);

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
        response: { 200: envelope(ref(ProductInfoSchema), 'The stored product'), ...errorResponses },
        'x-errors': [],
      },
    },
    async (req) => {
      const partnerId = partnerOf(req.query.partner);
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

  // the import's own content types live in a scope of their own: elsewhere a text body is a 415
  await app.register(async (plugin) => {
    acceptJsonLines(plugin, productLines);
    const scope = plugin.withTypeProvider<TypeBoxTypeProvider>();

    scope.post(
      '/admin/products::import',
      {
        schema: {
          security,
          tags,
          operationId: 'importProducts',
          summary: 'Bulk import of products as JSON lines (one product object with productId per line, at most 64 MiB); all or nothing',
          querystring: PartnerQuery,
          consumes: IMPORT_TYPES,
          response: { 200: envelope(Type.Object({ imported: Type.Integer() }), 'How many products were imported'), ...errorResponses },
          'x-errors': [],
        },
      },
      async (req) => {
        const partnerId = partnerOf(req.query.partner);
        const { products, errors } = isParsedLines(req.body) ? req.body : { products: [], errors: [NO_LINES] };
        if (errors.length > 0) throw linesRefused(errors);
        return ok({ imported: await baskets.upsertProducts(partnerId, products) });
      },
    );
  });
};

function isParsedLines(body: unknown): body is ParsedLines {
  return typeof body === 'object' && body !== null && Array.isArray((body as ParsedLines).products) && Array.isArray((body as ParsedLines).errors);
}

/** A product import's lines, collected as the body arrives. */
function productLines(): ParsedLines & LineSink {
  return {
    products: [],
    errors: [],
    add(raw, line) {
      collectProductLine(this, raw, line);
    },
  };
}
