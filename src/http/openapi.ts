/**
 * The OpenAPI document's finishing pass. `@fastify/swagger` builds paths and named schemas from the route schemas;
 * this pass adds what JSON Schema cannot say, from the declarative `x-` keys each route carries next to its schema:
 *
 * - `x-errors`: the error kinds (src/domain/errors.ts) the operation can answer. They, plus the ones every
 *   operation of its kind can answer (see `impliedErrors`), become one response per status whose examples are the
 *   real envelopes (`errorBody`), replacing the serializers' catch-all `4XX`/`5XX`.
 * - `x-examples`: request and response examples (the seeds'), by name.
 * - `x-body-optional`: the body may be left out (the route treats it as `{}`).
 * - `x-idempotent`: takes `Idempotency-Key` and may answer `Idempotent-Replayed: true`.
 * - `x-media-type`: the 200 answer is not JSON (e.g. `image/png`).
 *
 * Header parameters (`X-API-Version`, `X-JAY-Tracking`, `Idempotency-Key`) and response headers (`X-Request-Id`,
 * `X-API-Version`, `Retry-After`) are shared components referenced where they apply. An operation without
 * `x-errors` keeps its catch-all `4XX`, which the repository's redocly rules refuse (test/http/openapi.test.ts).
 */
import { ERRORS, type ErrorKind } from '../domain/errors.js';
import { errorBody } from './errors.js';
import { API_VERSIONS, DEFAULT_API_VERSION } from './schemas.js';

export interface OpenApiExample {
  summary?: string;
  value: unknown;
}

declare module 'fastify' {
  interface FastifySchema {
    /** The error kinds this operation answers besides those every operation of its kind can (src/http/openapi.ts). */
    'x-errors'?: readonly ErrorKind[];
    /** Request and response examples by name (values: the whole body; responses: the envelope). */
    'x-examples'?: { request?: Record<string, OpenApiExample>; response?: Record<string, OpenApiExample> };
    /** The body may be left out. */
    'x-body-optional'?: boolean;
    /** Takes an Idempotency-Key header. */
    'x-idempotent'?: boolean;
    /** The media type of the 200 answer when it is not JSON. */
    'x-media-type'?: 'image/png';
    /**
     * A shop-surface operation (shop-api.md): its error answers by status, each with the messages it can carry, as
     * `{"message"}` bodies; those every shop operation of its kind answers are added (impliedShopErrors).
     */
    'x-shop-errors'?: ShopErrorTable;
    /** The OAuth token endpoint: RFC 6749 §5.2 `{"error"}` codes by status. */
    'x-oauth-errors'?: ShopErrorTable;
  }
}

/** Status → what the answers of that status say (shop messages, or OAuth error codes). */
export type ShopErrorTable = Readonly<Partial<Record<number, readonly string[]>>>;

type Json = Record<string, unknown>;
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;
const SCHEMAS = '#/components/schemas/';

/** The seeds' tracking header: base64 JSON of `{session_id, start_time, source}`. */
const TRACKING_EXAMPLE =
  'eyJzZXNzaW9uX2lkIjoiZXhhbXBsZS1zZXNzaW9uLWlkLTEyMzQiLCJzdGFydF90aW1lIjoiMjAyNS0wMS0wMVQxMjowMDowMC4wMDAwMDAiLCJzb3VyY2UiOiJqYXkuYXBpLnBsYXlvdXQuZXhhbXBsZSJ9';

export const OPENAPI_PARAMETERS: Json = {
  ApiVersion: {
    name: 'X-API-Version',
    in: 'header',
    required: false,
    description: `The API implementation version (also accepted as X-JAY-API-Version); default ${DEFAULT_API_VERSION}. Another value answers 406.`,
    schema: { type: 'string', enum: [...API_VERSIONS] },
    example: DEFAULT_API_VERSION,
  },
  Tracking: {
    name: 'X-JAY-Tracking',
    in: 'header',
    required: false,
    description: 'The playout tracking session (base64 JSON of session_id, start_time, source), set by /playouts/tracking/session; attributes the events of the request.',
    schema: { type: 'string', maxLength: 4096 },
    example: TRACKING_EXAMPLE,
  },
  IdempotencyKey: {
    name: 'Idempotency-Key',
    in: 'header',
    required: false,
    description: 'A retry with the same key (1–255 characters) gets the first answer for 24 h; with another request: 422 `2021`.',
    schema: { type: 'string', minLength: 1, maxLength: 255 },
    example: 'c0ffee00-checkout-0001',
  },
};

