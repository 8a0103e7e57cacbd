/**
 * Offers of a partner's web shop (shop-api.md §4), behind the admin key like the catalogue:
 * `PUT /admin/offers/{id}` (one version), `POST /admin/offers:import` (JSON lines, all or nothing),
 * `GET /admin/offers/{id}` (the newest version, or `?version=`). Versions are immutable: loading one again with the
 * same content is a no-op, with other content a 409. Links to offers not loaded yet are kept and answered as
 * warnings (docs/decisions.md).
 */
import { Type } from 'typebox';
import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { PartnerRegistry } from '../../auth/partners.js';
import { BasketError } from '../../domain/errors.js';
import { MAX_PRICE, MAX_TERM_LENGTH, offerWire, parseOffer } from '../../domain/shop/offer-input.js';
import type { Offer } from '../../domain/shop/records.js';
import { MAX_LIST, MAX_VERSION_LENGTH } from '../../domain/shop/wire-fields.js';
import { ParsedJsonLines } from '../../service/json-lines.js';
import type { ShopAdminService } from '../../service/shop-admin.js';
import { acceptJsonLines, IMPORT_TYPES } from '../json-lines-body.js';
import { envelope, errorResponses, ref } from '../schemas.js';
import { adminKeyHook, adminPartner } from './admin.js';
import { importedLines, loading, PartnerQuery, RecordIdSchema } from './admin-shop.js';
import { ok } from './baskets.js';

export interface AdminOffersRoutesOptions {
  admin: ShopAdminService;
  partners: PartnerRegistry;
  adminKey: string | null;
}

const VersionSchema = Type.String({ minLength: 1, maxLength: MAX_VERSION_LENGTH, pattern: '^[A-Za-z0-9._-]+$' });
const IdList = (description: string) => Type.Array(RecordIdSchema, { maxItems: MAX_LIST, description });

const offerFields = {
  id: RecordIdSchema,
  version: VersionSchema,
  name: Type.String({ minLength: 1, maxLength: 500 }),
  path: Type.String({ minLength: 1, maxLength: 1000, description: "The offer's path in the partner's offer catalogue" }),
  type: Type.Union([Type.Literal('offer'), Type.Literal('add_on')]),
  price: Type.Number({ minimum: 0, maximum: MAX_PRICE, description: 'Per unit (per term for a subscription offer), decimal in major units (19.99)' }),
  currency: Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217' }),
  taxRate: Type.Number({ minimum: 0, maximum: 100, description: 'Tax rate in percent included in the price (19 or 7.7)' }),
  term: Type.Union(
    [
      Type.Object(
        { length: Type.Integer({ minimum: 1, maximum: MAX_TERM_LENGTH }), unit: Type.Union([Type.Literal('month'), Type.Literal('year')]) },
        { additionalProperties: false },
      ),
      Type.Null(),
    ],
    { description: 'The subscription term; null: a one-off purchase' },
  ),
  products: Type.Array(
    Type.Object({ productCode: RecordIdSchema, path: Type.String({ minLength: 1, maxLength: 1000 }) }, { additionalProperties: false }),
    { maxItems: MAX_LIST, description: 'What the offer sells; a one-off offer whose first product code is a device-catalogue product id sells that product' },
  ),
  upgrades: IdList('Offer ids a subscription on this offer may upgrade to (their newest versions are proposed)'),
  downgrades: IdList('Offer ids a subscription on this offer may downgrade to'),
  crossSells: IdList('Add-on offer ids that may be bought with this offer'),
};

export const AdminOfferSchema = Type.Object(offerFields, { $id: 'AdminOffer', description: 'One version of an offer, as loaded' });

const OfferBody = Type.Object(
  {
    ...offerFields,
    id: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'When given, the id of the URL' })),
    taxRate: Type.Optional(offerFields.taxRate),
    products: Type.Optional(offerFields.products),
    upgrades: Type.Optional(offerFields.upgrades),
    downgrades: Type.Optional(offerFields.downgrades),
    crossSells: Type.Optional(offerFields.crossSells),
  },
  { additionalProperties: false, description: 'An offer version; taxRate defaults to 0, the lists to []' },
);

