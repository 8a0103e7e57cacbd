/**
 * The one place where failures become the `{data, nextToken, error}` envelope: domain errors, Fastify's own
 * errors (body, content type, validation), unreachable stores and anything unexpected (500 `3001`, no internals).
 */
import type { Socket } from 'node:net';
import type { ServerResponse } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BasketError, ERRORS, type ErrorKind } from '../domain/errors.js';
import { OutageLog } from '../store/shared/outage-log.js';
import { StoreUnavailableError } from '../store/store.js';
import { handleShopError, sendShopError } from './shop/errors.js';
import { isShopPath } from './shop/paths.js';

export interface ErrorBody {
  data: null;
  nextToken: null;
  error: { code: number; message: string; details: unknown };
}

export function errorBody(kind: ErrorKind, message?: string, details?: unknown): ErrorBody {
  return {
    data: null,
    nextToken: null,
    error: { code: ERRORS[kind].code, message: message ?? ERRORS[kind].message, details: details === undefined ? kind : details },
  };
}

export function sendError(reply: FastifyReply, kind: ErrorKind, message?: string, details?: unknown): FastifyReply {
  return reply.code(ERRORS[kind].status).send(errorBody(kind, message, details));
}

interface AjvError {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** Ajv errors → `[{field, message}]` with dotted paths such as `body.count` or `params.userId`. */
export function validationDetails(errors: readonly AjvError[], context: string | undefined): { field: string; message: string }[] {
  return errors.map((e) => {
    const parts = (e.instancePath ?? '').split('/').filter(Boolean);
    const missing = e.params?.missingProperty;
    if (e.keyword === 'required' && typeof missing === 'string') parts.push(missing);
    const field = [context ?? 'body', ...parts].join('.');
    return { field, message: e.message ?? 'is invalid' };
  });
}

const FASTIFY_ERRORS: Record<string, { kind: ErrorKind; message?: string; details?: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { kind: 'PAYLOAD_TOO_LARGE' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { kind: 'UNSUPPORTED_MEDIA_TYPE', message: 'Unsupported content type: send application/json' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { kind: 'REQUEST_VALIDATION_ERROR', message: 'Content-Length does not match the body' },
};

/**
 * An answer given before the request's body was read (a missing key, a refused header) closes the connection:
 * otherwise Node would read and discard the rest of the body, however large, to keep the connection alive.
 */
export function closeIfBodyUnread(request: FastifyRequest, reply: FastifyReply): void {
  const raw = request.raw;
  if (raw.complete || request.body !== undefined) return;
  if (raw.headers['content-length'] === undefined && raw.headers['transfer-encoding'] === undefined) return;
  reply.header('Connection', 'close');
}

export function installErrorHandling(app: FastifyInstance): void {
  // a store outage fails every request alike: a few lines a second, with the count of those left out
  const outageLog = new OutageLog();
  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    // a shop path no shop route matched (its 404, a refused URL): the shop's format, not the envelope
    if (isShopPath(request.url)) return handleShopError(err, request, reply);
    closeIfBodyUnread(request, reply);
    if (err instanceof BasketError) {
      if (err.kind === 'SERVICE_UNAVAILABLE') reply.header('Retry-After', '1');
      return sendError(reply, err.kind, err.message, err.details);
    }
    if (err.validation) {
      const details = validationDetails(err.validation, err.validationContext);
      const first = details[0];
      return sendError(reply, 'REQUEST_VALIDATION_ERROR', first ? `${first.field} ${first.message}` : 'Request validation failed', details);
    }
    if (err instanceof StoreUnavailableError) {
      outageLog.error(request.log, err, 'store unavailable');
      reply.header('Retry-After', '1');
      return sendError(reply, 'SERVICE_UNAVAILABLE');
    }
    const known = err.code ? FASTIFY_ERRORS[err.code] : undefined;
    if (known) return sendError(reply, known.kind, known.message);
    if (err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || (err instanceof SyntaxError && err.statusCode === 400)) {
      return sendError(reply, 'BAD_REQUEST', 'Body is not valid JSON', 'MALFORMED_JSON');
    }
    if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      // any other client error Fastify raises: keep its status, never its internals
      return reply.code(err.statusCode).send({ data: null, nextToken: null, error: { code: err.statusCode, message: err.message, details: err.code ?? null } });
    }
    request.log.error({ err }, 'unexpected error');
    return sendError(reply, 'INTERNAL_SERVER_ERROR', undefined, { requestId: request.id });
  });
}

