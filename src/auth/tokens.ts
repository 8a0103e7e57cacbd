/**
 * Device token verification (spec §2): partner JWTs with the partner's key material, guest JWTs with the service's
 * own keys. Imported keys live per partner; verified tokens are cached until expiry so the hot path skips crypto,
 * each tied to the key that verified it, so a key leaving a partner's JWKS takes its cached tokens with it.
 */
import { createHmac, createPublicKey, createSecretKey, timingSafeEqual, type JsonWebKey, type KeyObject } from 'node:crypto';
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
import { keyObjectOf, publicKeySignature } from './public-key-verify.js';
import { partnerKeyInfo, partnerPublicKey } from './partner-keys.js';
import type { ServiceKeys } from './service-keys.js';
import { isShopAudience } from './shop-audience.js';
import { publicKeyThumbprint, verifyingKey, type VerifyingKey } from './verifying-key.js';

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
  /**
   * Live counts for metrics: `hits` are tokens answered from the cache (by cached() or verify()), `misses` tokens
   * verified in full (verify() without a cache hit, whatever the outcome). Each token presented is one of the two.
   */
  readonly cacheCounts: TokenCacheCounts;
}

export interface TokenCacheCounts {
  readonly hits: number;
  readonly misses: number;
}

const DEFAULT_CLOCK_TOLERANCE_SEC = 30;
/** A partner token must name its user and expire; checked in this order (jose's, for requiredClaims exp, sub). */
const PARTNER_REQUIRED_CLAIMS = ['sub', 'exp'] as const;
/** How long a fetched JWKS is used before it is fetched again (a key removed from it stops working by then). */
const DEFAULT_JWKS_CACHE_MS = 10 * 60_000;
/**
 * Least time between JWKS fetches of a partner. An unknown kid or a failed signature refetches at once (a
 * rotated or replaced key is picked up within this time), but forged tokens cannot make us hammer the endpoint.
 */
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
  /**
   * now() from which a token-cache hit of this set starts a refresh behind it: the periodic refresh after a
   * success, the cooldown after a failure, never while a fetch runs. One comparison on the hot path.
   */
  dueAt: number;
  pending: Promise<boolean> | undefined;
  /** The current set's keys by keyId(kid, thumbprint); a refresh keeps the records of keys still there, revokes the rest. */
  keys: Map<string, VerifyingKey>;
}

const keyId = (kid: string, thumbprint: string): string => `${kid}\n${thumbprint}`;

/** A partner's imported key material, kept until the partner's jwt config object changes. */
type Material = SecretMaterial | PublicKeyMaterial | JwksMaterial;

/** A shared secret (HS256/384/512): verified by verifyJws with node:crypto's HMAC, synchronously, without jose. */
interface SecretMaterial {
  jwt: PartnerJwtConfig;
  algorithms: string[];
  check: SignatureCheck<boolean>;
  /** Fixed for the process's life, as is all configured material: never revoked. */
  key: VerifyingKey;
}

/**
 * A public key (PEM, certificate, JWK): imported by jose, the signature checked by verifyJws with node:crypto on
 * libuv's thread pool (publicKeySignature).
 */
interface PublicKeyMaterial {
  jwt: PartnerJwtConfig;
  algorithms: string[];
  keyed: KeyedSignatureCheck;
  key: VerifyingKey;
}

/** A JWKS URL: the key selected by jose's remote set, the signature checked as for a public key. */
interface JwksMaterial {
  jwt: PartnerJwtConfig;
  algorithms: string[];
  jwks: JwksSource;
}

/** A cached verification: the key that made it is checked on every hit (revoked: dropped). */
interface CacheEntry {
  partnerId: string;
  principal: Principal;
  hit: boolean;
  key: VerifyingKey;
  /** The partner's JWKS for a key from one: a hit on a set due for refresh starts the refresh. */
  jwks: JwksSource | undefined;
}

/** A verification's outcome: the principal, and the key to tie a cache entry to (undefined: do not cache). */
interface Verified {
  principal: Principal;
  nbf?: number;
  key: VerifyingKey | undefined;
  jwks?: JwksSource;
}

/** Thumbprints of the CryptoKeys jose selected from a JWKS, computed once per key (jose keeps them per set). */
const thumbprints = new WeakMap<CryptoKey, string>();

