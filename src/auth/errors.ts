/**
 * Turns jose failures into BasketError 2002 with a reason a partner can act on. Messages never contain the token;
 * jose's own messages are fixed strings, so quoting them is safe.
 */
import { errors } from 'jose';
import { BasketError } from '../domain/errors.js';

export function invalidToken(reason: string): BasketError {
  return new BasketError('AUTHORIZATION_HEADER_INVALID', reason);
}

export function tokenError(err: unknown): BasketError {
  if (err instanceof BasketError) return err;
  if (err instanceof errors.JWTExpired) return invalidToken('token expired');
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.reason === 'missing') return invalidToken(`token lacks the required "${err.claim}" claim`);
    switch (err.claim) {
      case 'iss':
        return invalidToken('wrong issuer (iss)');
      case 'aud':
        return invalidToken('wrong audience (aud)');
      case 'nbf':
        return invalidToken('token not valid yet (nbf is in the future)');
      default:
        return invalidToken(`invalid "${err.claim}" claim`);
    }
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return invalidToken('bad signature');
  if (err instanceof errors.JOSEAlgNotAllowed) return invalidToken('token algorithm not allowed');
  if (err instanceof errors.JWKSNoMatchingKey) return invalidToken('no key matches the token (kid/alg)');
  if (err instanceof errors.JWKSMultipleMatchingKeys) return invalidToken('several keys match the token; it needs a kid');
  if (err instanceof errors.JOSENotSupported) return invalidToken('unsupported token algorithm or key');
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return invalidToken(`malformed token: ${err.message}`);
  if (err instanceof errors.JOSEError) return invalidToken(`token rejected (${err.code})`);
  // Anything else (e.g. a TypeError on a key/alg mismatch) still comes from attacker-controlled input: 401, not 500.
  return invalidToken('token cannot be verified');
}
