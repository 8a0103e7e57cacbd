/**
 * Guest baskets and basket transfer (spec §3.7, §3.8): createGuestBasket (with or without `jayToken`),
 * transferBasket, and the QR image of a live transfer token. Schemas next to the routes.
 */
import { Type } from 'typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import type { PartnerConfig } from '../../config.js';
import type { BasketService } from '../../service/baskets.js';
import type { EventRecorder } from '../../service/events.js';
import { ProductIdSchema } from '../../service/catalogue.js';
import type { GuestCredentials, GuestService } from '../../service/guests.js';
import { MAX_TOKEN_LENGTH, type TransferService } from '../../service/transfer.js';
import { ownerOf, type Authenticator } from '../auth.js';
import { sendError } from '../errors.js';
import { attributionOf } from '../tracking.js';
import { BasketSchema, CommonQuery, envelope, errorResponses, isoSeconds, ref, UserIdSchema } from '../schemas.js';
import { GUEST_REQUEST, GUEST_RESPONSE, TRANSFER_REQUEST, TRANSFER_RESPONSE } from '../examples.js';
import { basketView, ok } from './baskets.js';

export interface GuestRoutesOptions {
  baskets: BasketService;
  guests: GuestService;
  transfers: TransferService;
  /** Guest creation, transfer and redemption record tracking events (issue 23). */
  events: EventRecorder;
  auth: Authenticator;
  /** Hide from the OpenAPI document (the un-prefixed twin of the /v2 routes). */
  hide: boolean;
}

export const GuestSchema = Type.Object(
  {
    userId: Type.String({ description: 'The guest user id (or, after a transfer, the id of the transferred basket)' }),
    token: Type.String({ description: 'Guest JWT: use as Bearer token on /baskets/users/{userId}/...' }),
    expires: Type.String({ format: 'date-time', description: 'When the token expires (30 days)' }),
    basket: ref(BasketSchema),
  },
  { $id: 'Guest', description: 'Guest credentials and their basket' },
);

export const TransferSchema = Type.Object(
  {
    expires: Type.String({ format: 'date-time', description: 'When the transfer token expires (60 s)' }),
    jaySource: Type.String({ description: 'The jaySource parameter added to the URL (not URL-encoded)' }),
    jayToken: Type.String({ description: 'The single-use jayToken parameter added to the URL (not URL-encoded)' }),
    url: Type.String({ description: 'The extended URL' }),
    qrCodeImageUrl: Type.Union([Type.String(), Type.Null()], { description: 'PNG of the QR code, served until the token is used or expires' }),
    qrCodeImageBase64: Type.Union([Type.String(), Type.Null()], { description: 'The same PNG, base64' }),
  },
  { $id: 'Transfer', description: 'A single-use, 60-second handover of a basket' },
);

/** The named schemas of these routes (registered once by the app). */
export const guestComponents = [GuestSchema, TransferSchema];

function guestView(c: GuestCredentials) {
  return { userId: c.userId, token: c.token, expires: isoSeconds(c.expires), basket: basketView(c.basket) };
}

