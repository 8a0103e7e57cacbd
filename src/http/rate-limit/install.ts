/**
 * Request-rate limits on the routes (issue 17), answered with 429 `2025`, `Retry-After` and the IETF draft's
 * `RateLimit-Limit`/`-Remaining`/`-Reset`:
 *   - per partner (all requests with its API keys) and per user (partner + userId), counted after authentication,
 *     so nobody spends another user's budget with bad tokens; a partner's `rateLimits` overrides the defaults;
 *   - per client address: guest creation, transfer redemption (`/baskets/guests?jayToken=`, `/landing`, the QR
 *     image), and every other route without an API key;
 *   - failed authentications per client address (401 on API key, admin key or token; a Stripe webhook with a
 *     missing or bad signature); once the budget is spent, that address gets 429 on authenticated routes before
 *     any key or token is looked at, until the window ends.
 *
 * Each route gets its checks as route-level onRequest hooks when it is added (onRoute): the address checks
 * before its own authentication hook, the partner and user checks after it. Callback style, and a request with
 * leases in hand passes without a promise. Why not @fastify/rate-limit: docs/decisions.md.
 */
import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
  onRequestHookHandler,
  onSendHookHandler,
  RouteOptions,
} from 'fastify';
import { parseRate, type PartnerConfig, type Rate, type RateLimits } from '../../config.js';
import { BasketError, ERRORS } from '../../domain/errors.js';
import type { RateLimitStore } from '../../store/rate-limits.js';
import type { Authenticator } from '../auth.js';
import { errorBody } from '../errors.js';
import { addressKey } from './client-address.js';
import { Counter, Limiter, type Refusal, type Verdict } from './limiter.js';

export interface RateLimitingOptions {
  limits: RateLimits;
  /** The shared counter store (closed by its owner, not here). */
  store: RateLimitStore;
  log: FastifyInstance['log'];
  now: () => number;
}

type Step = (request: FastifyRequest) => Verdict | Promise<Verdict>;
interface Check {
  step: Step;
  message: string;
}

/** 401s that are no guess: the token was signed by its issuer and has only run out (a TV app's everyday case). */
const GENUINE_CREDENTIAL_REJECTIONS = new Set(['token expired']);
/** How often remembered windows that have ended are forgotten. */
const SWEEP_MS = 30_000;

interface PartnerLimits {
  partner: Rate;
  user: Rate;
  users: Limiter;
}

export class RateLimiting {
  readonly #limits: RateLimits;
  readonly #counter: Counter;
  readonly #now: () => number;
  readonly #partners: Limiter;
  readonly #byPartner = new Map<string, PartnerLimits>();
  readonly #guestIp: Limiter;
  readonly #redeemIp: Limiter;
  readonly #publicIp: Limiter;
  readonly #authFailures: Limiter;
  /** Requests whose failed authentication is already counted (an error can meet both hooks that count). */
  readonly #counted = new WeakSet<FastifyRequest>();
  readonly #sweeper: NodeJS.Timeout;

