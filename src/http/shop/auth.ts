/**
 * Authentication of the shop's checkout operations (shop-api.md §1): `Authorization: Bearer <shop access token>`,
 * verified, with the `checkout` scope. Any problem is 401 `{"message"}` with `WWW-Authenticate`. An onRequest hook
 * (the whole checkout scope's), so that no body is read for a request that is refused anyway.
 */
import type { FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { ShopTokenError, type ShopTokens } from '../../auth/shop-tokens.js';
import { bearerChallenge, ShopError } from './errors.js';

/** Who calls a checkout operation: the OAuth client and its partner. */
export interface ShopClientContext {
  readonly partnerId: string;
  readonly clientId: string;
  readonly scopes: readonly string[];
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the shop surface's authentication; null elsewhere. */
    shopClient: ShopClientContext | null;
  }
}

export const CHECKOUT_SCOPE = 'checkout';

/** RFC 6750 b64token. */
const BEARER = /^Bearer[ \t]+([A-Za-z0-9\-._~+/]+=*)[ \t]*$/i;

/** The caller of an authenticated shop route (a route outside the checkout scope has none: a programming error). */
export function shopClientOf(request: FastifyRequest): ShopClientContext {
  const client = request.shopClient;
  if (client === null) throw new Error('shopClientOf called on a route outside the authenticated shop scope');
  return client;
}

const unauthorized = (message: string, error: 'invalid_token' | 'insufficient_scope' | null) =>
  new ShopError(401, message, { 'WWW-Authenticate': bearerChallenge(error) });

export interface ShopAuthOptions {
  tokens: ShopTokens;
  /** Counts a failed authentication toward the address's lockout (the rate limits); awaited before the 401. */
  onFailure?: (request: FastifyRequest) => void | Promise<unknown>;
}

export function shopAuthHook({ tokens, onFailure }: ShopAuthOptions): onRequestAsyncHookHandler {
  return async (request) => {
    const header = request.headers.authorization;
    if (header === undefined || header.trim() === '') {
      await onFailure?.(request);
      throw unauthorized('Authorization header missing', null);
    }
    const m = BEARER.exec(header.trim());
    if (!m) {
      await onFailure?.(request);
      throw unauthorized('Authorization header must be "Bearer <access token>"', 'invalid_token');
    }
    let principal;
    try {
      principal = await tokens.verify(m[1]!);
    } catch (err) {
      if (!(err instanceof ShopTokenError)) throw err;
      // an expired token is a shop's everyday case, not a guess
      if (err.message !== 'token expired') await onFailure?.(request);
      throw unauthorized(err.message, 'invalid_token');
    }
    if (!principal.scopes.includes(CHECKOUT_SCOPE)) throw unauthorized(`token lacks the ${CHECKOUT_SCOPE} scope`, 'insufficient_scope');
    request.shopClient = Object.freeze({ partnerId: principal.partnerId, clientId: principal.clientId, scopes: principal.scopes });
  };
}
