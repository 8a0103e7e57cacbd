import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { describe, it } from 'node:test';
import { calculateJwkThumbprint, decodeProtectedHeader } from 'jose';
import { publicKeyThumbprint } from '../../src/auth/verifying-key.js';
import { loadServiceKeys } from '../../src/auth/service-keys.js';
import { ISSUER, T0, serviceKeyConfig } from './helpers.js';

describe('verifying keys', () => {
  it('the thumbprint is RFC 7638’s, as jose computes it, for every key type a partner may use', async () => {
    const keys: KeyObject[] = [
      generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey,
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey,
      generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey,
      generateKeyPairSync('ec', { namedCurve: 'P-521' }).publicKey,
      generateKeyPairSync('ed25519').publicKey,
    ];
    for (const key of keys) assert.equal(publicKeyThumbprint(key), await calculateJwkThumbprint(key.export({ format: 'jwk' })), key.asymmetricKeyType);
    // RFC 7638 §3.1's example key.
    const example = {
      kty: 'RSA',
      n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
      e: 'AQAB',
    };
    assert.equal(publicKeyThumbprint(createPublicKey({ key: example, format: 'jwk' })), 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  });

  it('a JWK with a non-canonical modulus (a leading zero byte) gets the thumbprint of the key it imports to', () => {
    const jwk = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
    const padded = { ...jwk, n: Buffer.concat([Buffer.alloc(1), Buffer.from(jwk.n!, 'base64url')]).toString('base64url') };
    const key = createPublicKey({ key: jwk, format: 'jwk' });
    assert.equal(publicKeyThumbprint(createPublicKey({ key: padded, format: 'jwk' })), publicKeyThumbprint(key));
  });

  it('a guest token is tied to the service key that verified it (kid and thumbprint), never revoked', async () => {
    const { config, kids } = await serviceKeyConfig(['ES256', 'EdDSA'], 1);
    const keys = await loadServiceKeys({ config, dataDir: '/nonexistent-not-used', issuer: ISSUER });
    const token = await keys.sign({ sub: 'u' }, T0 + 60_000);
    assert.equal(decodeProtectedHeader(token).kid, kids[1]);
    const { payload, key } = await keys.verifyWithKey(token, T0);
    assert.equal(payload.sub, 'u');
    assert.equal(key, keys.signingKey);
    // The test keys' kids are their RFC 7638 thumbprints.
    assert.deepEqual(key, { kid: kids[1], thumbprint: kids[1], revoked: false });
  });
});
