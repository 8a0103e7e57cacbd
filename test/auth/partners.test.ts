/** PartnerRegistry: API key lookup by digest, and key material checked at construction. */
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { exportJWK, exportPKCS8, exportSPKI, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { ConfigError, DEV_PARTNER, type PartnerConfig } from '../../src/config.js';
import { PartnerRegistry } from '../../src/auth/partners.js';
import { CERT_PEM } from './helpers.js';

/** The config type only names `kty`; a real JWK carries more members. */
const asJwk = (jwk: JWK & Record<string, unknown>): { kty: string } => jwk as { kty: string };
const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
const SECRET = 'partner-secret-0123456789abcdef';

const plain: PartnerConfig = { id: 'plain', apiKeys: ['plain-key-0001', 'plain-key-0002'], jwt: { secret: SECRET } };
const hashed: PartnerConfig = { id: 'hashed', apiKeys: [`sha256:${sha('hashed-key-0001')}`, `sha256:${sha('hashed-key-0002').toUpperCase()}`], jwt: { secret: SECRET } };

function rejectsConfig(partners: PartnerConfig[], reason: RegExp): void {
  assert.throws(
    () => new PartnerRegistry(partners),
    (err: unknown) => err instanceof ConfigError && reason.test(err.message),
  );
}

describe('PartnerRegistry', () => {
  const registry = new PartnerRegistry([plain, hashed, DEV_PARTNER]);
  let rsa: { publicKey: CryptoKey; privateKey: CryptoKey };
  let es: { publicKey: CryptoKey; privateKey: CryptoKey };
  before(async () => {
    [rsa, es] = await Promise.all([generateKeyPair('RS256', { extractable: true }), generateKeyPair('ES256', { extractable: true })]);
  });

  it('finds partners by plain and sha256: keys', () => {
    assert.equal(registry.byApiKey('plain-key-0001'), plain);
    assert.equal(registry.byApiKey('plain-key-0002'), plain);
    assert.equal(registry.byApiKey('hashed-key-0001'), hashed);
    assert.equal(registry.byApiKey('hashed-key-0002'), hashed);
    assert.equal(registry.byApiKey('dev-api-key'), DEV_PARTNER);
  });

  it('returns undefined for unknown, empty, or hash-as-key input', () => {
    assert.equal(registry.byApiKey('nope-nope-nope'), undefined);
    assert.equal(registry.byApiKey(''), undefined);
    assert.equal(registry.byApiKey(undefined), undefined);
    assert.equal(registry.byApiKey('PLAIN-KEY-0001'), undefined);
    // Knowing the stored digest is not knowing the key.
    assert.equal(registry.byApiKey(`sha256:${sha('hashed-key-0001')}`), undefined);
    assert.equal(registry.byApiKey(sha('hashed-key-0001')), undefined);
  });

  it('finds partners by id and lists them in order', () => {
    assert.equal(registry.byId('hashed'), hashed);
    assert.equal(registry.byId('missing'), undefined);
    assert.deepEqual(registry.all().map((p) => p.id), ['plain', 'hashed', 'demo']);
  });

  it('accepts PEM, certificate, JWK and JWKS material', async () => {
    const reg = new PartnerRegistry([
      { id: 'pem', apiKeys: ['pem-key-0001'], jwt: { pem: await exportSPKI(rsa.publicKey), algorithms: ['RS256', 'PS512'] } },
      { id: 'cert', apiKeys: ['cert-key-0001'], jwt: { pem: CERT_PEM } },
      { id: 'jwk', apiKeys: ['jwk-key-0001'], jwt: { jwk: asJwk({ ...(await exportJWK(es.publicKey)), alg: 'ES256' }) } },
      { id: 'jwks', apiKeys: ['jwks-key-0001'], jwt: { jwksUrl: 'https://partner.example/.well-known/jwks.json' } },
    ]);
    assert.equal(reg.all().length, 4);
  });

  it('rejects bad entries with ConfigError', async () => {
    const pem = await exportSPKI(rsa.publicKey);
    const base = { apiKeys: ['some-key-0001'] };
    rejectsConfig([{ ...plain }, { ...plain, apiKeys: ['other-key-0001'] }], /duplicate partner id/);
    rejectsConfig([{ ...plain, apiKeys: ['sha256:abc'] }], /sha256:<64 hex digits>/);
    // The same key, plain for one partner and hashed for another.
    rejectsConfig([plain, { ...hashed, apiKeys: [`sha256:${sha('plain-key-0001')}`] }], /already used/);
    rejectsConfig([{ id: 'x', ...base, jwt: {} }], /exactly one/);
    rejectsConfig([{ id: 'x', ...base, jwt: { secret: SECRET, pem } }], /exactly one/);
    rejectsConfig([{ id: 'x', ...base, jwt: { pem: 'not a pem' } }], /jwt is invalid/);
    rejectsConfig([{ id: 'x', ...base, jwt: { pem: await exportPKCS8(rsa.privateKey) } }], /SPKI public key/);
    rejectsConfig([{ id: 'x', ...base, jwt: { pem, algorithms: ['ES256'] } }], /ES256 does not fit/);
    rejectsConfig([{ id: 'x', ...base, jwt: { pem, algorithms: ['HS256'] } }], /HS256 does not fit/);
    rejectsConfig([{ id: 'x', ...base, jwt: { secret: SECRET, algorithms: ['RS256'] } }], /RS256 does not fit/);
    rejectsConfig([{ id: 'x', ...base, jwt: { jwk: asJwk(await exportJWK(es.privateKey)) } }], /private parts/);
    rejectsConfig([{ id: 'x', ...base, jwt: { jwk: asJwk({ kty: 'oct', k: 'c2VjcmV0' }) } }], /public key/);
    rejectsConfig([{ id: 'x', ...base, jwt: { jwk: asJwk({ ...(await exportJWK(es.publicKey)), alg: 'RS256' }) } }], /does not fit/);
    // keys no token could ever be verified with: refused at start, not on every request
    const spkiOf = (key: KeyObject): string => key.export({ type: 'spki', format: 'pem' }).toString();
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    rejectsConfig([{ id: 'x', ...base, jwt: { pem: spkiOf(weak) } }], /2048 bits or more, this one has 1024/);
    rejectsConfig([{ id: 'x', ...base, jwt: { jwk: asJwk(weak.export({ format: 'jwk' }) as JWK) } }], /2048 bits/);
    rejectsConfig([{ id: 'x', ...base, jwt: { pem: spkiOf(generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).publicKey) } }], /RSASSA-PSS/);
  });

  it('error messages never contain an API key', () => {
    assert.throws(
      () => new PartnerRegistry([plain, { ...hashed, apiKeys: ['plain-key-0001'] }]),
      (err: unknown) => err instanceof ConfigError && !err.message.includes('plain-key-0001'),
    );
  });
});
