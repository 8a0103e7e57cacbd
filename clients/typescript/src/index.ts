/**
 * A typed client of the Basket API: `openapi-fetch` over the types `openapi-typescript` generates from the
 * service's OpenAPI document (src/schema.d.ts, `npm run generate`). Every call is checked against the document
 * (path, parameters, body) and answers either the envelope's `data` (typed by the operation) or a BasketApiError.
 *
 *   const basket = createBasketClient({ baseUrl: 'https://basket.example.com', apiKey, token });
 *   const r = await basket.GET('/v2/baskets/users/{userId}', { params: { path: { userId } } });
 *   if (r.error) console.log(r.error.status, r.error.code); else console.log(r.data.cart);
 */
import createClient, { type Client, type FetchResponse, type MaybeOptionalInit } from 'openapi-fetch';
import type { components, operations, paths } from './schema.js';

export type { components, operations, paths };
export type Schemas = components['schemas'];
export type Basket = Schemas['Basket'];
export type Line = Schemas['Line'];
export type CheckoutLine = Schemas['CheckoutLine'];
export type ProductInfo = Schemas['ProductInfo'];
export type Guest = Schemas['Guest'];
export type Transfer = Schemas['Transfer'];
export type CheckoutSession = Schemas['CheckoutSession'];
export type Order = Schemas['Order'];
export type ErrorEnvelope = Schemas['ErrorEnvelope'];

/** The API versions the document names (X-API-Version). */
export type ApiVersion = NonNullable<operations['getBasket']['parameters']['header']>['X-API-Version'];

export interface BasketClientOptions {
  /** The service's base URL, e.g. https://basket.example.com (paths carry their /v2 prefix). */
  baseUrl: string;
  /** The partner's API key (X-API-Key). */
  apiKey: string;
  /** The user's JWT (partner-issued or a guest token), sent as `Authorization: Bearer`. */
  token?: string;
  /** X-API-Version; the service's default when left out. */
  apiVersion?: ApiVersion;
  /** X-JAY-Tracking: the playout tracking session, sent with every request. */
  tracking?: string;
  /** Another fetch (tests, proxies); default: the global one. */
  fetch?: (input: Request) => Promise<Response>;
}

/** An error answer of the API: the HTTP status and the envelope's code, message and details. */
export class BasketApiError extends Error {
  readonly status: number;
  /** The API error code (`error.code`, e.g. 2017); null when the answer was not the envelope (a proxy's page). */
  readonly code: number | null;
  readonly details: unknown;
  /** X-Request-Id of the answer: quote it when reporting a problem. */
  readonly requestId: string | null;

  constructor(status: number, code: number | null, message: string, details: unknown, requestId: string | null) {
    super(message);
    this.name = 'BasketApiError';
    this.status = status;
    this.code = code;
    this.details = details;
    this.requestId = requestId;
  }
}

/** A call's outcome: the envelope's data (and nextToken), or the error. */
export type BasketResult<T> =
  | { data: T; nextToken: string | null; error?: undefined; response: Response }
  | { data?: undefined; nextToken?: undefined; error: BasketApiError; response: Response };

type HttpMethod = 'get' | 'put' | 'post' | 'delete' | 'patch';
type PathsWith<M extends HttpMethod> = { [P in keyof paths]: paths[P] extends { [K in M]: object } ? P : never }[keyof paths];
type RequiredKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T];
type InitArgs<Init> = RequiredKeys<Init> extends never ? [(Init & { [key: string]: unknown })?] : [Init & { [key: string]: unknown }];
/** The success payload: the envelope's `data`, or the body itself when it is not an envelope (JWKS, a PNG). */
type Payload<R> = R extends { data: infer D } ? Unwrapped<D> : never;
type Unwrapped<D> = D extends { data: infer X; nextToken: string | null } ? X : D;

export type BasketMethod<M extends HttpMethod> = <P extends PathsWith<M>, Init extends MaybeOptionalInit<paths[P], M>>(
  url: P,
  ...init: InitArgs<Init>
) => Promise<BasketResult<Payload<FetchResponse<NonNullable<paths[P][M]>, Init, `${string}/${string}`>>>>;

export interface BasketClient {
  GET: BasketMethod<'get'>;
  POST: BasketMethod<'post'>;
  PUT: BasketMethod<'put'>;
  PATCH: BasketMethod<'patch'>;
  DELETE: BasketMethod<'delete'>;
  /** The same client for another user's token (e.g. the guest token createGuestBasket answered). */
  withToken(token: string): BasketClient;
  /** The underlying openapi-fetch client (raw envelopes, middleware). */
  readonly raw: Client<paths>;
}

function isEnvelope(body: unknown): body is { data: unknown; nextToken: string | null; error: null } {
  return typeof body === 'object' && body !== null && 'data' in body && 'error' in body && 'nextToken' in body;
}

function toError(response: Response, body: unknown): BasketApiError {
  const requestId = response.headers.get('x-request-id');
  if (isEnvelope(body) && typeof body.error === 'object' && body.error !== null) {
    const e = body.error as { code?: unknown; message?: unknown; details?: unknown };
    return new BasketApiError(response.status, typeof e.code === 'number' ? e.code : null, String(e.message ?? response.statusText), e.details ?? null, requestId);
  }
  return new BasketApiError(response.status, null, typeof body === 'string' && body !== '' ? body.slice(0, 200) : response.statusText, null, requestId);
}

function toResult(r: { data?: unknown; error?: unknown; response: Response }): BasketResult<unknown> {
  if (!r.response.ok) return { error: toError(r.response, r.error), response: r.response };
  if (isEnvelope(r.data)) return { data: r.data.data, nextToken: r.data.nextToken, response: r.response };
  return { data: r.data, nextToken: null, response: r.response };
}

type RawCall = (url: string, init?: object) => Promise<{ data?: unknown; error?: unknown; response: Response }>;

export function createBasketClient(options: BasketClientOptions): BasketClient {
  const headers: Record<string, string> = { 'X-API-Key': options.apiKey };
  if (options.token !== undefined) headers.Authorization = `Bearer ${options.token}`;
  if (options.apiVersion !== undefined) headers['X-API-Version'] = options.apiVersion;
  if (options.tracking !== undefined) headers['X-JAY-Tracking'] = options.tracking;
  const raw = createClient<paths>({ baseUrl: options.baseUrl.replace(/\/+$/, ''), headers, ...(options.fetch ? { fetch: options.fetch } : {}) });
  // openapi-fetch's methods are generic per path; the wrapper keeps their signature (BasketMethod) and only
  // changes what they answer
  const wrap = <M extends HttpMethod>(method: Uppercase<M>): BasketMethod<M> => {
    const call = raw[method] as unknown as RawCall;
    return ((url: string, init?: object) => call(url, init).then(toResult)) as unknown as BasketMethod<M>;
  };
  return {
    GET: wrap<'get'>('GET'),
    POST: wrap<'post'>('POST'),
    PUT: wrap<'put'>('PUT'),
    PATCH: wrap<'patch'>('PATCH'),
    DELETE: wrap<'delete'>('DELETE'),
    withToken: (token) => createBasketClient({ ...options, token }),
    raw,
  };
}
