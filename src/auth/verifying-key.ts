/**
 * The key a token was verified with, as the token cache remembers it. A cached verification holds a reference to
 * its key's record, and whoever owns the key (a partner's JWKS refresh) flips `revoked` when the key leaves: the
 * cache then drops the entry on its next hit, with no hashing or lookup on the hot path.
 */
import { createHash, type KeyObject } from 'node:crypto';

export interface VerifyingKey {
  /** The JWK's `kid`, when it has one. */
  readonly kid: string | undefined;
  /** RFC 7638 SHA-256 thumbprint of a public key; undefined for a shared secret (never hashed into a record). */
  readonly thumbprint: string | undefined;
  /** Set once the key is no longer trusted: every cached verification made with it is dropped. */
  revoked: boolean;
}

export function verifyingKey(kid: string | undefined, thumbprint: string | undefined): VerifyingKey {
  return { kid, thumbprint, revoked: false };
}

/** The members RFC 7638 §3.2 hashes, per key type, in lexicographic order. */
const REQUIRED: Readonly<Record<string, readonly string[]>> = {
  RSA: ['e', 'kty', 'n'],
  EC: ['crv', 'kty', 'x', 'y'],
  OKP: ['crv', 'kty', 'x'],
};

/**
 * The RFC 7638 SHA-256 thumbprint (base64url) of a public key, as jose's calculateJwkThumbprint computes it, but
 * synchronously. The key is exported by node:crypto, so a JWK with a non-canonical encoding (an RSA modulus with a
 * leading zero byte) gets the same thumbprint as the key it imports to.
 */
export function publicKeyThumbprint(key: KeyObject): string {
  const jwk = key.export({ format: 'jwk' }) as Record<string, unknown>;
  const members = REQUIRED[String(jwk.kty)];
  if (members === undefined) throw new Error(`no thumbprint for key type ${String(jwk.kty)}`);
  const canonical = `{${members.map((m) => `${JSON.stringify(m)}:${JSON.stringify(jwk[m])}`).join(',')}}`;
  return createHash('sha256').update(canonical).digest('base64url');
}
