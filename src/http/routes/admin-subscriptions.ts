/**
 * Subscriptions of a partner's customers (shop-api.md §4), behind the admin key: `PUT /admin/subscriptions/{id}`
 * (create or replace), `POST /admin/subscriptions:import` (JSON lines, all or nothing), `GET
 * /admin/subscriptions/{id}`. Every offer version a subscription names must be loaded first; a name another
 * subscription of the partner has is a 409.
 */
import { Type } from 'typebox';
import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { PartnerRegistry } from '../../auth/partners.js';
import { BasketError } from '../../domain/errors.js';
import type { Subscription } from '../../domain/shop/records.js';
import { parseSubscription, subscriptionWire } from '../../domain/shop/subscription-input.js';
import { MAX_LIST, MAX_VERSION_LENGTH } from '../../domain/shop/wire-fields.js';
import { ParsedJsonLines } from '../../service/json-lines.js';
import type { ShopAdminService } from '../../service/shop-admin.js';
import { acceptJsonLines, IMPORT_TYPES } from '../json-lines-body.js';
import { envelope, errorResponses, ref } from '../schemas.js';
import { adminKeyHook, adminPartner } from './admin.js';
import { importedLines, loading, PartnerQuery, RecordIdSchema } from './admin-shop.js';
import { ok } from './baskets.js';

export interface AdminSubscriptionsRoutesOptions {
  admin: ShopAdminService;
  partners: PartnerRegistry;
  adminKey: string | null;
}

const OfferRefSchema = Type.Object(
  { id: RecordIdSchema, version: Type.String({ minLength: 1, maxLength: MAX_VERSION_LENGTH, pattern: '^[A-Za-z0-9._-]+$' }) },
  { additionalProperties: false },
);
const DateTime = (description: string) => Type.String({ format: 'date-time', description });

const subscriptionFields = {
  id: RecordIdSchema,
  name: Type.String({ minLength: 1, maxLength: 200, description: 'Unique per partner; a change may be started by it' }),
  customer: Type.Object(
    { email: Type.String({ minLength: 3, maxLength: 254 }), firstName: Type.String({ minLength: 1, maxLength: 200 }), lastName: Type.String({ minLength: 1, maxLength: 200 }) },
    { additionalProperties: false },
  ),
  offer: OfferRefSchema,
  addOns: Type.Array(OfferRefSchema, { maxItems: MAX_LIST, description: 'Add-on offers it has' }),
  termStart: DateTime('Start of the current term (ISO 8601 with a time zone)'),
  termEnd: DateTime('End of the current term; after termStart'),
  pendingChange: Type.Union(
    [Type.Object({ offer: OfferRefSchema, effective: DateTime('When the change takes effect') }, { additionalProperties: false }), Type.Null()],
    { description: 'A change (a downgrade) waiting for its date; while it is ahead, a new change is locked (423)' },
  ),
};

export const AdminSubscriptionSchema = Type.Object(subscriptionFields, { $id: 'AdminSubscription', description: 'A customer\'s subscription, as loaded' });

const SubscriptionBody = Type.Object(
  {
    ...subscriptionFields,
    id: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'When given, the id of the URL' })),
    addOns: Type.Optional(subscriptionFields.addOns),
    pendingChange: Type.Optional(subscriptionFields.pendingChange),
  },
  { additionalProperties: false, description: 'A subscription; addOns default to [], pendingChange to null' },
);

export const adminSubscriptionsComponents = [AdminSubscriptionSchema];

export const adminSubscriptionsRoutes: FastifyPluginAsyncTypebox<AdminSubscriptionsRoutesOptions> = async (app, { admin, partners, adminKey }) => {
  const security = [{ AdminKey: [] }];
  const tags = ['Admin'];
  app.addHook('onRequest', adminKeyHook(adminKey));

  app.put(
    '/admin/subscriptions/:subscriptionId',
    {
      schema: {
        security,
        tags,
        operationId: 'putSubscription',
        summary: 'Creates or replaces one subscription of a partner',
        params: Type.Object({ subscriptionId: RecordIdSchema }),
        querystring: PartnerQuery,
        body: SubscriptionBody,
        response: { 200: envelope(ref(AdminSubscriptionSchema), 'The stored subscription'), ...errorResponses },
        'x-errors': ['SUBSCRIPTION_NAME_CONFLICT'],
      },
    },
    async (req) => {
      const partnerId = adminPartner(partners, req.query.partner);
      return loading(async () => {
        const subscription = parseSubscription(req.body, partnerId, req.params.subscriptionId);
        await admin.loadSubscriptions(partnerId, [{ line: null, value: subscription }]);
        return ok(subscriptionWire(subscription));
      });
    },
  );

  app.get(
    '/admin/subscriptions/:subscriptionId',
    {
      schema: {
        security,
        tags,
        operationId: 'getSubscription',
        summary: 'Reads one subscription of a partner',
        params: Type.Object({ subscriptionId: RecordIdSchema }),
        querystring: PartnerQuery,
        response: { 200: envelope(ref(AdminSubscriptionSchema), 'The subscription'), ...errorResponses },
        'x-errors': ['SUBSCRIPTION_NOT_FOUND'],
      },
    },
    async (req) => {
      const partnerId = adminPartner(partners, req.query.partner);
      const subscription = await admin.getSubscription(partnerId, req.params.subscriptionId);
      if (!subscription) throw new BasketError('SUBSCRIPTION_NOT_FOUND', `No subscription ${req.params.subscriptionId}`);
      return ok(subscriptionWire(subscription));
    },
  );

  // the import's own content types live in a scope of their own: elsewhere a text body is a 415
  await app.register(async (plugin) => {
    acceptJsonLines(plugin, () => new ParsedJsonLines<Subscription>((json) => parseSubscription(json, '')));
    plugin.withTypeProvider<TypeBoxTypeProvider>().post(
      '/admin/subscriptions::import',
      {
        schema: {
          security,
          tags,
          operationId: 'importSubscriptions',
          summary: 'Bulk load of subscriptions as JSON lines (one subscription with its id per line, at most 64 MiB); all or nothing',
          querystring: PartnerQuery,
          consumes: IMPORT_TYPES,
          response: { 200: envelope(Type.Object({ imported: Type.Integer() }), 'How many subscriptions were loaded'), ...errorResponses },
          'x-errors': ['SUBSCRIPTION_NAME_CONFLICT'],
        },
      },
      async (req) => {
        const partnerId = adminPartner(partners, req.query.partner);
        return loading(async () => {
          // lines are parsed as they arrive, before the partner is known: the partner is set on each here
          const lines = importedLines<Subscription>(req.body).map(({ line, value }) => ({ line, value: { ...value, partnerId } }));
          return ok({ imported: await admin.loadSubscriptions(partnerId, lines) });
        });
      },
    );
  });
};
