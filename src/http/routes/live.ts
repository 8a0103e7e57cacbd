/**
 * The live change stream (issue 22): `GET /baskets/users/{userId}/events`, Server-Sent Events of the basket
 * (the same JSON as getBasket's `data`) on connect and after every change, from any process; and
 * `POST /baskets/users/{userId}/events/tickets`, a stream ticket for clients that cannot send headers (EventSource).
 *
 * Event: `id: <basket version>`, `event: basket`, `data: <basket JSON>`. A client that reconnects with
 * `Last-Event-ID` gets the basket on connect only when its version differs (a purged and re-created basket starts
 * again at 1). Bursts are coalesced: a stream sees the latest state, not necessarily every state (service/live.ts).
 */
import { Type } from 'typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { OutgoingHttpHeaders } from 'node:http';
import { dropInternalLineFields, emptyBasket, liveBasket } from '../../domain/basket.js';
import { BasketError } from '../../domain/errors.js';
import type { StreamTickets } from '../../auth/stream-tickets.js';
import type { BasketOwner, BasketService } from '../../service/baskets.js';
import { LiveLimitError, type BasketFeed } from '../../service/live.js';
import type { StoredBasket } from '../../store/store.js';
import { ownerOf, type Authenticator } from '../auth.js';
import { EventStream, type LiveStreams, type StreamEvent } from '../live-stream.js';
import { CommonQuery, envelope, errorResponses, isoSeconds, UserIdSchema } from '../schemas.js';
import { basketView, ok } from './baskets.js';

export interface LiveRoutesOptions {
  feed: BasketFeed;
  baskets: BasketService;
  streams: LiveStreams;
  tickets: StreamTickets;
  auth: Authenticator;
  /** Hide from the OpenAPI document (the un-prefixed twin of the /v2 routes). */
  hide: boolean;
}

const tags = ['Basket'];

/** `Last-Event-ID` as a version, or null when absent or not one. */
export function lastEventId(header: unknown): number | null {
  if (typeof header !== 'string' || !/^\d{1,15}$/.test(header.trim())) return null;
  return Number(header.trim());
}

/** The stream event of a stored basket as `owner` sees it (absent or expired: empty; version 0 when absent). */
export function basketEvent(baskets: BasketService, owner: BasketOwner, stored: StoredBasket | null): StreamEvent {
  const now = baskets.now();
  const state = liveBasket(stored?.state, now) ?? emptyBasket(now, baskets.lifetime(owner));
  return { id: stored?.version ?? 0, data: JSON.stringify(basketView(state), dropInternalLineFields) };
}

/** The newer of two reads of one basket (a purge may restart versions; then either is as good). */
function newer(a: StoredBasket | null, b: StoredBasket | null): StoredBasket | null {
  return (b?.version ?? 0) > (a?.version ?? 0) ? b : a;
}

export const liveRoutes: FastifyPluginAsyncTypebox<LiveRoutesOptions> = async (app, { feed, baskets, streams, tickets, auth, hide }) => {
  const UserParams = Type.Object({ userId: UserIdSchema });

  app.get(
    '/baskets/users/:userId/events',
    {
      schema: {
        hide,
        tags,
        security: [{ ApiKey: [], Bearer: [] }, { StreamTicket: [] }],
        operationId: 'streamBasketChanges',
        summary: 'Server-Sent Events of the basket: on connect and after every change (event id: the basket version)',
        description:
          'Each event is `id: <version>`, `event: basket`, `data: <the basket, as getBasket\'s data>`. With `Last-Event-ID` ' +
          'the basket is sent on connect only when its version differs. Bursts of changes may be sent as the latest ' +
          'state only. A comment line (`:`) is sent every 15 s (LIVE_HEARTBEAT). Browsers (EventSource cannot send ' +
          'headers) pass `?ticket=` from createStreamTicket instead of the headers. At most 5 open streams per user ' +
          '(429 `2025`) and 10,000 per process (503 `3005`), both settings.',
        params: UserParams,
        querystring: Type.Object({
          ...CommonQuery,
          ticket: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, description: 'A stream ticket (createStreamTicket), instead of X-API-Key and Bearer' })),
        }),
        headers: Type.Object({
          'last-event-id': Type.Optional(Type.String({ maxLength: 32, description: 'The id (basket version) of the last event received' })),
        }),
        response: { 200: Type.String({ description: 'text/event-stream' }), ...errorResponses },
        'x-media-type': 'text/event-stream',
        'x-errors': ['TOO_MANY_REQUESTS'],
      },
      onRequest: auth.userOrTicket,
    },
    async (req, reply) => {
      const owner = ownerOf(req);
      if (!streams.accepting) throw new BasketError('SERVICE_UNAVAILABLE', 'The server is shutting down; reconnect');
      let stream: EventStream | null = null;
      // a change between watching and the first event: kept, and the newer of it and the first read is sent
      let early: StoredBasket | null = null;
      const send = (stored: StoredBasket | null) => stream?.send(basketEvent(baskets, owner, stored));
      let stop: () => void;
      try {
        stop = feed.watch(owner, {
          changed: (stored) => {
            if (stream) send(stored);
            else early = newer(early, stored);
          },
        });
      } catch (err) {
        if (!(err instanceof LiveLimitError)) throw err;
        if (err.limit === 'user') {
          reply.header('Retry-After', '5');
          throw new BasketError('TOO_MANY_REQUESTS', err.message, 'TOO_MANY_STREAMS');
        }
        throw new BasketError('SERVICE_UNAVAILABLE', err.message, 'TOO_MANY_STREAMS');
      }
      let first: StoredBasket | null;
      try {
        first = await feed.read(owner);
      } catch (err) {
        stop();
        throw err;
      }
      const res = reply.raw;
      if (req.raw.destroyed || res.destroyed) {
        stop();
        return reply.hijack();
      }
      // the headers set so far (X-Request-Id, X-API-Version, CORS) go out with the stream's own
      const headers: OutgoingHttpHeaders = {
        ...(reply.getHeaders() as OutgoingHttpHeaders),
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store, no-transform',
        // nginx and similar proxies: do not buffer the stream
        'x-accel-buffering': 'no',
      };
      reply.hijack();
      res.writeHead(200, headers);
      const opened = new EventStream(res, lastEventId(req.headers['last-event-id']));
      stream = opened;
      streams.add(opened);
      res.on('close', () => {
        stop();
        streams.delete(opened);
      });
      send(newer(first, early));
      return reply;
    },
  );

  app.post(
    '/baskets/users/:userId/events/tickets',
    {
      schema: {
        hide,
        tags,
        security: [{ ApiKey: [], Bearer: [] }],
        operationId: 'createStreamTicket',
        summary: "A short-lived ticket that opens this user's change stream without headers (for EventSource)",
        description:
          'The ticket names this basket only and opens only its change stream, read-only; pass it as `?ticket=` to ' +
          'streamBasketChanges. It expires after LIVE_TICKET_TTL (default 1 h).',
        params: UserParams,
        querystring: Type.Object(CommonQuery),
        response: {
          200: envelope(
            Type.Object({
              ticket: Type.String(),
              expires: Type.String({ format: 'date-time' }),
            }),
            'The ticket and when it stops opening streams',
          ),
          ...errorResponses,
        },
        'x-errors': [],
      },
      onRequest: auth.user,
    },
    async (req) => {
      const issued = tickets.issue(ownerOf(req));
      return ok({ ticket: issued.ticket, expires: isoSeconds(issued.expires) });
    },
  );
};