export const OPENAPI_HEADERS: Json = {
  RequestId: { description: 'The request id (the client\'s X-Request-Id when short and plain); quote it when reporting a problem', schema: { type: 'string' } },
  ApiVersion: { description: 'The API version the request was processed with', schema: { type: 'string', enum: [...API_VERSIONS] } },
  RetryAfter: { description: 'Seconds to wait before trying again', schema: { type: 'integer', minimum: 0 } },
  WwwAuthenticate: { description: 'The authentication scheme to use (RFC 6750 §3, RFC 6749 §5.2)', schema: { type: 'string' } },
  IdempotentReplayed: { description: '`true` when the answer is the stored one of an earlier request with the same Idempotency-Key', schema: { type: 'string', enum: ['true'] } },
};

/** The error bodies of the shop surface (shop-api.md §1) and of its token endpoint (RFC 6749 §5.2). */
const SHOP_ERROR_SCHEMAS: Json = {
  ShopError: {
    type: 'object',
    description: 'Every error answer of the shop surface',
    required: ['message'],
    properties: { message: { type: 'string' } },
  },
  OAuthError: {
    type: 'object',
    description: 'An error of POST /oauth2/token (RFC 6749 §5.2)',
    required: ['error'],
    properties: {
      error: { type: 'string', enum: ['invalid_request', 'invalid_client', 'unsupported_grant_type', 'invalid_scope', 'server_error'] },
      error_description: { type: 'string' },
    },
  },
};

/** Examples of errors whose real details are not the symbolic name. */
const SPECIAL_EXAMPLES: Partial<Record<ErrorKind, unknown>> = {
  REQUEST_VALIDATION_ERROR: errorBody('REQUEST_VALIDATION_ERROR', 'body.count must be <= 20', [{ field: 'body.count', message: 'must be <= 20' }]),
  BAD_REQUEST: errorBody('BAD_REQUEST', 'Body is not valid JSON', 'MALFORMED_JSON'),
  VERSION_NOT_ACCEPTABLE: errorBody('VERSION_NOT_ACCEPTABLE', `API version 2024-01-01 is not supported; use one of ${API_VERSIONS.join(', ')}`, {
    supported: API_VERSIONS,
  }),
  INTERNAL_SERVER_ERROR: errorBody('INTERNAL_SERVER_ERROR', undefined, { requestId: 'req-1' }),
};

