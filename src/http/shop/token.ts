/**
 * `POST /oauth2/token` (shop-api.md §2; RFC 6749 §4.4 client credentials, §5.2 errors): a form-encoded body, the client
 * authenticated by its form fields or HTTP Basic (not both), answered `{access_token, token_type, expires_in, scope}`
 * with `Cache-Control: no-store`. Every failure is RFC 6749's `{"error", "error_description"}`, not the shop's
 * `{"message"}`: OAuth client libraries read these. Failed client authentications count toward the address's
 * lockout (src/http/rate-limit), so secrets cannot be guessed at speed.
 */
import { Type } from 'typebox';
import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import type { ShopClient, ShopClients } from '../../auth/shop-clients.js';
import type { ShopTokens } from '../../auth/shop-tokens.js';
import { BasketError, ERRORS } from '../../domain/errors.js';
import { SHOP_TOKEN_PATH } from './paths.js';

export type OAuthErrorCode = 'invalid_request' | 'invalid_client' | 'unsupported_grant_type' | 'invalid_scope' | 'server_error';

export interface TokenRouteOptions {
  clients: ShopClients;
  tokens: ShopTokens;
  /** Counts a failed client authentication; awaited before the 401. */
  onFailure?: (request: FastifyRequest) => void | Promise<unknown>;
  /** Rate-limit gates run before anything else of the request (lockout, per address). */
  gates?: readonly onRequestHookHandler[];
}

/** A token request's body is a few hundred bytes; anything near this is not one. */
export const TOKEN_BODY_LIMIT = 4096;

class OAuthError extends Error {
  constructor(
    readonly status: number,
    readonly error: OAuthErrorCode,
    readonly description: string,
    readonly basic = false,
  ) {
    super(description);
    this.name = 'OAuthError';
  }
}

function sendOAuthError(reply: FastifyReply, status: number, error: OAuthErrorCode, description: string, basic = false): FastifyReply {
  // RFC 6749 §5.2: a client that tried HTTP Basic is challenged again
  if (basic) reply.header('WWW-Authenticate', 'Basic realm="shop", charset="UTF-8"');
  return reply.code(status).header('Cache-Control', 'no-store').header('Pragma', 'no-cache').send({ error, error_description: description });
}

/** Form fields: a name given twice is an array (refused: RFC 6749 §3.2, each parameter at most once). */
type Form = Record<string, string | string[]>;

function parseForm(text: string): Form {
  const form: Form = Object.create(null) as Form;
  for (const [name, value] of new URLSearchParams(text)) {
    const seen = form[name];
    form[name] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
  }
  return form;
}

/** RFC 6749 §2.3.1: `Basic base64(urlencode(id) ":" urlencode(secret))`; null for another scheme. */
function basicCredentials(header: string | undefined): { id: string; secret: string } | null | 'malformed' {
  if (header === undefined) return null;
  const m = /^Basic[ \t]+([A-Za-z0-9+/]+=*)[ \t]*$/i.exec(header.trim());
  if (!m) return /^basic(\s|$)/i.test(header.trim()) ? 'malformed' : null;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return 'malformed';
  try {
    const unescape = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
    return { id: unescape(decoded.slice(0, colon)), secret: unescape(decoded.slice(colon + 1)) };
  } catch {
    return 'malformed';
  }
}

const TokenBody = Type.Object(
  {
    grant_type: Type.String({ description: 'Only `client_credentials`' }),
    client_id: Type.Optional(Type.String({ description: 'With client_secret, unless HTTP Basic is used' })),
    client_secret: Type.Optional(Type.String()),
    scope: Type.Optional(Type.String({ description: 'Space-separated subset of the client\'s scopes; default: all of them' })),
  },
  { additionalProperties: true },
);

const TokenAnswer = Type.Object({
  access_token: Type.String({ description: 'A JWT; send it as `Authorization: Bearer <access_token>`' }),
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer({ description: 'Seconds', examples: [3600] }),
  scope: Type.String({ examples: ['checkout'] }),
});

/** Which client authenticates: Basic or the form's fields, not both (RFC 6749 §2.3: one method per request). */
function authenticate(clients: ShopClients, request: FastifyRequest, form: Form): ShopClient {
  const basic = basicCredentials(request.headers.authorization);
  const formId = form.client_id;
  const formSecret = form.client_secret;
  if (basic === 'malformed') throw new OAuthError(401, 'invalid_client', 'The Basic credentials are malformed', true);
  if (basic !== null) {
    if (formSecret !== undefined || (formId !== undefined && formId !== basic.id)) {
      throw new OAuthError(400, 'invalid_request', 'Authenticate the client either by HTTP Basic or by client_id and client_secret, not both');
    }
    const client = clients.authenticate(basic.id, basic.secret);
    if (!client) throw new OAuthError(401, 'invalid_client', 'Client authentication failed', true);
    return client;
  }
  if (formId === undefined || formSecret === undefined) {
    throw new OAuthError(400, 'invalid_request', 'client_id and client_secret are required (or HTTP Basic)');
  }
  if (typeof formId !== 'string' || typeof formSecret !== 'string') throw new OAuthError(400, 'invalid_request', 'A parameter is given more than once');
  const client = clients.authenticate(formId, formSecret);
  if (!client) throw new OAuthError(401, 'invalid_client', 'Client authentication failed');
  return client;
}

