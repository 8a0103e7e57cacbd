/**
 * Partner tokens signed with public keys (PEM, certificate, JWK, JWKS) are verified by verifyJws with node:crypto
 * (src/auth/public-key-verify.ts). Their verdicts and error messages must be exactly those of jose's jwtVerify with
 * the same key material, which verified them before: compared here across keys, algorithms, headers, claims and
 * signatures.
 */
import assert from 'node:assert/strict';
import { constants, createPrivateKey, generateKeyPairSync, sign as signBytes, type KeyObject } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  createLocalJWKSet,
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
} from 'jose';
import type { PartnerConfig } from '../../src/config.js';
import { tokenError } from '../../src/auth/errors.js';
import { partnerKeyInfo } from '../../src/auth/partner-keys.js';
import { createTokenVerifier } from '../../src/auth/tokens.js';
import { CERT_KEY_PEM, CERT_PEM, JwksServer, T0, partner, sec, testServiceKeys } from './helpers.js';

const segment = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const spki = (key: KeyObject): string => key.export({ type: 'spki', format: 'pem' }).toString();
const publicJwk = (key: KeyObject, kid: string): JWK => ({ ...(key.export({ format: 'jwk' }) as JWK), kid });

/** Signs `input` with `key` as the header's alg asks, where the key can; otherwise with the key's own algorithm. */
function signAs(alg: string, key: KeyObject, input: string): string {
  const data = Buffer.from(input);
  const bits = /(256|384|512)$/.exec(alg)?.[1] ?? '256';
  const type = key.asymmetricKeyType;
  if (type === 'ed25519') return signBytes(null, data, key).toString('base64url');
  if (type === 'ec') return signBytes(`sha${bits}`, data, { key, dsaEncoding: 'ieee-p1363' }).toString('base64url');
  const pss = alg.startsWith('PS') || type === 'rsa-pss';
  const options = pss ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(bits) / 8 } : { key };
  try {
    return signBytes(`sha${bits}`, data, options).toString('base64url');
  } catch {
    // a 1024-bit key cannot hold a PS512 signature: a PKCS#1 one stands in (a wrong signature either way)
    return signBytes('sha256', data, key).toString('base64url');
  }
}

