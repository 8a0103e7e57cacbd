/**
 * Verification of compact JWTs with node:crypto, for the token checks on the request path (partner HS256/384/512
 * secrets, partner public keys, the service's own ES256/EdDSA guest keys). jose's jwtVerify goes through WebCrypto: a thread-pool
 * round trip that costs more than an HMAC itself, and ~2x the CPU of node:crypto for an ES256 check. The
 * signature check is the caller's: synchronous for an HMAC (the answer comes in the same call), or a promise for
 * a public-key check that runs on libuv's thread pool, off the event loop.
 * This repeats jose 6's jwtVerify checks in jose's order and throws jose's error classes with jose's messages, so
 * tokenError maps every failure exactly as it maps jose's (the tests compare both across matrices of tokens).
 */
import { base64url, errors, type JWTPayload } from 'jose';

/**
 * Finds the key for a header whose `alg` is allowed, as jose's key function: before the signature is decoded, and
 * may throw (an unknown key id, as a BasketError or a jose error). Returns the check of the signature over `input`
 * (the ASCII `header.payload` segments): false for a bad signature, as a value or a promise.
 */
export type SignatureCheck<R extends boolean | Promise<boolean>> = (header: Record<string, unknown>, alg: string) => SignatureVerifier<R>;

/** The check of a signature over `input` with a key already found: false for a bad signature. */
export type SignatureVerifier<R extends boolean | Promise<boolean>> = (input: string, signature: Uint8Array) => R;

/**
 * As SignatureCheck, for a key that must be imported or fetched first (a partner's public key, a JWKS): jose awaits
 * its key function at this point, so a key that cannot be found rejects before the signature is decoded.
 */
export type KeyedSignatureCheck = (header: Record<string, unknown>, alg: string) => Promise<SignatureVerifier<Promise<boolean>>>;

export interface ClaimRules {
  issuer: string | undefined;
  audience: string | undefined;
  /** Claims that must be present, in the order they are checked (after iss and aud). */
  required: readonly string[];
  /** seconds */
  clockTolerance: number;
  /** epoch ms */
  now: number;
}

