/**
 * Which JWS algorithms a partner's key material may verify. Shared by the registry (checked once at start, so a
 * broken PEM fails the boot instead of every request) and the token verifier (the allow-list given to jose).
 * Pinning the algorithms to the key type is what blocks `none` and HS/RS confusion.
 */
import { X509Certificate, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { PartnerJwtConfig } from '../config.js';

export const HS_ALGORITHMS: readonly string[] = ['HS256', 'HS384', 'HS512'];
const RSA_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
export const ASYMMETRIC_ALGORITHMS: readonly string[] = [...RSA_ALGORITHMS, 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];
const CURVE_ALGORITHM: Record<string, string> = { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' };

export type PartnerKeyKind = 'secret' | 'pem' | 'certificate' | 'jwk' | 'jwks';

export interface PartnerKeyInfo {
  kind: PartnerKeyKind;
  /** Allowed `alg` values, never empty, never `none`; the first is the default. */
  algorithms: string[];
}

const isCertificate = (pem: string): boolean => pem.includes('-----BEGIN CERTIFICATE-----');

/** Algorithms a public key can verify, most usual first. */
function keyAlgorithms(key: KeyObject): string[] {
  switch (key.asymmetricKeyType) {
    case 'rsa': {
      // jose refuses every token of a shorter key (RFC 7518 §3.3): say so at start instead
      const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
      if (bits < 2048) throw new Error(`an RSA key needs 2048 bits or more, this one has ${bits}`);
      return RSA_ALGORITHMS;
    }
    case 'rsa-pss':
      // WebCrypto (and so jose, which imports partner keys) refuses an RSASSA-PSS SPKI: every token would fail
      throw new Error('an RSASSA-PSS key (id-RSASSA-PSS) is not supported; give the same key as a plain RSA public key, with algorithms PS256/PS384/PS512');
    case 'ec': {
      const alg = CURVE_ALGORITHM[key.asymmetricKeyDetails?.namedCurve ?? ''];
      if (!alg) throw new Error(`unsupported EC curve ${key.asymmetricKeyDetails?.namedCurve ?? '(unknown)'}`);
      return [alg];
    }
    case 'ed25519':
      return ['EdDSA', 'Ed25519'];
    default:
      throw new Error(`unsupported key type ${key.asymmetricKeyType ?? '(unknown)'}`);
  }
}

function pemKey(pem: string): KeyObject {
  if (isCertificate(pem)) return new X509Certificate(pem).publicKey;
  // importSPKI needs SPKI; a private key here would also mean a leaked secret in the partner file.
  if (!pem.includes('-----BEGIN PUBLIC KEY-----')) throw new Error('pem must be an SPKI public key (BEGIN PUBLIC KEY) or an X.509 certificate');
  return createPublicKey(pem);
}

function jwkKey(jwk: Record<string, unknown>): KeyObject {
  if (jwk.kty === 'oct') throw new Error('jwk must be a public key; use secret for HS algorithms');
  if ('d' in jwk) throw new Error('jwk must be a public key, it holds private parts (d)');
  return createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
}

/** The public key of PEM, certificate or JWK material (the key that verifies every token of the partner). */
export function partnerPublicKey(jwt: PartnerJwtConfig): KeyObject {
  if (jwt.pem !== undefined) return pemKey(jwt.pem);
  if (jwt.jwk !== undefined) return jwkKey(jwt.jwk as Record<string, unknown>);
  throw new Error('no pem or jwk given');
}

/**
 * Validates the material and returns the allow-list. Throws a plain Error with the reason (the caller adds context).
 * Configured `algorithms` must all fit the key; without them: HS256 for a secret, the key's natural alg for a
 * PEM/JWK (RSA→RS256, P-256→ES256, P-384→ES384, P-521→ES512, Ed25519→EdDSA), any asymmetric alg for a JWKS.
 */
export function partnerKeyInfo(jwt: PartnerJwtConfig): PartnerKeyInfo {
  const sources = [jwt.secret, jwt.pem, jwt.jwk, jwt.jwksUrl].filter((s) => s !== undefined).length;
  if (sources !== 1) throw new Error('give exactly one of secret, pem, jwk, jwksUrl');
  const configured = jwt.algorithms;
  const pick = (kind: PartnerKeyKind, compatible: readonly string[], fallback: string[]): PartnerKeyInfo => {
    const bad = configured?.find((a) => !compatible.includes(a));
    if (bad !== undefined) throw new Error(`algorithm ${bad} does not fit the ${kind} key material`);
    return { kind, algorithms: configured ? [...configured] : fallback };
  };
  if (jwt.secret !== undefined) return pick('secret', HS_ALGORITHMS, ['HS256']);
  if (jwt.jwksUrl !== undefined) return pick('jwks', ASYMMETRIC_ALGORITHMS, [...ASYMMETRIC_ALGORITHMS]);
  if (jwt.pem !== undefined) {
    const compatible = keyAlgorithms(pemKey(jwt.pem));
    return pick(isCertificate(jwt.pem) ? 'certificate' : 'pem', compatible, [compatible[0]!]);
  }
  const jwk = jwt.jwk as Record<string, unknown>;
  let compatible = keyAlgorithms(jwkKey(jwk));
  if (typeof jwk.alg === 'string') {
    if (!compatible.includes(jwk.alg)) throw new Error(`jwk alg ${jwk.alg} does not fit its key type`);
    compatible = [jwk.alg];
  }
  return pick('jwk', compatible, [compatible[0]!]);
}