describe('partner public keys: node:crypto verdicts against jose jwtVerify', { timeout: 120_000 }, () => {
  const server = new JwksServer();
  const pairs = {
    rsa: generateKeyPairSync('rsa', { modulusLength: 2048 }),
    weak: generateKeyPairSync('rsa', { modulusLength: 1024 }),
    pss: generateKeyPairSync('rsa-pss', { modulusLength: 2048 }),
    p256: generateKeyPairSync('ec', { namedCurve: 'P-256' }),
    p384: generateKeyPairSync('ec', { namedCurve: 'P-384' }),
    p521: generateKeyPairSync('ec', { namedCurve: 'P-521' }),
    ed: generateKeyPairSync('ed25519'),
  };
  const cert = { privateKey: createPrivateKey(CERT_KEY_PEM) };
  let jwks: { keys: JWK[] };
  let configs: { p: PartnerConfig; reference: JWTVerifyGetKey }[];

  before(async () => {
    jwks = {
      keys: [
        { ...publicJwk(pairs.rsa.publicKey, 'r'), use: 'sig' },
        publicJwk(pairs.weak.publicKey, 'w'),
        { ...publicJwk(pairs.p256.publicKey, 'e'), alg: 'ES256' },
        { ...publicJwk(pairs.ed.publicKey, 'd'), key_ops: ['verify'] },
        { ...publicJwk(pairs.p384.publicKey, 'enc'), use: 'enc' },
        // a partner publishing a private key by mistake: jose imports it, then refuses it for verifying
        { ...(pairs.p521.privateKey.export({ format: 'jwk' }) as JWK), kid: 'priv' },
      ],
    };
    server.keys = jwks.keys;
    const jwksUrl = await server.start();
    const perAlg = (load: (alg: string) => Promise<CryptoKey>): JWTVerifyGetKey => {
      const made = new Map<string, Promise<CryptoKey>>();
      return (header: JWTHeaderParameters) => {
        let key = made.get(header.alg);
        if (!key) made.set(header.alg, (key = load(header.alg)));
        return key;
      };
    };
    const pem = (id: string, key: KeyObject, extra: object = {}) => {
      const text = spki(key);
      return { p: partner(id, { pem: text, ...extra }), reference: perAlg((alg) => importSPKI(text, alg)) };
    };
    const jwk = (id: string, key: KeyObject, extra: object = {}) => {
      const value = publicJwk(key, id);
      return { p: partner(id, { jwk: value as { kty: string }, ...extra }), reference: perAlg((alg) => importJWK(value, alg) as Promise<CryptoKey>) };
    };
    configs = [
      pem('rsa', pairs.rsa.publicKey),
      pem('rsa-all', pairs.rsa.publicKey, { algorithms: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'], issuer: 'iss-1', audience: 'basket' }),
      pem('p256', pairs.p256.publicKey, { clockToleranceSec: 0 }),
      { p: partner('cert', { pem: CERT_PEM }), reference: perAlg((alg) => importX509(CERT_PEM, alg)) },
      jwk('p384', pairs.p384.publicKey),
      jwk('p521', pairs.p521.publicKey, { issuer: 'iss-1' }),
      jwk('ed', pairs.ed.publicKey, { algorithms: ['EdDSA', 'Ed25519'] }),
      { p: partner('jwks', { jwksUrl, audience: 'basket' }), reference: createLocalJWKSet(jwks) },
    ];
  });
  after(() => server.stop());

  it('gives the same verdict and message for every token', async () => {
    const now = sec(T0);
    const algs = ['RS256', 'RS384', 'PS256', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];
    const headers: object[] = [
      ...algs.map((alg) => ({ alg })),
      ...algs.map((alg) => ({ alg, kid: alg.startsWith('ES') ? 'e' : alg.startsWith('E') ? 'd' : 'r', typ: 'JWT' })),
      { alg: 'RS256', kid: 'w' }, { alg: 'PS256', kid: 'w' }, { alg: 'ES256', kid: 'r' }, { alg: 'ES384', kid: 'enc' }, { alg: 'ES512', kid: 'priv' }, { alg: 'RS256', kid: 'nope' },
      { alg: 'RS256', kid: 7 }, { alg: 'HS256', kid: 'r' }, { alg: 'none' }, {},
      { alg: 'RS256', kid: 'r', crit: ['b64'], b64: false }, { alg: 'ES256', kid: 'e', crit: ['b64'], b64: true }, { alg: 'RS256', kid: 'r', crit: ['x'] },
    ];
    const good = (over: Record<string, unknown> = {}): JWTPayload => ({ sub: 'user-1', iss: 'iss-1', aud: 'basket', exp: now + 3600, ...over });
    const claims: JWTPayload[] = [
      good(), good({ iss: 'someone-else' }), good({ aud: ['a', 'basket'] }), good({ aud: 'other' }), good({ sub: undefined }),
      good({ exp: now - 29 }), good({ exp: now - 31 }), good({ nbf: now + 31 }), good({ iat: 'x' }),
    ];
    const signers: ((alg: string, input: string) => string)[] = [
      ...[...Object.values(pairs), cert].map(({ privateKey }) => (alg: string, input: string) => signAs(alg, privateKey, input)),
      (alg, input) => signAs(alg, pairs.rsa.privateKey, input).slice(0, 60),
      // PSS with the right key but an empty salt: RFC 7518 §3.5 (and WebCrypto as jose calls it) wants the hash's size
      (alg, input) => {
        const digest = `sha${/(256|384|512)$/.exec(alg)?.[1] ?? '256'}`;
        return signBytes(digest, Buffer.from(input), { key: pairs.rsa.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 0 }).toString('base64url');
      },
      () => '',
      () => 'not*base64url',
    ];
    // Every claim set with every key's signature under the plain headers (alg, alg + kid); the odd headers and the
    // broken signatures decide before the claims are read, so they get a good and a bad claim set only.
    const keySigners = Object.keys(pairs).length + 1;
    const plainHeaders = algs.length * 2;
    const tokens: string[] = [];
    for (const [h, header] of headers.entries()) {
      const alg = 'alg' in header && typeof header.alg === 'string' ? header.alg : 'RS256';
      for (const [k, sign] of signers.entries()) {
        const sets = h < plainHeaders && k < keySigners ? claims : claims.slice(0, 2);
        for (const c of sets) {
          const input = `${segment(header)}.${segment(c)}`;
          tokens.push(`${input}.${sign(alg, input)}`);
        }
      }
    }

    // cacheSize 0: every token is checked in full
    const v = createTokenVerifier({ serviceKeys: await testServiceKeys(), cacheSize: 0, now: () => T0 });
    let compared = 0;
    const verdicts = new Map<string, number>();
    for (const { p, reference } of configs) {
      const options: JWTVerifyOptions = {
        algorithms: partnerKeyInfo(p.jwt).algorithms,
        requiredClaims: ['exp', 'sub'],
        clockTolerance: p.jwt.clockToleranceSec ?? 30,
        currentDate: new Date(T0),
      };
      if (p.jwt.issuer !== undefined) options.issuer = p.jwt.issuer;
      if (p.jwt.audience !== undefined) options.audience = p.jwt.audience;
      for (const token of tokens) {
        const want = await jwtVerify(token, reference, options).then(
          ({ payload }) => `ok ${String(payload.sub)}`,
          (err: unknown) => tokenError(err).message,
        );
        const got = await v.verify(p, token).then(
          (principal) => `ok ${principal.userId}`,
          (err: unknown) => (err as Error).message,
        );
        assert.equal(got, want, `${p.id}: ${Buffer.from(token.split('.')[0]!, 'base64url').toString()} ${Buffer.from(token.split('.')[1]!, 'base64url').toString()} signature ${token.split('.')[2]}`);
        verdicts.set(`${p.id} ${want.startsWith('ok') ? 'ok' : 'refused'}`, (verdicts.get(`${p.id} ${want.startsWith('ok') ? 'ok' : 'refused'}`) ?? 0) + 1);
        compared++;
      }
    }
    const perConfig = plainHeaders * (keySigners * claims.length + (signers.length - keySigners) * 2) + (headers.length - plainHeaders) * signers.length * 2;
    assert.equal(compared, configs.length * perConfig);
    // every config accepts the well-signed tokens (the other verdicts are refusals for many reasons)
    for (const { p } of configs) assert.ok((verdicts.get(`${p.id} ok`) ?? 0) >= 2, `${p.id}: ${JSON.stringify([...verdicts])}`);
  });
});