/** jose's decoder for header and claims: invalid UTF-8 is an error, a leading BOM is dropped. */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** What JSON.parse returns for `{...}`: not null, not an array (jose's isObject, for parsed JSON). */
function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Verifies a compact JWS and its claims: synchronously with a synchronous signature check, else as a promise.
 * `claims` is decodeJwt's parse of this token's payload segment (the same base64url/UTF-8/JSON-object rules as
 * jose's claims-set parse), so the payload is not decoded twice.
 */
export function verifyJws(token: string, claims: JWTPayload, algorithms: readonly string[], check: SignatureCheck<boolean>, rules: ClaimRules): JWTPayload;
export function verifyJws(
  token: string,
  claims: JWTPayload,
  algorithms: readonly string[],
  check: SignatureCheck<Promise<boolean>>,
  rules: ClaimRules,
): Promise<JWTPayload>;
export function verifyJws(token: string, claims: JWTPayload, algorithms: readonly string[], check: KeyedSignatureCheck, rules: ClaimRules): Promise<JWTPayload>;
export function verifyJws(
  token: string,
  claims: JWTPayload,
  algorithms: readonly string[],
  check: SignatureCheck<boolean | Promise<boolean>> | KeyedSignatureCheck,
  rules: ClaimRules,
): JWTPayload | Promise<JWTPayload> {
  const [h = '', p = '', s = ''] = token.split('.');
  let header: unknown;
  try {
    header = JSON.parse(strictUtf8.decode(base64url.decode(h)));
  } catch (cause) {
    throw new errors.JWSInvalid('JWS Protected Header is invalid', { cause });
  }
  if (!isJsonObject(header)) throw new errors.JWSInvalid('JWS Protected Header is invalid');

  // jose understands a single extension, b64 (RFC 7797); any other critical parameter is refused.
  let b64 = true;
  const { crit } = header;
  if (crit !== undefined) {
    if (!Array.isArray(crit) || crit.length === 0 || crit.some((c) => typeof c !== 'string' || c === '')) {
      throw new errors.JWSInvalid('"crit" (Critical) Header Parameter MUST be an array of non-empty strings when present');
    }
    for (const name of crit as string[]) {
      if (name !== 'b64') throw new errors.JOSENotSupported(`Extension Header Parameter "${name}" is not recognized`);
      if (header.b64 === undefined) throw new errors.JWSInvalid('Extension Header Parameter "b64" is missing');
    }
    if (typeof header.b64 !== 'boolean') throw new errors.JWSInvalid('The "b64" (base64url-encode payload) Header Parameter must be a boolean');
    b64 = header.b64;
  }

  const { alg } = header;
  if (typeof alg !== 'string' || alg === '') throw new errors.JWSInvalid('JWS "alg" (Algorithm) Header Parameter missing or invalid');
  // The allow-list is what refuses `none` and every algorithm the key material was not made for.
  if (!algorithms.includes(alg)) throw new errors.JOSEAlgNotAllowed('"alg" (Algorithm) Header Parameter value not allowed');

  const finish = (ok: boolean): JWTPayload => {
    if (!ok) throw new errors.JWSSignatureVerificationFailed();
    // jose checks this only after the signature, so a forged b64:false token still reads "bad signature".
    if (!b64) throw new errors.JWTInvalid('JWTs MUST NOT use unencoded payload');
    return checkClaims(claims, rules);
  };
  const withKey = (verifySignature: SignatureVerifier<boolean | Promise<boolean>>): JWTPayload | Promise<JWTPayload> => {
    let signature: Uint8Array;
    try {
      signature = base64url.decode(s);
    } catch (cause) {
      throw new errors.JWSInvalid('Failed to base64url decode the signature', { cause });
    }
    // The segments decoded as base64url, so they are ASCII: the string is checked as the exact bytes jose verifies.
    const verified = verifySignature(`${h}.${p}`, signature);
    return typeof verified === 'boolean' ? finish(verified) : verified.then(finish);
  };
  const found = check(header, alg);
  return typeof found === 'function' ? withKey(found) : found.then(withKey);
}

/** jose 6's validateClaimsSet (not exported) for the options used here: required claims, iss, aud, tolerance. */
function checkClaims(claims: JWTPayload, rules: ClaimRules): JWTPayload {
  const failed = (message: string, claim: string, reason: 'missing' | 'invalid' | 'check_failed'): errors.JWTClaimValidationFailed =>
    new errors.JWTClaimValidationFailed(message, claims, claim, reason);
  const { issuer, audience } = rules;
  // jose's order: iss, aud, then the required claims.
  const required = [...(issuer === undefined ? [] : ['iss']), ...(audience === undefined ? [] : ['aud']), ...rules.required];
  for (const claim of required) {
    if (!Object.hasOwn(claims, claim)) throw failed(`missing required "${claim}" claim`, claim, 'missing');
  }
  if (issuer !== undefined && claims.iss !== issuer) throw failed('unexpected "iss" claim value', 'iss', 'check_failed');
  if (audience !== undefined) {
    const { aud } = claims;
    if (!(typeof aud === 'string' ? aud === audience : Array.isArray(aud) && aud.includes(audience))) {
      throw failed('unexpected "aud" claim value', 'aud', 'check_failed');
    }
  }
  const tolerance = rules.clockTolerance;
  if (!Number.isFinite(tolerance) || tolerance < 0) throw new TypeError('Invalid clockTolerance option input');
  // As jose: whole seconds of a Date built from the clock.
  const now = Math.floor(new Date(rules.now).getTime() / 1000);
  if (!Number.isFinite(now)) throw new TypeError('Invalid currentDate option input');
  const numericDate = (claim: 'iat' | 'nbf' | 'exp'): number | undefined => {
    const value: unknown = claims[claim];
    if (value === undefined) return undefined;
    if (typeof value !== 'number') throw failed(`"${claim}" claim must be a number`, claim, 'invalid');
    return value;
  };
  numericDate('iat');
  const nbf = numericDate('nbf');
  if (nbf !== undefined && nbf > now + tolerance) throw failed('"nbf" claim timestamp check failed', 'nbf', 'check_failed');
  const exp = numericDate('exp');
  if (exp !== undefined && exp <= now - tolerance) {
    throw new errors.JWTExpired('"exp" claim timestamp check failed', claims, 'exp', 'check_failed');
  }
  return claims;
}
