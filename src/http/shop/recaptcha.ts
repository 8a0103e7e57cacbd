/**
 * `x-limio-recaptcha` on the shop operations that need it (shop-api.md §1, §3.4, §3.6): a preHandler (after the body
 * is validated, so a shopper's one-use token is not spent on a request refused anyway). Missing or rejected: 400;
 * the verifier unreachable: its UpstreamError, 502.
 */
import { isIP } from 'node:net';
import type { FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import type { RecaptchaVerifiers } from '../../auth/recaptcha.js';
import { shopClientOf } from './auth.js';
import { ShopError } from './errors.js';

export const RECAPTCHA_HEADER = 'x-limio-recaptcha';
/** Google's tokens are ~2 KB; far longer is not one. */
const MAX_TOKEN_LENGTH = 8192;

/**
 * The shopper's address for siteverify's optional `remoteip`: the first `x-forwarded-for` entry the shop's server
 * passes on (shop-api.md §3.4) when it is an IP address, else the caller's own.
 */
export function shopperIp(request: FastifyRequest): string | undefined {
  const forwarded = request.headers['x-forwarded-for'];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
  if (first !== undefined && isIP(first) !== 0) return first;
  return request.ip || undefined;
}

export function requireRecaptcha(verifiers: RecaptchaVerifiers): preHandlerAsyncHookHandler {
  return async (request) => {
    const token = request.headers[RECAPTCHA_HEADER];
    if (typeof token !== 'string' || token.trim() === '') throw new ShopError(400, `The ${RECAPTCHA_HEADER} header is required`);
    if (token.length > MAX_TOKEN_LENGTH) throw new ShopError(400, `The ${RECAPTCHA_HEADER} header is too long`);
    const verifier = verifiers.for(shopClientOf(request).partnerId);
    // a partner with shop clients always has a shop.recaptcha (config schema); none here is a wiring mistake
    if (verifier === undefined) throw new Error(`no reCAPTCHA verifier for partner ${shopClientOf(request).partnerId}`);
    const verdict = await verifier.verify(token.trim(), shopperIp(request));
    if (!verdict.ok) {
      request.log.info({ reason: verdict.reason }, 'reCAPTCHA rejected');
      throw new ShopError(400, 'reCAPTCHA verification failed');
    }
  };
}
