/**
 * Device token verification (spec §2): partner JWTs with the partner's key material, guest JWTs with the service's
 * own keys. Imported keys live per partner; verified tokens are cached until expiry so the hot path skips crypto.
 */
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import {
  createRemoteJWKSet,
  decodeJwt,
  errors,
  importJWK,
  importSPKI,
  importX509,
  type CryptoKey,
  type JWK,
  type JWTHeaderParameters,
  type JWTPayload,
  type RemoteJWKSet,
} from 'jose';
import type { PartnerConfig, PartnerJwtConfig } from '../config.js';
import { BasketError } from '../domain/errors.js';
import { invalidToken, tokenError } from './errors.js';
import { verifyJws, type ClaimRules, type KeyedSignatureCheck, type SignatureCheck } from './jws-verify.js';
import { publicKeySignature } from './public-key-verify.js';
import { partnerKeyInfo } from './partner-keys.js';
import type { ServiceKeys } from './service-keys.js';

export interface Principal {
  partnerId: string;
  userId: string;
  guest: boolean;
  /** epoch ms */
  expires: number;
}

export interface TokenVerifier {
  verify(partner: PartnerConfig, token: string): Promise<Principal>;
  /** The principal of a token verified before and not expired since, without verifying anything; else undefined. */
  cached(partner: PartnerConfig, token: string): Principal | undefined;
  /**
   * Caches a token this process has just issued (a guest token), as if it had been verified: the guest's first
   * request to this process then skips the signature check. Only for tokens the service signed itself.
   */
  remember(token: string, principal: Principal): void;
}

const DEFAULT_CLOCK_TOLERANCE_SEC = 30;
/** A partner token must name its user and expire; checked in this order (jose's, for requiredClaims exp, sub). */
const PARTNER_REQUIRED_CLAIMS = ['sub', 'exp'] as const;
const DEFAULT_JWKS_CACHE_MS = 10 * 60_000;
/** Least time between JWKS fetches, so tokens with made-up kids cannot make us hammer a partner's endpoint. */
const JWKS_COOLDOWN_MS = 10_000;

/** RFC 6750 b64token: the characters a JWT (or any bearer token) may contain. */
const BEARER = /^Bearer[ \t]+([A-Za-z0-9\-._~+/]+=*)[ \t]*$/i;

/** Extracts the token from an Authorization header (`Bearer <token>`, scheme case-insensitive); throws 2002. */
export function bearerToken(header: string | undefined): string {
  if (header === undefined || header.trim() === '') throw invalidToken('Authorization header missing');
  const m = BEARER.exec(header.trim());
  if (!m) {
    throw invalidToken(/^bearer(\s|$)/i.test(header.trim()) ? 'bearer token is malformed' : 'Authorization header must use the Bearer scheme');
  }
  return m[1]!;
}

/** Signs a guest token: claims { sub: userId, guest: true, pid: partnerId }, exp = expiresAtMs. */
export function issueGuestToken(keys: ServiceKeys, partnerId: string, userId: string, expiresAtMs: number): Promise<string> {
  return keys.sign({ sub: userId, guest: true, pid: partnerId }, expiresAtMs);
}

interface JwksSource {
  set: RemoteJWKSet;
  /** now() of the last successful fetch. */
  fetchedAt: number | undefined;
  /** now() of the last fetch attempt, successful or not (cooldown). */
  attemptAt: number;
  pending: Promise<boolean> | undefined;
}

/** A partner's imported key material, kept until the partner's jwt config object changes. */
type Material = SecretMaterial | PublicKeyMaterial;

/** A shared secret (HS256/384/512): verified by verifyJws with node:crypto's HMAC, synchronously, without jose. */
interface SecretMaterial {
  jwt: PartnerJwtConfig;
  algorithms: string[];
  check: SignatureCheck<boolean>;
}

/**
 * Public keys (PEM, certificate, JWK, JWKS): imported or selected by jose, the signature checked by verifyJws with
 * node:crypto on libuv's thread pool (publicKeySignature).
 */
interface PublicKeyMaterial {
  jwt: PartnerJwtConfig;
  algorithms: string[];
  keyed: KeyedSignatureCheck;
  jwks?: JwksSource;
}

const HS_HASHES: Record<string, string> = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };

/** A shared secret's check for verifyJws, answered in the call: the HMAC of the header's alg, compared in constant time. */
function hmacSignature(secret: KeyObject): SignatureCheck<boolean> {
  return (_header, alg) => {
    const hash = HS_HASHES[alg];
    // Unreachable: partnerKeyInfo allows only HS algorithms with a secret.
    if (hash === undefined) throw new errors.JOSENotSupported(`Unsupported JWS algorithm ${alg}`);
    return (input, signature) => {
      const expected = createHmac(hash, secret).update(input).digest();
      // timingSafeEqual throws on a length mismatch; WebCrypto's verify answered false.
      return signature.length === expected.length && timingSafeEqual(signature, expected);
    };
  };
}

export function createTokenVerifier(opts: {
  serviceKeys: ServiceKeys;
  cacheSize: number;
  now?: () => number;
  jwksCacheMs?: number;
}): TokenVerifier {
  const { serviceKeys } = opts;
  const now = opts.now ?? Date.now;
  const cacheSize = Math.max(0, Math.floor(opts.cacheSize));
  const jwksCacheMs = opts.jwksCacheMs ?? DEFAULT_JWKS_CACHE_MS;
  const jwksCooldownMs = Math.min(JWKS_COOLDOWN_MS, jwksCacheMs);
  const materials = new Map<string, Material>();
  /**
   * Second-chance (CLOCK) eviction in Map insertion order: a hit only marks its entry, and when the cache is full
   * the oldest entries that were hit since they last came round move to the back instead of going. Close to LRU,
   * but a hit costs one lookup instead of a delete and a re-insert (~3 % of a GET). Keyed by the token alone, the
   * partner checked on the entry: a hit hashes the token as the header gave it, with no key string built first.
   */
  const cache = new Map<string, { partnerId: string; principal: Principal; hit: boolean }>();

  function evictOne(): void {
    for (const [key, entry] of cache) {
      cache.delete(key);
      if (!entry.hit) return;
      entry.hit = false;
      cache.set(key, entry);
    }
  }

  function material(partner: PartnerConfig): Material {
    const known = materials.get(partner.id);
    if (known && known.jwt === partner.jwt) return known;
    const jwt = partner.jwt;
    // Throws a plain Error on broken material: a server misconfiguration (the registry rejects it at start).
    const { kind, algorithms } = partnerKeyInfo(jwt);
    let made: Material;
    if (kind === 'secret') {
      // WebCrypto refused an empty HMAC key (so every token was rejected); node:crypto would accept one.
      if (jwt.secret === '') throw new Error('secret must not be empty');
      // One KeyObject for every HS algorithm: createHmac takes the hash per call.
      made = { jwt, algorithms, check: hmacSignature(createSecretKey(Buffer.from(jwt.secret!, 'utf8'))) };
    } else if (kind === 'jwks') {
      // jose's own refresh rules use the wall clock; switch them off and drive fetches from now() instead.
      const set = createRemoteJWKSet(new URL(jwt.jwksUrl!), { cacheMaxAge: Infinity, cooldownDuration: Infinity });
      const jwks: JwksSource = { set, fetchedAt: undefined, attemptAt: -Infinity, pending: undefined };
      made = { jwt, algorithms, keyed: publicKeySignature((header) => set(header)), jwks };
    } else {
      // One import per alg: an RSA key allowed for RS256 and PS256 needs two CryptoKeys.
      const imported = new Map<string, Promise<CryptoKey>>();
      const importFor = (alg: string): Promise<CryptoKey> => {
        if (kind === 'pem') return importSPKI(jwt.pem!, alg);
        if (kind === 'certificate') return importX509(jwt.pem!, alg);
        return importJWK(jwt.jwk as JWK, alg) as Promise<CryptoKey>;
      };
      const key = (header: JWTHeaderParameters): Promise<CryptoKey> => {
        let p = imported.get(header.alg);
        if (!p) {
          p = importFor(header.alg);
          imported.set(header.alg, p);
        }
        return p;
      };
      made = { jwt, algorithms, keyed: publicKeySignature(key) };
    }
    materials.set(partner.id, made);
    return made;
  }

  /** Fetches the partner's JWKS unless one fetch is running (joined) or the last attempt was too recent. */
  function refresh(source: JwksSource): Promise<boolean> {
    if (source.pending) return source.pending;
    const t = now();
    if (t - source.attemptAt < jwksCooldownMs) return Promise.resolve(false);
    source.attemptAt = t;
    const pending = source.set.reload().then(
      () => {
        source.fetchedAt = t;
        return true;
      },
      () => false,
    );
    source.pending = pending;
    void pending.finally(() => {
      if (source.pending === pending) source.pending = undefined;
    });
    return pending;
  }

  async function verifyPartnerToken(m: PublicKeyMaterial, token: string, claims: JWTPayload, rules: ClaimRules, t: number): Promise<JWTPayload> {
    const run = (): Promise<JWTPayload> => verifyJws(token, claims, m.algorithms, m.keyed, rules);

    const source = m.jwks;
    if (!source) return run();
    if (source.fetchedAt === undefined || t - source.fetchedAt >= jwksCacheMs) await refresh(source);
    // A failed refresh keeps the previous keys; only having none at all is an outage.
    if (source.set.jwks() === undefined) {
      throw new BasketError('SERVICE_UNAVAILABLE', "the partner's key set (JWKS) cannot be fetched");
    }
    try {
      return await run();
    } catch (err) {
      // Unknown kid: the partner may have rotated keys; refetch once (cooldown permitting) and retry.
      if (err instanceof errors.JWKSNoMatchingKey && (await refresh(source))) return run();
      throw err;
    }
  }

  async function verifyUncached(partner: PartnerConfig, token: string, t: number): Promise<{ principal: Principal; nbf?: number }> {
    let unverified: JWTPayload;
    try {
      unverified = decodeJwt(token);
    } catch {
      throw invalidToken('malformed token');
    }
    let payload: JWTPayload;
    let guest = false;
    if (unverified.iss === serviceKeys.issuer) {
      // Our own issuer: only our keys may vouch for it, never partner material (a partner cannot mint guests).
      payload = await serviceKeys.verify(token, t);
      if (payload.guest !== true) throw invalidToken('token issued by this service is not a guest token');
      if (payload.pid !== partner.id) throw invalidToken('guest token belongs to another partner');
      guest = true;
    } else {
      const m = material(partner);
      const { jwt } = partner;
      const rules: ClaimRules = {
        issuer: jwt.issuer,
        audience: jwt.audience,
        required: PARTNER_REQUIRED_CLAIMS,
        clockTolerance: jwt.clockToleranceSec ?? DEFAULT_CLOCK_TOLERANCE_SEC,
        now: t,
      };
      try {
        payload = 'check' in m ? verifyJws(token, unverified, m.algorithms, m.check, rules) : await verifyPartnerToken(m, token, unverified, rules, t);
      } catch (err) {
        if (err instanceof BasketError) throw err;
        throw tokenError(err);
      }
    }
    if (typeof payload.sub !== 'string' || payload.sub === '') throw invalidToken('token "sub" claim must be a non-empty string');
    if (typeof payload.exp !== 'number') throw invalidToken('token lacks the required "exp" claim');
    const principal: Principal = Object.freeze({ partnerId: partner.id, userId: payload.sub, guest, expires: payload.exp * 1000 });
    return payload.nbf === undefined ? { principal } : { principal, nbf: payload.nbf * 1000 };
  }

  function store(token: string, principal: Principal): void {
    if (cache.size >= cacheSize && !cache.has(token)) evictOne();
    // a token presented with another partner's key replaces the entry: one partner per token is the norm
    cache.set(token, { partnerId: principal.partnerId, principal, hit: false });
  }

  function lookup(partnerId: string, token: string, t: number): Principal | undefined {
    if (cacheSize === 0) return undefined;
    const entry = cache.get(token);
    if (!entry || entry.partnerId !== partnerId) return undefined;
    if (t >= entry.principal.expires) {
      cache.delete(token);
      return undefined;
    }
    entry.hit = true;
    return entry.principal;
  }

  return {
    cached(partner, token) {
      return lookup(partner.id, token, now());
    },
    async verify(partner, token) {
      const t = now();
      const hit = lookup(partner.id, token, t);
      if (hit) return hit;
      const { principal, nbf } = await verifyUncached(partner, token, t);
      // Tokens accepted only thanks to clock tolerance (before nbf, after exp) are not cached.
      if (cacheSize > 0 && t < principal.expires && (nbf === undefined || nbf <= t)) store(token, principal);
      return principal;
    },
    remember(token, principal) {
      if (cacheSize > 0 && now() < principal.expires) store(token, Object.freeze({ ...principal }));
    },
  };
}