/** The kinds every operation answers by what it is: its security, its parameters, its body. */
export function impliedErrors(op: Json): ErrorKind[] {
  const schemes = new Set(((op.security as Json[] | undefined) ?? []).flatMap((s) => Object.keys(s)));
  const kinds: ErrorKind[] = [];
  if (schemes.has('ApiKey') || schemes.has('AdminKey')) kinds.push('API_KEY_INVALID');
  if (schemes.has('Bearer')) kinds.push('AUTHORIZATION_HEADER_INVALID', 'USER_MISMATCH');
  if (op.requestBody) kinds.push('BAD_REQUEST', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE');
  if (op.requestBody || (op.parameters as Json[] | undefined)?.some((p) => p.in === 'path' || p.in === 'query')) kinds.push('REQUEST_VALIDATION_ERROR');
  kinds.push('VERSION_NOT_ACCEPTABLE', 'TOO_MANY_REQUESTS', 'INTERNAL_SERVER_ERROR');
  if (schemes.size > 0) kinds.push('SERVICE_UNAVAILABLE');
  return kinds;
}

const commonHeaders = (status: number): Json => ({
  'X-Request-Id': { $ref: '#/components/headers/RequestId' },
  'X-API-Version': { $ref: '#/components/headers/ApiVersion' },
  ...(status === 429 || status === 503 ? { 'Retry-After': { $ref: '#/components/headers/RetryAfter' } } : {}),
});

/** One response per status, each with an example of every code it can carry. */
export function errorResponsesFor(kinds: readonly ErrorKind[]): Record<string, Json> {
  const byStatus = new Map<number, ErrorKind[]>();
  for (const kind of new Set(kinds)) {
    const { status } = ERRORS[kind];
    byStatus.set(status, [...(byStatus.get(status) ?? []), kind]);
  }
  const responses: Record<string, Json> = {};
  for (const [status, list] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    const examples: Json = {};
    for (const kind of list) {
      examples[kind] = { summary: `${ERRORS[kind].code}: ${ERRORS[kind].message}`, value: SPECIAL_EXAMPLES[kind] ?? errorBody(kind) };
    }
    responses[String(status)] = {
      description: list.map((k) => `\`${ERRORS[k].code}\` ${k}`).join(', '),
      headers: commonHeaders(status),
      content: { 'application/json': { schema: { $ref: `${SCHEMAS}ErrorEnvelope` }, examples } },
    };
  }
  return responses;
}

const SHOP_STATUS_TEXT: Record<number, string> = {
  400: 'Bad request',
  401: 'Missing, invalid or expired access token, or a scope missing',
  403: 'Forbidden',
  404: 'Not found',
  405: 'Method not allowed',
  409: 'Conflict',
  413: 'Request body too large',
  415: 'Unsupported content type',
  423: 'Locked',
  429: 'Too many requests',
  500: 'Internal error',
  502: 'An upstream service (payment provider, reCAPTCHA) failed or cannot be reached',
  503: 'Service temporarily unavailable',
};

/** What every shop operation answers by what it is: its security, its parameters, its body. */
export function impliedShopErrors(op: Json): Record<number, string[]> {
  const schemes = new Set(((op.security as Json[] | undefined) ?? []).flatMap((s) => Object.keys(s)));
  const implied: Record<number, string[]> = {};
  const add = (status: number, message: string) => (implied[status] = [...(implied[status] ?? []), message]);
  if (schemes.has('ShopOAuth')) add(401, 'token expired');
  if (op.requestBody) {
    add(400, 'Body is not valid JSON');
    add(413, 'Request body too large');
    add(415, 'Unsupported content type: send application/json');
  } else if ((op.parameters as Json[] | undefined)?.some((p) => p.in === 'path' || p.in === 'query')) {
    add(400, 'Request validation failed');
  }
  add(429, 'Too many requests for this partner; try again later');
  add(500, 'Internal error');
  if (schemes.has('ShopOAuth')) add(503, 'Service temporarily unavailable');
  return implied;
}

/** Error responses of the shop format (`shop`: `{"message"}`) or the token endpoint's (`oauth`: `{"error"}`). */
export function shopErrorResponsesFor(table: ShopErrorTable, format: 'shop' | 'oauth'): Record<string, Json> {
  const responses: Record<string, Json> = {};
  const statuses = Object.keys(table)
    .map(Number)
    .sort((a, b) => a - b);
  for (const status of statuses) {
    const texts = [...new Set(table[status] ?? [])];
    if (texts.length === 0) texts.push(format === 'oauth' ? (status >= 500 ? 'server_error' : 'invalid_request') : (SHOP_STATUS_TEXT[status] ?? 'Error'));
    const examples: Json = {};
    texts.forEach((text, i) => {
      examples[`e${i + 1}`] = { summary: text, value: format === 'shop' ? { message: text } : { error: text, error_description: 'A description for people' } };
    });
    responses[String(status)] = {
      description: format === 'shop' ? (SHOP_STATUS_TEXT[status] ?? 'Error') : texts.map((t) => `\`${t}\``).join(', '),
      headers: {
        'X-Request-Id': { $ref: '#/components/headers/RequestId' },
        ...(status === 401 ? { 'WWW-Authenticate': { $ref: '#/components/headers/WwwAuthenticate' } } : {}),
        ...(status === 429 || status === 503 ? { 'Retry-After': { $ref: '#/components/headers/RetryAfter' } } : {}),
      },
      content: { 'application/json': { schema: { $ref: `${SCHEMAS}${format === 'shop' ? 'ShopError' : 'OAuthError'}` }, examples } },
    };
  }
  return responses;
}

/** A shop-surface operation: `{"message"}` errors, no device version header. */
function finishShopOperation(op: Json, format: 'shop' | 'oauth'): void {
  const table = (op[format === 'shop' ? 'x-shop-errors' : 'x-oauth-errors'] ?? {}) as ShopErrorTable;
  const responses = op.responses as Record<string, Json>;
  delete responses['4XX'];
  delete responses['5XX'];
  const merged: Record<number, string[]> = {};
  const implied = format === 'shop' ? impliedShopErrors(op) : {};
  for (const source of [table, implied]) {
    for (const [status, texts] of Object.entries(source)) merged[Number(status)] = [...(merged[Number(status)] ?? []), ...(texts ?? [])];
  }
  Object.assign(responses, shopErrorResponsesFor(merged, format));
  const ok = responses['200'];
  if (ok) ok.headers = { 'X-Request-Id': { $ref: '#/components/headers/RequestId' } };
  for (const key of ['x-shop-errors', 'x-oauth-errors', 'x-examples', 'x-body-optional']) delete op[key];
}

function finishOperation(op: Json): void {
  if (op['x-shop-errors'] !== undefined) return finishShopOperation(op, 'shop');
  if (op['x-oauth-errors'] !== undefined) return finishShopOperation(op, 'oauth');
  const kinds = op['x-errors'] as ErrorKind[] | undefined;
  const examples = op['x-examples'] as { request?: Json; response?: Json } | undefined;
  const mediaType = op['x-media-type'] as string | undefined;
  const schemes = new Set(((op.security as Json[] | undefined) ?? []).flatMap((s) => Object.keys(s)));

  const parameters = ((op.parameters as Json[] | undefined) ?? []).slice();
  parameters.push({ $ref: '#/components/parameters/ApiVersion' });
  if (schemes.has('ApiKey')) parameters.push({ $ref: '#/components/parameters/Tracking' });
  if (op['x-idempotent']) parameters.push({ $ref: '#/components/parameters/IdempotencyKey' });
  op.parameters = parameters;

  const body = op.requestBody as Json | undefined;
  if (body) {
    if (op['x-body-optional']) body.required = false;
    const media = (body.content as Record<string, Json> | undefined)?.['application/json'];
    if (media && examples?.request) media.examples = examples.request;
  }

  const responses = op.responses as Record<string, Json>;
  const ok = responses['200'];
  if (ok) {
    if (mediaType) ok.content = { [mediaType]: { schema: { type: 'string', format: 'binary' } } };
    const media = (ok.content as Record<string, Json> | undefined)?.['application/json'];
    if (media && examples?.response) media.examples = examples.response;
    ok.headers = { ...commonHeaders(200), ...(op['x-idempotent'] ? { 'Idempotent-Replayed': { $ref: '#/components/headers/IdempotentReplayed' } } : {}) };
  }
  if (kinds) {
    delete responses['4XX'];
    delete responses['5XX'];
    Object.assign(responses, errorResponsesFor([...kinds, ...impliedErrors(op)]));
  }
  for (const key of ['x-errors', 'x-examples', 'x-body-optional', 'x-idempotent', 'x-media-type']) delete op[key];
}

/** Finishes the document @fastify/swagger built (see the module comment); returns it. */
export function finishDocument<T extends object>(doc: T): T {
  const d = doc as Json;
  const components = (d.components ?? {}) as Json;
  components.parameters = OPENAPI_PARAMETERS;
  components.headers = OPENAPI_HEADERS;
  d.components = components;
  let shop = false;
  let oauth = false;
  let shopOAuth = false;
  for (const item of Object.values((d.paths ?? {}) as Record<string, Json>)) {
    for (const method of METHODS) {
      const op = item[method] as Json | undefined;
      if (!op) continue;
      shop ||= op['x-shop-errors'] !== undefined;
      oauth ||= op['x-oauth-errors'] !== undefined;
      shopOAuth ||= ((op.security as Json[] | undefined) ?? []).some((sec) => 'ShopOAuth' in sec);
      finishOperation(op);
    }
  }
  // only the error schemas some operation uses (an unused component fails the lint)
  const schemas = (components.schemas ?? {}) as Json;
  if (shop) schemas.ShopError = SHOP_ERROR_SCHEMAS.ShopError;
  if (oauth) schemas.OAuthError = SHOP_ERROR_SCHEMAS.OAuthError;
  components.schemas = schemas;
  // the shop's bearer scheme only once a checkout operation uses it (a scheme no operation names fails the lint)
  const schemes = components.securitySchemes as Json | undefined;
  if (schemes && !shopOAuth) delete schemes.ShopOAuth;
  return doc;
}