  constructor(options: RateLimitingOptions) {
    this.#limits = options.limits;
    this.#now = options.now;
    this.#counter = new Counter(options.store, options.log);
    const limiter = (namespace: string) => new Limiter(namespace, this.#counter, this.#now);
    this.#partners = limiter('partner:');
    this.#guestIp = limiter('ip-guest:');
    this.#redeemIp = limiter('ip-redeem:');
    this.#publicIp = limiter('ip:');
    this.#authFailures = limiter('ip-auth-failures:');
    this.#sweeper = setInterval(() => this.sweep(), SWEEP_MS).unref();
  }

  /** Stops the sweeper (the counter store is closed by whoever opened it). */
  close(): void {
    clearInterval(this.#sweeper);
  }

  /** Forgets windows that have ended, in every limiter. */
  sweep(): void {
    const now = this.#now();
    for (const l of [this.#partners, this.#guestIp, this.#redeemIp, this.#publicIp, this.#authFailures]) l.sweep(now);
    for (const p of this.#byPartner.values()) p.users.sweep(now);
  }

  /** A partner's rates (its `rateLimits` over the defaults) and its users' limiter. */
  #partnerLimits(partner: PartnerConfig): PartnerLimits {
    let p = this.#byPartner.get(partner.id);
    if (p === undefined) {
      const own = partner.rateLimits;
      p = {
        // validated when the configuration was loaded
        partner: (own?.partner !== undefined ? parseRate(own.partner) : null) ?? this.#limits.partner,
        user: (own?.user !== undefined ? parseRate(own.user) : null) ?? this.#limits.user,
        users: new Limiter(`user:${partner.id}:`, this.#counter, this.#now),
      };
      this.#byPartner.set(partner.id, p);
    }
    return p;
  }

  // --- the checks ------------------------------------------------------------------------------------------------

  readonly #lockout: Check = {
    // nothing recorded yet (the usual case): no address to work out
    step: (req) => (this.#authFailures.size === 0 ? true : (this.#authFailures.refused(addressKey(req.ip)) ?? true)),
    message: 'Too many failed authentications from this address; try again later',
  };

  readonly #user: Check = {
    step: (req) => {
      const p = this.#partnerLimits(req.partner!);
      return p.users.take(req.principal!.userId, p.user);
    },
    message: 'Too many requests for this user; try again later',
  };

  readonly #partner: Check = {
    step: (req) => this.#partners.take(req.partner!.id, this.#partnerLimits(req.partner!).partner),
    message: 'Too many requests with this API key; try again later',
  };

  readonly #guestOrRedeem: Check[] = [
    {
      step: (req) => (isRedemption(req) ? true : this.#guestIp.take(addressKey(req.ip), this.#limits.guestIp)),
      message: 'Too many guests created from this address; try again later',
    },
    {
      step: (req) => (isRedemption(req) ? this.#redeemIp.take(addressKey(req.ip), this.#limits.redeemIp) : true),
      message: 'Too many transfer redemptions from this address; try again later',
    },
  ];

  readonly #redeem: Check = {
    step: (req) => this.#redeemIp.take(addressKey(req.ip), this.#limits.redeemIp),
    message: 'Too many transfer redemptions from this address; try again later',
  };

  readonly #public: Check = {
    step: (req) => this.#publicIp.take(addressKey(req.ip), this.#limits.publicIp),
    message: 'Too many requests from this address; try again later',
  };

  /**
   * Counts a failed authentication of the request's address (once per request). The answer waits for the count,
   * so that a client's next request already meets the lockout when this failure spent the budget.
   */
  recordFailure(req: FastifyRequest): void | Promise<unknown> {
    if (this.#limits.authFailuresIp.max === 0 || this.#counted.has(req)) return;
    this.#counted.add(req);
    const verdict = this.#authFailures.take(addressKey(req.ip), this.#limits.authFailuresIp);
    return verdict === true || !(verdict instanceof Promise) ? undefined : verdict;
  }

  // --- wiring ----------------------------------------------------------------------------------------------------

  /**
   * The gates of a surface that places its own hooks (the shop, registered before install(): its routes get none of
   * install's): hooks answering 429 as `{"message"}`, null where the rate is off. `lockout` goes before the
   * surface's authentication, `partner` after it (`partnerOf` reads the authenticated partner).
   */
  shopGates(format: 'shop' | 'oauth' = 'shop'): ShopGates {
    const l = this.#limits;
    // the token endpoint answers RFC 6749's `{"error"}` (there is no rate code: invalid_request, with why)
    const body = format === 'shop' ? (message: string) => ({ message }) : (message: string) => ({ error: 'invalid_request', error_description: message });
    const hook = (rate: Rate, check: Check): onRequestHookHandler | null => (rate.max === 0 ? null : gate([check], this.#now, body));
    return {
      lockout: hook(l.authFailuresIp, this.#lockout),
      address: hook(l.publicIp, this.#public),
      partner: (partnerOf) =>
        hook(l.partner, {
          step: (req) => {
            const partner = partnerOf(req);
            return partner === undefined ? true : this.#partners.take(partner.id, this.#partnerLimits(partner).partner);
          },
          message: 'Too many requests for this partner; try again later',
        }),
      recordFailure: (req) => this.recordFailure(req),
    };
  }

  /** Adds the checks to every route added after this call; `auth` tells which routes authenticate whom. */
  install(app: FastifyInstance, auth: Authenticator): void {
    const on = (rate: Rate, ...checks: Check[]): Check[] => (rate.max === 0 ? [] : checks);
    const l = this.#limits;
    const lockout = on(l.authFailuresIp, this.#lockout);

    app.addHook('onRoute', (route: RouteOptions) => {
      if (route.method === 'OPTIONS' || (Array.isArray(route.method) && route.method.includes('OPTIONS'))) return;
      const url = route.url ?? '';
      const hooks = asArray(route.onRequest);
      let before: Check[];
      let after: Check[] = [];
      let failures: onSendHookHandler | null = null;
      if (hooks.includes(auth.user) || hooks.includes(auth.partner)) {
        before = [...lockout];
        if (url.endsWith('/baskets/guests')) before.push(...on(l.guestIp, this.#guestOrRedeem[0]!), ...on(l.redeemIp, this.#guestOrRedeem[1]!));
        after = hooks.includes(auth.user) ? [this.#user, this.#partner] : [this.#partner];
      } else if (url.startsWith('/admin/')) {
        before = [...lockout];
        failures = this.#failureCounter(false);
      } else if (url === '/psp/stripe/webhook') {
        // Stripe sends every event of a busy show from a few addresses: no per-address rate here, only the
        // lockout that its failed signatures earn (a forger's guesses are what needs throttling)
        before = [...lockout];
        failures = this.#failureCounter(true);
      } else if (url === '/landing' || url.endsWith('/qr.png')) {
        before = on(l.redeemIp, this.#redeem);
      } else {
        before = on(l.publicIp, this.#public);
      }
      route.onRequest = [...(before.length > 0 ? [gate(before, this.#now)] : []), ...hooks, ...(after.length > 0 ? [gate(after, this.#now)] : [])];
      if (failures) route.onSend = [...asArray(route.onSend), failures];
    });

    // 401s thrown by the authentication hooks and handlers (API key, token, admin key)
    app.addHook('onError', (req, _reply, err, done) => {
      const counting =
        err instanceof BasketError && ERRORS[err.kind].status === 401 && !GENUINE_CREDENTIAL_REJECTIONS.has(err.message) ? this.recordFailure(req) : undefined;
      if (counting) void counting.then(() => done());
      else done();
    });
  }

  /** Counts 401s a route sends without throwing; on the webhook, also its 400 for a missing or bad signature. */
  #failureCounter(signature: boolean): onSendHookHandler {
    return (req, reply, payload, done) => {
      const counting = reply.statusCode === 401 || (signature && reply.statusCode === 400) ? this.recordFailure(req) : undefined;
      if (counting) void counting.then(() => done(null, payload));
      else done(null, payload);
    };
  }
}

export interface ShopGates {
  /** Refuses an address whose failed authentications spent their budget. */
  lockout: onRequestHookHandler | null;
  /** Requests per client address (RATE_LIMIT_PUBLIC_IP): for routes without credentials. */
  address: onRequestHookHandler | null;
  /** Requests per partner (RATE_LIMIT_PARTNER, its `rateLimits.partner`), after authentication. */
  partner(partnerOf: (req: FastifyRequest) => PartnerConfig | undefined): onRequestHookHandler | null;
  /** Counts a failed authentication of the request's address; await it before answering. */
  recordFailure(req: FastifyRequest): void | Promise<unknown>;
}

function asArray<T>(value: T | T[] | undefined): T[] {
  return value === undefined ? [] : Array.isArray(value) ? [...value] : [value];
}

/** A redemption of a transfer token (GET, or POST with `jayToken`) rather than a guest creation. */
function isRedemption(req: FastifyRequest): boolean {
  return req.method === 'GET' || (req.query as { jayToken?: unknown } | undefined)?.jayToken !== undefined;
}

/** One onRequest hook running the checks in order; the first refusal answers 429. */
function gate(checks: readonly Check[], now: () => number, body: (message: string) => unknown = (m) => errorBody('TOO_MANY_REQUESTS', m)): onRequestHookHandler {
  const run = (i: number, req: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    for (; i < checks.length; i++) {
      const check = checks[i]!;
      const verdict = check.step(req);
      if (verdict === true) continue;
      if (verdict instanceof Promise) {
        const next = i + 1;
        verdict.then((v) => (v === true ? run(next, req, reply, done) : refuse(reply, v, body(check.message), now())), done);
        return;
      }
      refuse(reply, verdict, body(check.message), now());
      return;
    }
    done();
  };
  return (req, reply, done) => run(0, req, reply, done);
}

/** Answers 429 (`body`: the surface's error) with the limit's headers (done() is not called: no later hook or handler runs). */
function refuse(reply: FastifyReply, r: Refusal, body: unknown, now: number): void {
  const seconds = String(Math.max(1, Math.ceil((r.resetAt - now) / 1000)));
  reply
    .code(ERRORS.TOO_MANY_REQUESTS.status)
    .header('Retry-After', seconds)
    .header('RateLimit-Limit', String(r.max))
    .header('RateLimit-Remaining', '0')
    .header('RateLimit-Reset', seconds)
    .send(body);
}
