/**
 * The signature check of partner tokens signed with a public key (PEM, certificate, JWK, JWKS), for verifyJws:
 * the key is still imported or selected by jose (per alg, so jose's own rules on key types and JWKS selection
 * hold), and then checked as jose 6 checks a CryptoKey before it verifies (type, algorithm, usages, RSA modulus
 * length), with jose's error classes and messages. The signature itself is verified by node:crypto in its
 * callback form, on libuv's thread pool: for RS256 ~5–10 µs of the event loop against jose's 15–20.
 */
import { constants, KeyObject, verify as verifyBytes, type VerifyKeyObjectInput } from 'node:crypto';
import { errors, type CryptoKey, type JWTHeaderParameters } from 'jose';
import type { KeyedSignatureCheck, SignatureVerifier } from './jws-verify.js';

/** What jose expects of the key (its `subtle` parameters) and how node:crypto verifies, per JWS algorithm. */
interface AlgorithmSpec {
  name: string;
  hash?: string;
  namedCurve?: string;
  /** node:crypto's digest; null for Ed25519, which hashes itself. */
  digest: string | null;
  /** RSA-PSS salt length in bytes (RFC 7518 §3.5: the hash's size). */
  saltLength?: number;
  /** RSA algorithms need a modulus of 2048 bits or more (jose's minRsaBits). */
  rsa?: true;
  /** ECDSA signatures are the raw r‖s pair (RFC 7518 §3.4), not DER. */
  ecdsa?: true;
}

const rsa = (bits: number, pss: boolean): AlgorithmSpec => ({
  name: pss ? 'RSA-PSS' : 'RSASSA-PKCS1-v1_5',
  hash: `SHA-${bits}`,
  digest: `sha${bits}`,
  ...(pss ? { saltLength: bits / 8 } : {}),
  rsa: true,
});
const ecdsa = (namedCurve: string, bits: number): AlgorithmSpec => ({ name: 'ECDSA', namedCurve, digest: `sha${bits}`, ecdsa: true });
const ed25519: AlgorithmSpec = { name: 'Ed25519', digest: null };

const SPECS: Readonly<Record<string, AlgorithmSpec>> = {
  RS256: rsa(256, false),
  RS384: rsa(384, false),
  RS512: rsa(512, false),
  PS256: rsa(256, true),
  PS384: rsa(384, true),
  PS512: rsa(512, true),
  ES256: ecdsa('P-256', 256),
  ES384: ecdsa('P-384', 384),
  ES512: ecdsa('P-521', 512),
  EdDSA: ed25519,
  Ed25519: ed25519,
};

/** The algorithm members of a CryptoKey that jose compares (WebCrypto's KeyAlgorithm subtypes). */
interface KeyAlgorithmMembers {
  name: string;
  hash?: { name: string };
  namedCurve?: string;
  modulusLength?: number;
}

const unusable = (expected: string, prop = 'algorithm.name'): TypeError =>
  new TypeError(`CryptoKey does not support this operation, its ${prop} must be ${expected}`);

/**
 * jose 6's prepareKey (for a CryptoKey), checkCryptoKey and checkModulusLength, in that order. With keys from
 * jose's importers only the modulus check can fail today (a JWKS may hold a short RSA key; PEM and JWK partners
 * are refused at start); the others keep jose's answer for any other key source.
 */
function checkKey(key: CryptoKey, alg: string, spec: AlgorithmSpec): void {
  if (key.type !== 'public') throw new TypeError(`CryptoKey instances must be of type "public" for the ${alg} algorithm`);
  const algorithm = key.algorithm as KeyAlgorithmMembers;
  if (algorithm.name !== spec.name) throw unusable(spec.name);
  if (spec.hash !== undefined && algorithm.hash?.name !== spec.hash) throw unusable(spec.hash, 'algorithm.hash');
  if (spec.namedCurve !== undefined && algorithm.namedCurve !== spec.namedCurve) throw unusable(spec.namedCurve, 'algorithm.namedCurve');
  if (!key.usages.includes('verify')) throw new TypeError('CryptoKey does not support this operation, its usages must include verify.');
  if (spec.rsa && (typeof algorithm.modulusLength !== 'number' || algorithm.modulusLength < 2048)) {
    throw new TypeError(`${alg} requires key modulusLength to be 2048 bits or larger`);
  }
}

/** node:crypto's view of each CryptoKey, made once (a JWKS or an import per alg keeps its CryptoKeys). */
const keyObjects = new WeakMap<CryptoKey, KeyObject>();

export function keyObjectOf(key: CryptoKey): KeyObject {
  let found = keyObjects.get(key);
  if (found === undefined) {
    found = KeyObject.from(key);
    keyObjects.set(key, found);
  }
  return found;
}

function verifierFor(key: CryptoKey, alg: string, spec: AlgorithmSpec): SignatureVerifier<Promise<boolean>> {
  return (input, signature) => {
    checkKey(key, alg, spec);
    const keyObject = keyObjectOf(key);
    const options: VerifyKeyObjectInput & { dsaEncoding?: 'ieee-p1363'; saltLength?: number } = { key: keyObject };
    if (spec.ecdsa) options.dsaEncoding = 'ieee-p1363';
    if (spec.saltLength !== undefined) {
      options.padding = constants.RSA_PKCS1_PSS_PADDING;
      options.saltLength = spec.saltLength;
    }
    return new Promise<boolean>((resolve) => {
      // an error is a signature node:crypto cannot even parse (WebCrypto answered false, or jose turned its
      // exception into a failed verification)
      const done = (err: Error | null, ok: boolean) => resolve(err === null && ok);
      try {
        verifyBytes(spec.digest, Buffer.from(input), options, signature, done);
      } catch {
        resolve(false);
      }
    });
  };
}

/**
 * A KeyedSignatureCheck for verifyJws from a jose key function (`keyFor`, called where jose calls it: the header's
 * alg is allowed, the signature not yet decoded).
 */
export function publicKeySignature(keyFor: (header: JWTHeaderParameters) => Promise<CryptoKey>): KeyedSignatureCheck {
  return async (header, alg) => {
    const key = await keyFor(header as JWTHeaderParameters);
    const spec = SPECS[alg];
    // Unreachable: partnerKeyInfo allows only these algorithms for public keys.
    if (spec === undefined) throw new errors.JOSENotSupported(`alg ${alg} is not supported either by JOSE or your javascript runtime`);
    return verifierFor(key, alg, spec);
  };
}