export const guestRoutes: FastifyPluginAsyncTypebox<GuestRoutesOptions> = async (app, { baskets, guests, transfers, events, auth, hide }) => {
  const JayToken = Type.String({ maxLength: MAX_TOKEN_LENGTH, description: 'Transfer token from transferBasket' });
  const GuestResponse = { 200: envelope(ref(GuestSchema), 'Guest credentials and the basket'), ...errorResponses };
  const GuestBody = Type.Object({
    products: Type.Optional(
      Type.Array(
        Type.Object({
          productId: ProductIdSchema,
          count: Type.Optional(Type.Integer({ minimum: 0, maximum: baskets.limits.maxLineCount, description: '> 0: cart; 0: saved list; default 1' })),
        }),
        { maxItems: 100, description: 'Repeated product ids are merged by summing their counts' },
      ),
    ),
  });
  const base = { hide, tags: ['Device: Guest'] };
  const emptyBodyAsObject = async (req: FastifyRequest) => {
    if (req.body === undefined || req.body === null) req.body = {};
  };

  const redeem = async (req: FastifyRequest, partner: PartnerConfig, jayToken: string) => {
    const credentials = await transfers.redeem(partner, jayToken);
    void events.record(partner.id, credentials.userId, 'redeem', attributionOf(req));
    return ok(guestView(credentials));
  };

  // `/baskets/gusts` is how seed 000 spells it ("use POST /baskets/gusts with jayToken"): served as an alias, hidden
  // from the OpenAPI document.
  for (const [path, alias] of [
    ['/baskets/guests', false],
    ['/baskets/gusts', true],
  ] as const) {
    app.post(
      path,
      {
        schema: {
          ...base,
          ...(alias ? { hide: true } : {}),
          security: [{ ApiKey: [] }],
          operationId: alias ? 'createGuestBasketAlias' : 'createGuestBasket',
          summary: 'Creates a guest with a fresh basket, or (with jayToken) redeems a transfer token once',
          querystring: Type.Object({ ...CommonQuery, jayToken: Type.Optional(JayToken) }),
          body: GuestBody,
          response: GuestResponse,
          'x-body-optional': true,
          'x-errors': ['PRODUCT_NOT_FOUND', 'TRANSFER_TOKEN_INVALID'],
          'x-examples': { request: GUEST_REQUEST, response: GUEST_RESPONSE },
        },
        preValidation: emptyBodyAsObject,
        onRequest: auth.partner,
      },
      async (req) => {
        const partner = req.partner!;
        if (req.query.jayToken !== undefined) return redeem(req, partner, req.query.jayToken);
        const credentials = await guests.create(partner.id, req.body.products ?? []);
        void events.record(partner.id, credentials.userId, 'guest', attributionOf(req));
        return ok(guestView(credentials));
      },
    );

    app.get(
      path,
      {
        schema: {
          ...base,
          ...(alias ? { hide: true } : {}),
          security: [{ ApiKey: [] }],
          operationId: alias ? 'redeemTransferTokenAlias' : 'redeemTransferToken',
          summary: 'Redeems a transfer token once: guest credentials for the transferred basket',
          querystring: Type.Object({ ...CommonQuery, jayToken: JayToken }),
          response: GuestResponse,
          'x-errors': ['TRANSFER_TOKEN_INVALID'],
          'x-examples': { response: GUEST_RESPONSE },
        },
        onRequest: auth.partner,
      },
      async (req) => redeem(req, req.partner!, req.query.jayToken),
    );
  }

  app.post(
    '/baskets/users/:userId/transfer',
    {
      schema: {
        ...base,
        tags: ['Device: Basket'],
        security: [{ ApiKey: [], Bearer: [] }],
        operationId: 'transferBasket',
        summary: 'A 60-second single-use URL (and QR code) that hands the basket to another device or shop',
        params: Type.Object({ userId: UserIdSchema }),
        querystring: Type.Object({ ...CommonQuery, qr: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])) }),
        body: Type.Object({
          url: Type.Optional(Type.Union([Type.String({ maxLength: 8192 }), Type.Null()], { description: 'URL to extend; default the partner landing URL' })),
        }),
        response: { 200: envelope(ref(TransferSchema), 'The transfer'), ...errorResponses },
        'x-body-optional': true,
        'x-errors': ['TRANSFER_URL_INVALID'],
        'x-examples': { request: TRANSFER_REQUEST, response: TRANSFER_RESPONSE },
      },
      preValidation: emptyBodyAsObject,
      onRequest: auth.user,
    },
    async (req) => {
      const owner = ownerOf(req);
      const t = await transfers.create(req.partner!, owner, { url: req.body.url, qr: req.query.qr === 'true' });
      void events.record(owner.partnerId, owner.userId, 'transfer', attributionOf(req));
      return ok({ ...t, expires: isoSeconds(t.expires) });
    },
  );

  app.get(
    '/baskets/transfers/:jayToken/qr.png',
    {
      schema: {
        ...base,
        tags: ['Device: Guest'],
        operationId: 'getTransferQrCode',
        summary: 'PNG of the QR code of a transfer URL, until the token is used or expires (no auth: the token is the secret)',
        params: Type.Object({ jayToken: JayToken }),
        security: [],
        'x-media-type': 'image/png',
        'x-errors': ['NOT_FOUND', 'SERVICE_UNAVAILABLE'],
      },
    },
    async (req, reply) => {
      const png = await transfers.qrImage(req.params.jayToken);
      if (png === null) return sendError(reply, 'NOT_FOUND', 'Transfer token unknown, used or expired');
      return reply.header('Cache-Control', 'no-store').header('Referrer-Policy', 'no-referrer').type('image/png').send(png);
    },
  );
};
