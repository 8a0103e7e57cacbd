/**
 * The shop surface's one error mapper (shop-api.md §1): every failure is `{"message": "..."}` with its status. Bad
 * input of any kind is 400 (the device surface's 422s included), a store outage 503, a payment provider or other
 * upstream failure 502, anything unexpected 500 "Internal error" (logged; internals never answered).
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { BasketError, ERRORS } from '../../domain/errors.js';
import { ShopTokenError } from '../../auth/shop-tokens.js';
import { PspError } from '../../psp/psp.js';
import { UpstreamError } from '../../service/upstream.js';
import { isShopRuleError } from '../../domain/shop/errors.js';
import { OutageLog } from '../../store/shared/outage-log.js';
import { StoreUnavailableError } from '../../store/store.js';
import { closeIfBodyUnread, validationDetails } from '../errors.js';

export interface ShopErrorBody {
  message: string;
}

/** A failure a shop route answers as it is: `{"message"}` with `statusCode`, and optional headers. */
export class ShopError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'ShopError';
  }
}

/** `WWW-Authenticate` of a 401 (RFC 6750 §3): no error code when no credentials were sent at all. */
export function bearerChallenge(error: 'invalid_token' | 'insufficient_scope' | null): string {
  return error === null ? 'Bearer realm="shop"' : `Bearer realm="shop", error="${error}"`;
}

export function sendShopError(reply: FastifyReply, status: number, message: string): FastifyReply {
  return reply.code(status).send({ message } satisfies ShopErrorBody);
}

const FASTIFY_ERRORS: Record<string, { status: number; message: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, message: 'Request body too large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, message: 'Unsupported content type: send application/json' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, message: 'Content-Length does not match the body' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, message: 'Body is not valid JSON' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, message: 'Body is empty' },
};

/** Device-surface statuses that are bad input on the shop surface. */
const AS_BAD_REQUEST = new Set([410, 422]);

const outageLog = new OutageLog();

/** The shop scope's error handler; also what the device app's handler defers to for shop paths without a route. */
export function handleShopError(err: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  closeIfBodyUnread(request, reply);
  if (err instanceof ShopError) {
    reply.headers(err.headers);
    return sendShopError(reply, err.statusCode, err.message);
  }
  if (isShopRuleError(err)) {
    // the checkout rules' refusals (src/domain/shop/errors.ts)
    if (err.status === 503) reply.header('Retry-After', '1');
    return sendShopError(reply, err.status, err.message);
  }
  if (err instanceof ShopTokenError) {
    reply.header('WWW-Authenticate', bearerChallenge('invalid_token'));
    return sendShopError(reply, 401, err.message);
  }
  if (err.validation) {
    const first = validationDetails(err.validation, err.validationContext)[0];
    return sendShopError(reply, 400, first ? `${first.field} ${first.message}` : 'Request validation failed');
  }
  if (err instanceof StoreUnavailableError || (err instanceof BasketError && err.kind === 'SERVICE_UNAVAILABLE')) {
    if (err instanceof StoreUnavailableError) outageLog.error(request.log, err, 'store unavailable');
    reply.header('Retry-After', '1');
    return sendShopError(reply, 503, 'Service temporarily unavailable');
  }
  if (err instanceof PspError || (err instanceof BasketError && err.kind === 'PAYMENT_PROVIDER_ERROR')) {
    request.log.warn({ err }, 'payment provider failed');
    return sendShopError(reply, 502, 'The payment provider failed');
  }
  if (err instanceof UpstreamError) {
    request.log.warn({ err }, 'upstream failed');
    return sendShopError(reply, 502, err.message);
  }
  if (err instanceof BasketError) {
    const status = ERRORS[err.kind].status;
    return sendShopError(reply, AS_BAD_REQUEST.has(status) ? 400 : status, err.message);
  }
  const known = err.code ? FASTIFY_ERRORS[err.code] : undefined;
  if (known) return sendShopError(reply, known.status, known.message);
  if (err instanceof SyntaxError && err.statusCode === 400) return sendShopError(reply, 400, 'Body is not valid JSON');
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    // another client error Fastify raises: its status and its own fixed message
    return sendShopError(reply, err.statusCode, err.message);
  }
  request.log.error({ err }, 'unexpected error');
  return sendShopError(reply, 500, 'Internal error');
}