/** The granted scopes: the requested ones when all are the client's, else invalid_scope; none asked: all of them. */
function grantedScopes(client: ShopClient, requested: string | undefined): string[] {
  if (requested === undefined) return [...client.scopes];
  const asked = requested.split(' ').filter((s) => s !== '');
  if (asked.length === 0) throw new OAuthError(400, 'invalid_scope', 'scope is empty');
  const missing = asked.find((s) => !client.scopes.includes(s));
  if (missing !== undefined) throw new OAuthError(400, 'invalid_scope', `The client may not ask for scope ${JSON.stringify(missing.slice(0, 64))}`);
  return [...new Set(asked)];
}

/** Fastify's failures on this route (body, content type, size), in RFC 6749's format. */
function tokenErrorHandler(err: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (err instanceof OAuthError) return sendOAuthError(reply, err.status, err.error, err.description, err.basic);
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return sendOAuthError(reply, 413, 'invalid_request', 'Request body too large');
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return sendOAuthError(reply, 400, 'invalid_request', 'Send the parameters as application/x-www-form-urlencoded');
  if (err.validation) {
    const e = err.validation[0];
    const missing = e?.params && typeof e.params.missingProperty === 'string' ? e.params.missingProperty : undefined;
    if (missing) return sendOAuthError(reply, 400, 'invalid_request', `${missing} is required`);
    const field = e?.instancePath ? e.instancePath.slice(1) : '';
    // a parameter given twice arrives as an array
    return sendOAuthError(reply, 400, 'invalid_request', field ? `${field} is given more than once or is invalid` : 'Send the parameters as application/x-www-form-urlencoded');
  }
  // the app-wide checks before the route (a URL that is not well-formed UTF-8, with NUL, ...)
  if (err instanceof BasketError && ERRORS[err.kind].status < 500) return sendOAuthError(reply, 400, 'invalid_request', err.message);
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) return sendOAuthError(reply, 400, 'invalid_request', 'Malformed request');
  request.log.error({ err }, 'unexpected error');
  return sendOAuthError(reply, 500, 'server_error', 'Internal error');
}

export const tokenRoute: FastifyPluginAsync<TokenRouteOptions> = async (app, { clients, tokens, onFailure, gates }) => {
  // this scope speaks forms only: the JSON parser inherited from the app is removed (a JSON body is a 400 here)
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: TOKEN_BODY_LIMIT }, (_req, body, done) => {
    done(null, parseForm(typeof body === 'string' ? body : body.toString('utf8')));
  });

  app.post(
    SHOP_TOKEN_PATH,
    {
      onRequest: [...(gates ?? [])],
      errorHandler: tokenErrorHandler,
      schema: {
        tags: ['Shop: OAuth'],
        operationId: 'shopToken',
        summary: 'Get an access token (OAuth 2.0 client credentials)',
        description:
          'RFC 6749 §4.4. Authenticate the client with HTTP Basic or with client_id and client_secret in the form (not both). ' +
          'Errors are RFC 6749 §5.2 bodies `{"error", "error_description"}`.',
        security: [{}, { ShopClientBasic: [] }],
        consumes: ['application/x-www-form-urlencoded'],
        body: TokenBody,
        response: { 200: TokenAnswer },
        'x-oauth-errors': {
          400: ['invalid_request', 'unsupported_grant_type', 'invalid_scope'],
          401: ['invalid_client'],
          413: ['invalid_request'],
          429: [],
          500: ['server_error'],
        },
      },
    },
    async (request, reply) => {
      const form = request.body as Form;
      let client: ShopClient;
      try {
        client = authenticate(clients, request, form);
      } catch (err) {
        if (err instanceof OAuthError && err.status === 401) await onFailure?.(request);
        throw err;
      }
      if (form.grant_type !== 'client_credentials') {
        throw new OAuthError(400, 'unsupported_grant_type', 'Only grant_type=client_credentials is supported');
      }
      if (Array.isArray(form.scope)) throw new OAuthError(400, 'invalid_request', 'scope is given more than once');
      const scopes = grantedScopes(client, form.scope);
      const issued = await tokens.issue(client, scopes);
      return reply
        .header('Cache-Control', 'no-store')
        .header('Pragma', 'no-cache')
        .send({ access_token: issued.accessToken, token_type: 'Bearer', expires_in: issued.expiresIn, scope: issued.scope });
    },
  );
};
