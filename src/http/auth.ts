/**
 * Request authentication for the device surface: `X-API-Key` names the partner; on user routes the Bearer
 * JWT (partner's or guest) must belong to the path's `userId`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import type { PartnerConfig } from '../config.js';
import { BasketError } from '../domain/errors.js';
import type { PartnerRegistry } from '../auth/partners.js';
import { bearerToken, type Principal, type TokenVerifier } from '../auth/tokens.js';
import type { StreamTickets } from '../auth/stream-tickets.js';

declare module 'fastify' {
  interface FastifyRequest {
    partner: PartnerConfig | null;
    principal: Principal | null;
  }
}

function header(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  return typeof v === 'string' ? v : undefined;
}

export interface Authenticator {
  /** onRequest hook: the partner from `X-API-Key` (401 `2023`). */
  partner(request: FastifyRequest): Promise<void>;
  /** onRequest hook: partner plus a verified token whose `sub` is the path's userId (401 `2002`, 403 `2019`). */
  user(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void;
  /**
   * onRequest hook of the change stream: `?ticket=` (a stream ticket, for browsers' EventSource, which cannot send
   * headers) instead of the headers when given; otherwise as `user`. 401 `2002` for a bad or expired ticket.
   */
  userOrTicket(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void;
}

export function registerAuth(app: FastifyInstance, partners: PartnerRegistry, tokens: TokenVerifier, tickets?: StreamTickets): Authenticator {
  app.decorateRequest('partner', null);
  app.decorateRequest('principal', null);

  function partnerOf(request: FastifyRequest): PartnerConfig {
    const partner = partners.byApiKey(header(request, 'x-api-key'));
    if (!partner) throw new BasketError('API_KEY_INVALID');
    request.partner = partner;
    return partner;
  }

  const authenticator: Authenticator = {
    async partner(request) {
      partnerOf(request);
    },
    userOrTicket(request, reply, done) {
      const ticket = (request.query as { ticket?: unknown } | undefined)?.ticket;
      if (ticket === undefined) return authenticator.user(request, reply, done);
      const owner = typeof ticket === 'string' ? tickets?.verify(ticket) : null;
      const partner = owner ? partners.byId(owner.partnerId) : undefined;
      if (!owner || !partner) return done(new BasketError('AUTHORIZATION_HEADER_INVALID', 'Stream ticket missing, invalid or expired'));
      request.partner = partner;
      done(owns(request, { ...owner, expires: Number.MAX_SAFE_INTEGER }));
    },
    // Callback style: a token verified before is answered from the cache without a promise on the hot path.
    user(request, _reply, done) {
      const partner = partnerOf(request);
      const authorization = header(request, 'authorization');
      // The usual form "Bearer <token>" is looked up without parsing the header: only tokens that passed
      // bearerToken() and verification are cached, so a hit is one that parsing would have found too.
      const known = authorization?.startsWith('Bearer ') ? tokens.cached(partner, authorization.slice(7)) : undefined;
      if (known) return done(owns(request, known));
      tokens.verify(partner, bearerToken(authorization)).then((principal) => done(owns(request, principal)), done);
    },
  };
  return authenticator;
}

/** Sets the request's principal when the token's user is the path's userId; otherwise the 403 to answer. */
function owns(request: FastifyRequest, principal: Principal): BasketError | undefined {
  const { userId } = request.params as { userId?: string };
  if (principal.userId !== userId) return new BasketError('USER_MISMATCH');
  request.principal = principal;
  return undefined;
}

/** The basket owner of an authenticated user route. */
export function ownerOf(request: FastifyRequest): { partnerId: string; userId: string; guest: boolean } {
  const p = request.principal;
  if (!p) throw new Error('ownerOf called on a route without user authentication');
  return { partnerId: p.partnerId, userId: p.userId, guest: p.guest };
}