function thumbprintOf(key: CryptoKey): string {
  let found = thumbprints.get(key);
  if (found === undefined) {
    found = publicKeyThumbprint(keyObjectOf(key));
    thumbprints.set(key, found);
  }
  return found;
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
  const cache = new Map<string, CacheEntry>();
  // plain numbers, read at scrape time: a prom-client Counter.inc costs ~75 ns on the hot path, an increment ~5
  const counts = { hits: 0, misses: 0 };

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
      made = { jwt, algorithms, check: hmacSignature(createSecretKey(Buffer.from(jwt.secret!, 'utf8'))), key: verifyingKey(undefined, undefined) };
    } else if (kind === 'jwks') {
      // jose's own refresh rules use the wall clock; switch them off and drive fetches from now() instead.
      const set = createRemoteJWKSet(new URL(jwt.jwksUrl!), { cacheMaxAge: Infinity, cooldownDuration: Infinity });
      const jwks: JwksSource = { set, fetchedAt: undefined, attemptAt: -Infinity, dueAt: -Infinity, pending: undefined, keys: new Map() };
      made = { jwt, algorithms, jwks };
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
      const publicKey = partnerPublicKey(jwt);
      const jwkKid = (jwt.jwk as Record<string, unknown> | undefined)?.kid;
      const kid = typeof jwkKid === 'string' ? jwkKid : undefined;
      made = { jwt, algorithms, keyed: publicKeySignature(key), key: verifyingKey(kid, publicKeyThumbprint(publicKey)) };
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
    source.dueAt = Infinity;
    const pending = source.set.reload().then(
      () => {
        source.fetchedAt = t;
        source.dueAt = t + jwksCacheMs;
        adoptKeys(source);
        return true;
      },
      () => {
        source.dueAt = t + jwksCooldownMs;
        return false;
      },
    );
    source.pending = pending;
    void pending.finally(() => {
      if (source.pending === pending) source.pending = undefined;
    });
    return pending;
  }

  /**
   * Takes in the keys of a freshly fetched set: a key (kid and thumbprint) still there keeps its record, so tokens
   * cached with it stay; a key gone is revoked, and every token cached with it is dropped on its next hit.
   */
  function adoptKeys(source: JwksSource): void {
    const next = new Map<string, VerifyingKey>();
    for (const jwk of source.set.jwks()?.keys ?? []) {
      let thumbprint: string;
      try {
        thumbprint = publicKeyThumbprint(createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }));
      } catch {
        continue; // not a public key node:crypto can read (an "oct" or unknown key type): jose cannot verify with it
      }
      const kid = typeof jwk.kid === 'string' ? jwk.kid : undefined;
      const id = keyId(kid ?? '', thumbprint);
      next.set(id, source.keys.get(id) ?? next.get(id) ?? verifyingKey(kid, thumbprint));
    }
    for (const [id, key] of source.keys) if (!next.has(id)) key.revoked = true;
    source.keys = next;
  }

  /** The record of the key jose selected for a header, in the set as it is now; undefined if a refresh removed it. */
  function keyInSet(source: JwksSource, kid: unknown, key: CryptoKey): VerifyingKey | undefined {
    const thumbprint = thumbprintOf(key);
    // jose matched the header's kid exactly; without one, it chose the only key that fits the alg.
    if (typeof kid === 'string') return source.keys.get(keyId(kid, thumbprint));
    for (const record of source.keys.values()) if (record.thumbprint === thumbprint) return record;
    return undefined;
  }

  async function verifyJwksToken(
    m: JwksMaterial,
    token: string,
    claims: JWTPayload,
    rules: ClaimRules,
    t: number,
  ): Promise<{ payload: JWTPayload; key: VerifyingKey | undefined }> {
    const source = m.jwks;
    // The key jose selects for this token, kept to tie the cache entry to it: a check per call, off the hot path.
    let used: { kid: unknown; key: CryptoKey } | undefined;
    const keyed = publicKeySignature(async (header) => {
      const key = await source.set(header);
      used = { kid: header.kid, key };
      return key;
    });
    const run = (): Promise<JWTPayload> => verifyJws(token, claims, m.algorithms, keyed, rules);

    if (source.fetchedAt === undefined || t - source.fetchedAt >= jwksCacheMs) await refresh(source);
    // A failed refresh keeps the previous keys; only having none at all is an outage.
    if (source.set.jwks() === undefined) {
      throw new BasketError('SERVICE_UNAVAILABLE', "the partner's key set (JWKS) cannot be fetched");
    }
    let payload: JWTPayload;
    try {
      payload = await run();
    } catch (err) {
      // An unknown kid (a rotated key) or a failed signature (key material replaced under the same kid): refetch
      // (cooldown permitting) and retry once with the new set.
      const keyMayHaveChanged = err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWSSignatureVerificationFailed;
      if (!(keyMayHaveChanged && (await refresh(source)))) throw err;
      payload = await run();
    }
    return { payload, key: used && keyInSet(source, used.kid, used.key) };
  }

  async function verifyUncached(partner: PartnerConfig, token: string, t: number): Promise<Verified> {
    let unverified: JWTPayload;
    try {
      unverified = decodeJwt(token);
    } catch {
      throw invalidToken('malformed token');
    }
    let payload: JWTPayload;
    let key: VerifyingKey | undefined;
    let jwks: JwksSource | undefined;
    let guest = false;
    // A shop access token (shop-api.md §2) is never a device credential, whoever signed it: refused before any key
    // is looked at, so no partner key material that happened to verify it could let it through either.
    if (isShopAudience(unverified.aud)) throw invalidToken('a shop access token is not accepted on the device surface');
    if (unverified.iss === serviceKeys.issuer) {
      // Our own issuer: only our keys may vouch for it, never partner material (a partner cannot mint guests).
      ({ payload, key } = await serviceKeys.verifyWithKey(token, t));
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
        if ('check' in m) {
          payload = verifyJws(token, unverified, m.algorithms, m.check, rules);
          key = m.key;
        } else if ('keyed' in m) {
          payload = await verifyJws(token, unverified, m.algorithms, m.keyed, rules);
          key = m.key;
        } else {
          ({ payload, key } = await verifyJwksToken(m, token, unverified, rules, t));
          jwks = m.jwks;
        }
      } catch (err) {
        if (err instanceof BasketError) throw err;
        throw tokenError(err);
      }
    }
    if (typeof payload.sub !== 'string' || payload.sub === '') throw invalidToken('token "sub" claim must be a non-empty string');
    if (typeof payload.exp !== 'number') throw invalidToken('token lacks the required "exp" claim');
    const principal: Principal = Object.freeze({ partnerId: partner.id, userId: payload.sub, guest, expires: payload.exp * 1000 });
    const verified: Verified = { principal, key, jwks };
    if (payload.nbf !== undefined) verified.nbf = payload.nbf * 1000;
    return verified;
  }

  function store(token: string, principal: Principal, key: VerifyingKey, jwks: JwksSource | undefined): void {
    if (cache.size >= cacheSize && !cache.has(token)) evictOne();
    // a token presented with another partner's key replaces the entry: one partner per token is the norm
    cache.set(token, { partnerId: principal.partnerId, principal, hit: false, key, jwks });
  }

  function lookup(partnerId: string, token: string, t: number): Principal | undefined {
    if (cacheSize === 0) return undefined;
    const entry = cache.get(token);
    if (!entry || entry.partnerId !== partnerId) return undefined;
    if (t >= entry.principal.expires || entry.key.revoked) {
      cache.delete(token);
      return undefined;
    }
    // A set due for its periodic refresh is fetched behind the hit: a key gone from it revokes its entries then.
    const { jwks } = entry;
    if (jwks !== undefined && t >= jwks.dueAt) void refresh(jwks);
    entry.hit = true;
    counts.hits++;
    return entry.principal;
  }

  return {
    cacheCounts: counts,
    cached(partner, token) {
      return lookup(partner.id, token, now());
    },
    async verify(partner, token) {
      const t = now();
      const hit = lookup(partner.id, token, t);
      if (hit) return hit;
      counts.misses++;
      const { principal, nbf, key, jwks } = await verifyUncached(partner, token, t);
      // Tokens accepted only thanks to clock tolerance (before nbf, after exp) are not cached, nor those whose key
      // left its set while they were checked.
      if (cacheSize > 0 && key !== undefined && !key.revoked && t < principal.expires && (nbf === undefined || nbf <= t)) {
        store(token, principal, key, jwks);
      }
      return principal;
    },
    remember(token, principal) {
      if (cacheSize > 0 && now() < principal.expires) store(token, Object.freeze({ ...principal }), serviceKeys.signingKey, undefined);
    },
  };
}
