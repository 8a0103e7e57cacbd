/**
 * Rules of a partner entry that its schema cannot express and that would otherwise only fail later, at every
 * checkout, transfer or CORS request of that partner: checked once at start (config.ts turns a problem into
 * a ConfigError naming the field). Messages never repeat a secret's value.
 */
import type { PartnerConfig } from './config.js';
import { normalizeHostPattern, parseTransferUrl } from './domain/transfer-url.js';
import { KNOWN_PSPS } from './psp/psp.js';

export interface PartnerProblem {
  /** JSON pointer inside the partner entry, e.g. `/psps/0`. */
  path: string;
  message: string;
}

const STRIPE_SECRET = /^(sk|rk)_(test|live)_\w+$/;
const STRIPE_PUBLISHABLE = /^pk_(test|live)_\w+$/;
const STRIPE_WEBHOOK_SECRET = /^whsec_\w+$/;

const modeOf = (key: string): 'test' | 'live' => (/^[a-z]+_test_/.test(key) ? 'test' : 'live');

function absoluteUrlProblem(value: string): string | null {
  try {
    const url = new URL(value);
    if (url.hostname === '') return 'not an absolute http(s) URL with a host';
    if (url.username !== '' || url.password !== '') return 'must not contain credentials';
    return null;
  } catch {
    return 'not an absolute http(s) URL';
  }
}

function pspProblem(p: PartnerConfig): PartnerProblem | null {
  if (p.psps !== undefined) {
    if (p.psps.length === 0) return { path: '/psps', message: 'is empty: name at least one payment provider, or leave psps out (sandbox)' };
    for (const [j, name] of p.psps.entries()) {
      if (!(KNOWN_PSPS as readonly string[]).includes(name)) {
        return { path: `/psps/${j}`, message: `unknown payment provider ${JSON.stringify(name)} (known: ${KNOWN_PSPS.join(', ')})` };
      }
    }
  }
  const stripe = p.stripe;
  if (p.psps?.includes('stripe') && stripe === undefined) {
    return { path: '/stripe', message: 'payment provider "stripe" is enabled in psps but stripe.secretKey and stripe.publishableKey are not set' };
  }
  if (stripe === undefined) return null;
  if (!STRIPE_SECRET.test(stripe.secretKey)) {
    return { path: '/stripe/secretKey', message: 'is not a Stripe secret key (sk_test_…, sk_live_…, or a restricted rk_test_… / rk_live_…)' };
  }
  if (!STRIPE_PUBLISHABLE.test(stripe.publishableKey)) {
    return { path: '/stripe/publishableKey', message: 'is not a Stripe publishable key (pk_test_… or pk_live_…)' };
  }
  const mode = modeOf(stripe.secretKey);
  if (modeOf(stripe.publishableKey) !== mode) {
    return { path: '/stripe/publishableKey', message: `is a ${modeOf(stripe.publishableKey)} key but stripe.secretKey is a ${mode} key: the app could not confirm any payment` };
  }
  if (stripe.testMode !== undefined && stripe.testMode !== (mode === 'test')) {
    return { path: '/stripe/testMode', message: `is ${String(stripe.testMode)} but stripe.secretKey is a ${mode} key: every checkout would be refused` };
  }
  if (stripe.webhookSecret !== undefined && !STRIPE_WEBHOOK_SECRET.test(stripe.webhookSecret)) {
    return { path: '/stripe/webhookSecret', message: "is not a Stripe webhook signing secret (whsec_…, from the webhook endpoint's page)" };
  }
  // without it no payment is confirmed: orders would wait PAYMENT_TTL for their deadline to find out (docs/deploy.md)
  if (p.psps?.includes('stripe') && stripe.webhookSecret === undefined) {
    return { path: '/stripe/webhookSecret', message: 'is not set: without it no Stripe payment is ever confirmed (register the webhook, docs/deploy.md)' };
  }
  return null;
}

function urlProblem(p: PartnerConfig): PartnerProblem | null {
  for (const field of ['shopUrl', 'orderWebhookUrl'] as const) {
    const value = p[field];
    const problem = value === undefined ? null : absoluteUrlProblem(value);
    if (problem) return { path: `/${field}`, message: problem };
  }
  if (p.jwt.jwksUrl !== undefined) {
    const problem = absoluteUrlProblem(p.jwt.jwksUrl);
    if (problem) return { path: '/jwt/jwksUrl', message: problem };
  }
  if (p.landingUrl !== undefined) {
    try {
      // the same check a transfer to the landing URL runs (trusted: the allow-list does not apply to it)
      parseTransferUrl(p.landingUrl, { hosts: p.transferHosts }, true);
    } catch (err) {
      return { path: '/landingUrl', message: (err as Error).message };
    }
  }
  for (const [j, entry] of (p.transferHosts ?? []).entries()) {
    const raw = entry.trim();
    const host = normalizeHostPattern(raw.startsWith('*.') ? raw.slice(2) : raw);
    if (host === null || (raw.startsWith('*.') && host.includes(':'))) {
      return { path: `/transferHosts/${j}`, message: `${JSON.stringify(entry)} is not a host (shop.example.com, shop.example.com:8443 or *.example.com): it would never match` };
    }
  }
  for (const [j, origin] of (p.allowedOrigins ?? []).entries()) {
    if (origin === '*') continue;
    let canonical: string | null = null;
    try {
      canonical = new URL(origin).origin;
    } catch {
      // not a URL at all
    }
    if (canonical !== origin) {
      const hint = canonical && canonical !== 'null' ? `; did you mean ${JSON.stringify(canonical)}?` : '';
      return { path: `/allowedOrigins/${j}`, message: `${JSON.stringify(origin)} is not an origin (scheme://host[:port], no path or trailing slash): it would never match${hint}` };
    }
  }
  return null;
}

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * The shop surface: secrets given as `sha256:` must be a digest, and the shop URL an https URL (plain http only on
 * a loopback host, for development): recovery links redirect shoppers there and its origin is allowed by CORS.
 */
function shopProblem(p: PartnerConfig): PartnerProblem | null {
  const shop = p.shop;
  if (shop === undefined) return null;
  for (const [j, client] of shop.clients.entries()) {
    if (client.secret.startsWith('sha256:') && !/^sha256:[0-9a-fA-F]{64}$/.test(client.secret)) {
      return { path: `/shop/clients/${j}/secret`, message: 'must be sha256:<64 hex digits> (or a plain secret of 16+ characters not starting with sha256:)' };
    }
    if (new Set(client.scopes).size !== client.scopes.length) return { path: `/shop/clients/${j}/scopes`, message: 'lists a scope twice' };
  }
  const problem = absoluteUrlProblem(shop.url);
  if (problem) return { path: '/shop/url', message: problem };
  const url = new URL(shop.url);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOCAL_HOSTS.has(url.hostname))) {
    return { path: '/shop/url', message: 'must be an https URL (http only for localhost, 127.0.0.1 or [::1])' };
  }
  return null;
}

/** The first problem of a partner entry that passed its schema, or null. */
export function partnerProblem(p: PartnerConfig): PartnerProblem | null {
  return pspProblem(p) ?? urlProblem(p) ?? shopProblem(p);
}