/** Turns a route pattern (`/baskets/users/:userId`) into a matcher for the 405 check. */
function patternToRegExp(url: string): RegExp {
  const escaped = url
    .split('/')
    .map((seg) => (seg.startsWith(':') ? '[^/]+' : seg === '*' ? '.*' : seg.replace(/::/g, ':').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${escaped}/?$`);
}

/** Unknown paths answer 404 `404`; a known path with another method answers 405 `405` with `Allow`. */
export function installNotFound(app: FastifyInstance): void {
  const routes: { re: RegExp; methods: string[] }[] = [];
  app.addHook('onRoute', (route) => {
    if (route.url.includes('*')) return;
    const methods = (Array.isArray(route.method) ? route.method : [route.method]).filter((m) => m !== 'OPTIONS');
    routes.push({ re: patternToRegExp(route.url), methods });
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '/';
    const allowed = new Set(routes.filter((r) => r.re.test(path)).flatMap((r) => r.methods));
    const shop = isShopPath(request.url);
    if (allowed.size > 0 && !allowed.has(request.method)) {
      reply.header('Allow', [...allowed].sort().join(', '));
      const message = `Method ${request.method} not allowed here`;
      return shop ? sendShopError(reply, 405, message) : sendError(reply, 'METHOD_NOT_ALLOWED', message);
    }
    const message = `Route ${request.method} ${path} not found`;
    return shop ? sendShopError(reply, 404, message) : sendError(reply, 'NOT_FOUND', message);
  });
}

/**
 * Fastify's `frameworkErrors`: errors the router raises before any hook runs (a URL that is not valid
 * percent-encoded UTF-8, such as `%ZZ` or an encoded lone surrogate `%ED%A0%80`; a path parameter over the
 * router's length limit), answered in the envelope.
 */
export function frameworkErrors(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  reply.header('X-Request-Id', request.id);
  if (isShopPath(request.url)) {
    if (err.code === 'FST_ERR_BAD_URL') return void sendShopError(reply, 400, 'The URL is not valid percent-encoded UTF-8');
    if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') return void sendShopError(reply, 400, 'A path parameter is too long');
    request.log.error({ err }, 'unexpected framework error');
    return void sendShopError(reply, 500, 'Internal error');
  }
  if (err.code === 'FST_ERR_BAD_URL') {
    sendError(reply, 'REQUEST_VALIDATION_ERROR', 'The URL is not valid percent-encoded UTF-8', [{ field: 'url', message: 'must be valid percent-encoded UTF-8' }]);
    return;
  }
  if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    sendError(reply, 'REQUEST_VALIDATION_ERROR', 'A path parameter is too long', [{ field: 'url', message: 'path parameter too long' }]);
    return;
  }
  request.log.error({ err }, 'unexpected framework error');
  sendError(reply, 'INTERNAL_SERVER_ERROR', undefined, { requestId: request.id });
}

/**
 * An error answered on the raw socket, where no Fastify reply exists. Until the request line is read the surface is
 * not known, so the body is the device envelope with the shop's `{"message"}` beside it: each surface's clients
 * find their own fields, and the other ones are unknown keys to them.
 */
function rawAnswer(status: number, reason: string, code: number, message: string, details: string): string {
  return rawResponse(status, reason, JSON.stringify({ data: null, nextToken: null, error: { code, message, details }, message }));
}

/** The same for a request known to be the shop surface's: `{"message"}` alone (shop-api.md §1). */
function rawShopAnswer(status: number, reason: string, message: string): string {
  return rawResponse(status, reason, JSON.stringify({ message }));
}

function rawResponse(status: number, reason: string, body: string): string {
  return (
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

/** What Node's parser refuses, by kind: status, reason phrase, message, and the envelope's `details`. */
const REFUSALS = {
  timeout: [408, 'Request Timeout', 'The request took too long to arrive', 'REQUEST_TIMEOUT'],
  headers: [431, 'Request Header Fields Too Large', 'Request headers too large', 'HEADERS_TOO_LARGE'],
  malformed: [400, 'Bad Request', 'Malformed HTTP request', 'BAD_REQUEST'],
} as const;
type Refusal = keyof typeof REFUSALS;

const answersOf = (answer: (status: number, reason: string, message: string, details: string) => string): Record<Refusal, string> => ({
  timeout: answer(...REFUSALS.timeout),
  headers: answer(...REFUSALS.headers),
  malformed: answer(...REFUSALS.malformed),
});
const DEVICE_ANSWERS = answersOf((status, reason, message, details) => rawAnswer(status, reason, status, message, details));
const SHOP_ANSWERS = answersOf((status, reason, message) => rawShopAnswer(status, reason, message));
/** Answered to a connection refused at the cap (src/http/connections.ts). */
export const BUSY_ANSWER = rawAnswer(503, 'Service Unavailable', ERRORS.SERVICE_UNAVAILABLE.code, 'Too many connections; try again', 'TOO_MANY_CONNECTIONS').replace(
  '\r\n\r\n',
  '\r\nRetry-After: 1\r\n\r\n',
);

/**
 * Fastify's `clientErrorHandler`: what Node's parser refuses before there is a request (headers over the size
 * limit: 431, a request not complete within REQUEST_TIMEOUT/HEADERS_TIMEOUT: 408, malformed HTTP: 400), answered
 * in the surface's format when the request line was read (a slow or malformed body), in both otherwise; then the
 * connection is closed.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  // a response already under way (the request's body timed out after its answer began): nothing more to say
  const answering = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (socket.writable && !answering?.headersSent) {
    const url = answering?.req?.url;
    const answers = url !== undefined && isShopPath(url) ? SHOP_ANSWERS : DEVICE_ANSWERS;
    const kind: Refusal = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'timeout' : err.code === 'HPE_HEADER_OVERFLOW' ? 'headers' : 'malformed';
    socket.write(answers[kind]);
  }
  socket.destroy();
}
