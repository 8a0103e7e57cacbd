/**
 * reCAPTCHA verification of the shop surface (shop-api.md §1, issue 20): a pluggable verifier per partner. Google's
 * siteverify with the partner's secret in production; the development verifier (every token but `invalid`) for the
 * development partner and tests. A verifier that cannot give an answer (unreachable, timeout, non-200, an answer that
 * is not siteverify's, our own secret refused) throws UpstreamError: the shop answers 502, not a shopper's 400.
 */
import type { PartnerConfig } from '../config.js';
import { UpstreamError } from '../service/upstream.js';

export type RecaptchaVerdict = { ok: true } | { ok: false; reason: string };

export interface RecaptchaVerifier {
  /** `remoteIp`: the shopper's address when known (optional in siteverify). */
  verify(token: string, remoteIp: string | undefined): Promise<RecaptchaVerdict>;
}

/** Accepts every token except `invalid` (shop-api.md §4): for development and tests only (refused in production). */
export class DevelopmentRecaptchaVerifier implements RecaptchaVerifier {
  async verify(token: string): Promise<RecaptchaVerdict> {
    return token === 'invalid' ? { ok: false, reason: 'the development verifier rejects the token "invalid"' } : { ok: true };
  }
}

export const DEFAULT_MIN_SCORE = 0.5;
export const DEFAULT_RECAPTCHA_TIMEOUT_MS = 3000;

/** siteverify error codes that are our configuration's fault, not the shopper's token (Google's documentation). */
const OUR_FAULT = new Set(['missing-input-secret', 'invalid-input-secret', 'bad-request']);

interface SiteverifyAnswer {
  success: boolean;
  score?: number;
  'error-codes'?: string[];
}

function isAnswer(v: unknown): v is SiteverifyAnswer {
  if (typeof v !== 'object' || v === null) return false;
  const a = v as Record<string, unknown>;
  return (
    typeof a.success === 'boolean' &&
    (a.score === undefined || typeof a.score === 'number') &&
    (a['error-codes'] === undefined || (Array.isArray(a['error-codes']) && a['error-codes'].every((c) => typeof c === 'string')))
  );
}

/** Google's siteverify (https://developers.google.com/recaptcha/docs/verify), v2 and v3 (score threshold). */
export class GoogleRecaptchaVerifier implements RecaptchaVerifier {
  readonly #secret: string;
  readonly #minScore: number;
  readonly #url: string;
  readonly #timeoutMs: number;

  constructor(opts: { secret: string; minScore?: number; verifyUrl: string; timeoutMs?: number }) {
    this.#secret = opts.secret;
    this.#minScore = opts.minScore ?? DEFAULT_MIN_SCORE;
    this.#url = opts.verifyUrl;
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_RECAPTCHA_TIMEOUT_MS;
  }

  async verify(token: string, remoteIp: string | undefined): Promise<RecaptchaVerdict> {
    const form = new URLSearchParams({ secret: this.#secret, response: token });
    if (remoteIp !== undefined) form.set('remoteip', remoteIp);
    let res: Response;
    let body: unknown;
    try {
      res = await fetch(this.#url, { method: 'POST', body: form, signal: AbortSignal.timeout(this.#timeoutMs), redirect: 'error' });
      // read (and so release) the body whatever the status
      const text = await res.text();
      if (res.status !== 200) throw new UpstreamError(`reCAPTCHA verification failed (siteverify answered ${res.status})`);
      body = JSON.parse(text);
    } catch (err) {
      if (err instanceof UpstreamError) throw err;
      const timeout = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      // the cause is kept for the log; the secret is in the request body, never in fetch's error messages
      throw new UpstreamError(timeout ? 'reCAPTCHA verification timed out' : 'reCAPTCHA verification is unavailable', { cause: err });
    }
    if (!isAnswer(body)) throw new UpstreamError('reCAPTCHA verification gave an unexpected answer');
    const codes = body['error-codes'] ?? [];
    if (codes.some((c) => OUR_FAULT.has(c))) throw new UpstreamError(`reCAPTCHA verification refused our request (${codes.join(', ')})`);
    if (!body.success) return { ok: false, reason: codes.length > 0 ? codes.join(', ') : 'rejected' };
    // v3 answers carry a score (1.0 very likely a person); v2 answers none
    if (body.score !== undefined && body.score < this.#minScore) return { ok: false, reason: `score ${body.score} is below ${this.#minScore}` };
    return { ok: true };
  }
}

/** One verifier per partner with a shop, built from its `shop.recaptcha`. */
export class RecaptchaVerifiers {
  readonly #byPartner = new Map<string, RecaptchaVerifier>();

  constructor(partners: readonly PartnerConfig[], opts: { verifyUrl: string; timeoutMs?: number }) {
    for (const p of partners) {
      const r = p.shop?.recaptcha;
      if (r === undefined) continue;
      this.#byPartner.set(
        p.id,
        'development' in r
          ? new DevelopmentRecaptchaVerifier()
          : new GoogleRecaptchaVerifier({ secret: r.secret, verifyUrl: opts.verifyUrl, ...(r.minScore !== undefined ? { minScore: r.minScore } : {}), ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}) }),
      );
    }
  }

  /** The partner's verifier; undefined for a partner without a shop (it has no shop clients either). */
  for(partnerId: string): RecaptchaVerifier | undefined {
    return this.#byPartner.get(partnerId);
  }
}
