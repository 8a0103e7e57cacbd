/**
 * Tracking events for the operator and the partner's analysts (issue 23), behind the admin key:
 *
 * - `GET /admin/events?partner=&after=&limit=`: the partner's events in append order after a keyset cursor, as
 *   the JSON envelope (`nextToken` = the cursor to pass as `after` next), or as JSON lines with
 *   `Accept: application/x-ndjson` (one event per line, each with its `id`; the cursor also in `X-Next-Token`).
 * - `GET /admin/reports/providers?partner=&from=&to=&session=`: the funnel per provider and source: adds, distinct
 *   users, checkouts started, orders paid and their value (minor units).
 *
 * Both first wait for the events this process has recorded but not yet written (a few milliseconds at most).
 */
import { Type } from 'typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import type { PartnerRegistry } from '../../auth/partners.js';
import { BasketError } from '../../domain/errors.js';
import { eventView, type EventRecorder } from '../../service/events.js';
import { CursorError, EVENT_ACTIONS, type EventAction, type EventStore, type FunnelGroup } from '../../store/store.js';
import { envelope, errorResponses } from '../schemas.js';
import { adminKeyHook, adminPartner } from './admin.js';
import { ok } from './baskets.js';

export interface AdminEventsRoutesOptions {
  store: EventStore;
  events: EventRecorder;
  partners: PartnerRegistry;
  adminKey: string | null;
  /** EVENTS_TTL: the report's default range reaches back this far. */
  retentionMs: number;
  now: () => number;
}

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);
const NullableInt = Type.Union([Type.Integer(), Type.Null()]);

export const EventSchema = Type.Object({
  id: Type.String({ description: 'Position in the partner\'s list: pass it as `after` for the events that follow' }),
  time: Type.String({ format: 'date-time' }),
  action: Type.Unsafe<EventAction>(Type.String({ enum: [...EVENT_ACTIONS] })),
  user: Type.String({ description: 'Pseudonym of the user (keyed hash, per partner); never the user id' }),
  productId: Nullable(Type.String()),
  count: NullableInt,
  orderNo: Nullable(Type.String()),
  amount: Type.Union([Type.Integer(), Type.Null()], { description: "The order's full price in minor units of currency" }),
  currency: Nullable(Type.String()),
  outcome: Nullable(Type.String({ description: 'checkout_finish: ordered or aborted' })),
  sessionId: Nullable(Type.String({ description: 'session_id of X-JAY-Tracking' })),
  startTime: Nullable(Type.String({ description: 'start_time of X-JAY-Tracking' })),
  source: Nullable(Type.String({ description: 'source of X-JAY-Tracking' })),
  provider: Nullable(Type.String({ description: "The tracking session's provider, else the request's provider_id" })),
  tracking: Type.Union([Type.Literal('ok'), Type.Literal('absent'), Type.Literal('undecodable')], { description: 'How the X-JAY-Tracking header was' }),
  apiVersion: Nullable(Type.String()),
});

export const ProviderReportRowSchema = Type.Object({
  provider: Nullable(Type.String()),
  source: Nullable(Type.String()),
  adds: Type.Integer({ description: 'Products put into the cart (assign or update with a count above 0)' }),
  users: Type.Integer({ description: 'Distinct users with any event' }),
  checkoutsStarted: Type.Integer(),
  ordersPaid: Type.Integer(),
  paidValue: Type.Integer({ description: 'Value of the orders paid, minor units of currency' }),
  currency: Nullable(Type.String({ description: 'Currency of paidValue; null when nothing was paid' })),
});

/**
 * Report rows from funnel groups: one row per (provider, source); a group paid in several currencies gets a row per
 * currency, the counts other than the money repeated on each.
 */
export interface ReportRow {
  provider: string | null;
  source: string | null;
  adds: number;
  users: number;
  checkoutsStarted: number;
  ordersPaid: number;
  paidValue: number;
  currency: string | null;
}

export function reportRows(groups: readonly FunnelGroup[]): ReportRow[] {
  return groups.flatMap((g): ReportRow[] => {
    const base = { provider: g.provider, source: g.source, adds: g.adds, users: g.users, checkoutsStarted: g.checkoutsStarted };
    if (g.paid.length === 0) return [{ ...base, ordersPaid: 0, paidValue: 0, currency: null }];
    return g.paid.map((p) => ({ ...base, ordersPaid: p.orders, paidValue: p.value, currency: p.currency }));
  });
}

