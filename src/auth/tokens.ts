/**
 * Device token verification (spec §2): partner JWTs with the partner's key material, guest JWTs with the service's
 * own keys. Imported keys live per partner; verified tokens are cached until expiry so the hot path skips crypto.
 */
import {
  createRemoteJWKSet,
  decodeJwt,
  errors,
  importJWK,
  importSPKI,
  importX509,
  jwtVerify,
  type CryptoKey,
  type JWK,
  type JWTHeaderParameters,
  type JWTPayload,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
  type RemoteJWKSet,
} from 'jose';
import type { PartnerConfig, PartnerJwtConfig } from '../config.js';
import { BasketError } from '../domain/errors.js';
import { invalidToken, tokenError } from './errors.js';
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
}

const DEFAULT_CLOCK_TOLERANCE_SEC = 30;
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

const HS_HASHES: Record<string, string> = { HS256: 'SHA-256', HS384: 'SHA-384', HS512: 'SHA-512' };

/** A partner's imported key material, kept until the partner's jwt config object changes. */
interface Material {
  jwt: PartnerJwtConfig;
  algorithms: string[];
  key: Uint8Array | JWTVerifyGetKey;
  jwks?: JwksSource;
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
  /** LRU by Map insertion order: a hit is re-inserted, the oldest entry is evicted. */
  const cache = new Map<string, Principal>();

  function material(partner: PartnerConfig): Material {
    const known = materials.get(partner.id);
    if (known && known.jwt === partner.jwt) return known;
    const jwt = partner.jwt;
    // Throws a plain Error on broken material: a server misconfiguration (the registry rejects it at start).
    const { kind, algorithms } = partnerKeyInfo(jwt);
    let made: Material;
    if (kind === 'secret') {
      // Imported once per algorithm: jose re-imports a raw secret on every verification, which doubles its cost.
      const raw = new TextEncoder().encode(jwt.secret!);
      const imported = new Map<string, Promise<CryptoKey>>();
      const key = (header: JWTHeaderParameters): Promise<CryptoKey | Uint8Array> => {
        const hash = HS_HASHES[header.alg];
        // an algorithm outside the HS family: jose refuses it against the allowed list with its own error
        if (hash === undefined) return Promise.resolve(raw);
        let p = imported.get(header.alg);
        if (!p) {
          p = crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash }, false, ['verify']);
          imported.set(header.alg, p);
        }
        return p;
      };
      made = { jwt, algorithms, key };
    } else if (kind === 'jwks') {
      // jose's own refresh rules use the wall clock; switch them off and drive fetches from now() instead.
      const set = createRemoteJWKSet(new URL(jwt.jwksUrl!), { cacheMaxAge: Infinity, cooldownDuration: Infinity });
      const jwks: JwksSource = { set, fetchedAt: undefined, attemptAt: -Infinity, pending: undefined };
      made = { jwt, algorithms, key: (header, token) => set(header, token), jwks };
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
      made = { jwt, algorithms, key };
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

  async function verifyPartnerToken(partner: PartnerConfig, m: Material, token: string, t: number): Promise<JWTPayload> {
    const options: JWTVerifyOptions = {
      algorithms: m.algorithms,
      requiredClaims: ['exp', 'sub'],
      clockTolerance: partner.jwt.clockToleranceSec ?? DEFAULT_CLOCK_TOLERANCE_SEC,
      currentDate: new Date(t),
    };
    if (partner.jwt.issuer !== undefined) options.issuer = partner.jwt.issuer;
    if (partner.jwt.audience !== undefined) options.audience = partner.jwt.audience;
    const run = async (): Promise<JWTPayload> => (await jwtVerify(token, m.key, options)).payload;

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
      try {
        payload = await verifyPartnerToken(partner, m, token, t);
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

  return {
    async verify(partner, token) {
      const t = now();
      // Partner ids cannot contain a space, so the key is unambiguous.
      const key = `${partner.id} ${token}`;
      if (cacheSize > 0) {
        const hit = cache.get(key);
        if (hit) {
          cache.delete(key);
          if (t < hit.expires) {
            cache.set(key, hit);
            return hit;
          }
        }
      }
      const { principal, nbf } = await verifyUncached(partner, token, t);
      // Tokens accepted only thanks to clock tolerance (before nbf, after exp) are not cached.
      if (cacheSize > 0 && t < principal.expires && (nbf === undefined || nbf <= t)) {
        cache.set(key, principal);
        if (cache.size > cacheSize) cache.delete(cache.keys().next().value!);
      }
      return principal;
    },
  };
}