const WarningSchema = Type.Object({
  offer: Type.Object({ id: Type.String(), version: Type.String() }),
  field: Type.String({ description: 'e.g. upgrades.0' }),
  message: Type.String(),
});
const Warnings = Type.Array(WarningSchema, { description: 'Links to offers that are not loaded: kept, and proposed once they are' });

export const adminOffersComponents = [AdminOfferSchema];

export const adminOffersRoutes: FastifyPluginAsyncTypebox<AdminOffersRoutesOptions> = async (app, { admin, partners, adminKey }) => {
  const security = [{ AdminKey: [] }];
  const tags = ['Admin'];
  app.addHook('onRequest', adminKeyHook(adminKey));

  app.put(
    '/admin/offers/:offerId',
    {
      schema: {
        security,
        tags,
        operationId: 'putOffer',
        summary: "Loads one version of an offer of a partner's web shop",
        params: Type.Object({ offerId: RecordIdSchema }),
        querystring: PartnerQuery,
        body: OfferBody,
        response: { 200: envelope(Type.Object({ offer: ref(AdminOfferSchema), warnings: Warnings }), 'The loaded offer'), ...errorResponses },
        'x-errors': ['OFFER_VERSION_CONFLICT'],
      },
    },
    async (req) => {
      const partnerId = adminPartner(partners, req.query.partner);
      return loading(async () => {
        const offer = parseOffer(req.body, req.params.offerId);
        const { warnings } = await admin.loadOffers(partnerId, [{ line: null, value: offer }]);
        return ok({ offer: offerWire(offer), warnings });
      });
    },
  );

  app.get(
    '/admin/offers/:offerId',
    {
      schema: {
        security,
        tags,
        operationId: 'getOffer',
        summary: 'Reads the newest version of an offer, or the version asked for',
        params: Type.Object({ offerId: RecordIdSchema }),
        querystring: Type.Object({ ...PartnerQuery.properties, version: Type.Optional(VersionSchema) }),
        response: { 200: envelope(ref(AdminOfferSchema), 'The offer version'), ...errorResponses },
        'x-errors': ['OFFER_NOT_FOUND'],
      },
    },
    async (req) => {
      const partnerId = adminPartner(partners, req.query.partner);
      const offer = await admin.getOffer(partnerId, req.params.offerId, req.query.version);
      if (!offer) throw new BasketError('OFFER_NOT_FOUND', req.query.version === undefined ? `No offer ${req.params.offerId}` : `No offer ${req.params.offerId} version ${req.query.version}`);
      return ok(offerWire(offer));
    },
  );

  // the import's own content types live in a scope of their own: elsewhere a text body is a 415
  await app.register(async (plugin) => {
    acceptJsonLines(plugin, () => new ParsedJsonLines<Offer>((json) => parseOffer(json)));
    plugin.withTypeProvider<TypeBoxTypeProvider>().post(
      '/admin/offers::import',
      {
        schema: {
          security,
          tags,
          operationId: 'importOffers',
          summary: 'Bulk load of offer versions as JSON lines (one offer with its id per line, at most 64 MiB); all or nothing',
          querystring: PartnerQuery,
          consumes: IMPORT_TYPES,
          response: { 200: envelope(Type.Object({ imported: Type.Integer(), warnings: Warnings }), 'How many offer versions were loaded'), ...errorResponses },
          'x-errors': ['OFFER_VERSION_CONFLICT'],
        },
      },
      async (req) => {
        const partnerId = adminPartner(partners, req.query.partner);
        return loading(async () => {
          const { loaded, warnings } = await admin.loadOffers(partnerId, importedLines<Offer>(req.body));
          return ok({ imported: loaded, warnings });
        });
      },
    );
  });
};