function timeParam(value: string | undefined, field: string): number | null {
  if (value === undefined) return null;
  const ms = /^\d{1,15}$/.test(value) ? Number(value) : /^\d{4}-\d{2}-\d{2}(T[0-9:.]+(Z|[+-]\d{2}:\d{2}))?$/.test(value) ? Date.parse(value) : NaN;
  if (!Number.isFinite(ms)) {
    throw new BasketError('REQUEST_VALIDATION_ERROR', `querystring.${field} must be an ISO 8601 time or epoch milliseconds`, [
      { field: `querystring.${field}`, message: 'must be an ISO 8601 time or epoch milliseconds' },
    ]);
  }
  return ms;
}

export const adminEventsRoutes: FastifyPluginAsyncTypebox<AdminEventsRoutesOptions> = async (app, opts) => {
  const { store, events, now } = opts;
  // the admin key before anything else, as on the catalogue routes
  app.addHook('onRequest', adminKeyHook(opts.adminKey));
  const security = [{ AdminKey: [] }];
  const tags = ['Admin'];
  const Partner = Type.String({ minLength: 1, description: 'Partner id' });

  app.get(
    '/admin/events',
    {
      schema: {
        security,
        tags,
        operationId: 'listEvents',
        summary: "A partner's tracking events in append order, after a cursor (JSON, or JSON lines with Accept: application/x-ndjson)",
        description:
          'Keyset paging: pass the `nextToken` of a page (or the `id` of the last event read) as `after`. Stable under concurrent ' +
          'writes: no event appears behind one already listed. An empty page keeps `nextToken` null: poll again with the same `after`.',
        querystring: Type.Object({
          partner: Partner,
          after: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Cursor: an event id' })),
          limit: Type.Optional(Type.String({ pattern: '^([1-9][0-9]{0,2}|1000)$', description: '1 to 1000, default 100' })),
        }),
        response: { 200: envelope(Type.Object({ events: Type.Array(EventSchema) }), 'A page of events'), ...errorResponses },
      },
    },
    async (req, reply) => {
      const partnerId = adminPartner(opts.partners, req.query.partner);
      await events.settled();
      let page;
      try {
        page = await store.listEvents(partnerId, req.query.after ?? null, Number(req.query.limit ?? 100));
      } catch (err) {
        if (err instanceof CursorError) {
          throw new BasketError('REQUEST_VALIDATION_ERROR', 'after is not an event id this service issued', [{ field: 'querystring.after', message: 'is invalid' }]);
        }
        throw err;
      }
      const views = page.events.map((e) => ({ ...eventView(e), id: e.id }));
      if ((req.headers.accept ?? '').includes('application/x-ndjson')) {
        if (page.next !== null) reply.header('X-Next-Token', page.next);
        // JSON lines, not the envelope (the type provider types send() with the envelope only)
        return (reply as FastifyReply).type('application/x-ndjson').send(views.map((v) => `${JSON.stringify(v)}\n`).join(''));
      }
      return { data: { events: views }, nextToken: page.next, error: null };
    },
  );

  app.get(
    '/admin/reports/providers',
    {
      schema: {
        security,
        tags,
        operationId: 'providerReport',
        summary: 'The funnel per provider and source: adds, distinct users, checkouts started, orders paid and their value',
        description:
          'Events in [from, to) (ISO 8601 or epoch ms; default: the retained events up to now), optionally of one playout ' +
          'session. Values in minor units; a (provider, source) paid in several currencies has a row per currency.',
        querystring: Type.Object({
          partner: Partner,
          from: Type.Optional(Type.String({ maxLength: 40 })),
          to: Type.Optional(Type.String({ maxLength: 40 })),
          session: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'session_id of X-JAY-Tracking' })),
        }),
        response: {
          200: envelope(
            Type.Object({
              from: Type.String({ format: 'date-time' }),
              to: Type.String({ format: 'date-time' }),
              session: Nullable(Type.String()),
              providers: Type.Array(ProviderReportRowSchema),
            }),
            'The funnel per provider and source',
          ),
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const partnerId = adminPartner(opts.partners, req.query.partner);
      const to = timeParam(req.query.to, 'to') ?? now() + 1;
      const from = timeParam(req.query.from, 'from') ?? to - opts.retentionMs;
      if (from > to) {
        throw new BasketError('REQUEST_VALIDATION_ERROR', 'querystring.from must not be after querystring.to', [{ field: 'querystring.from', message: 'is after to' }]);
      }
      await events.settled();
      const session = req.query.session ?? null;
      const groups = await store.eventFunnel({ partnerId, from, to, sessionId: session });
      return ok({ from: new Date(from).toISOString(), to: new Date(to).toISOString(), session, providers: reportRows(groups) });
    },
  );
};
