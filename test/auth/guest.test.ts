/** Guest tokens: issued and verified only with the service's own keys, bound to one partner. */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { decodeJwt, decodeProtectedHeader, generateKeyPair } from 'jose';
import { createTokenVerifier, issueGuestToken, type TokenVerifier } from '../../src/auth/tokens.js';
import type { ServiceKeys } from '../../src/auth/service-keys.js';
import { Clock, ISSUER, T0, expectRejected, partner, rawToken, sec, secretKey, signToken, testServiceKeys } from './helpers.js';

const A = partner('partner-a', { secret: 'partner-a-secret-0123456789abcdef', issuer: 'partner-a' });
const B = partner('partner-b', { secret: 'partner-b-secret-0123456789abcdef' });
const DAY = 86_400_000;

describe('guest tokens', () => {
  let keys: ServiceKeys;
  let clock: Clock;
  let verifier: TokenVerifier;

  before(async () => {
    keys = await testServiceKeys();
    clock = new Clock();
    verifier = createTokenVerifier({ serviceKeys: keys, cacheSize: 0, now: clock.now });
  });

  it('issue → verify gives a guest principal of that partner', async () => {
    const token = await issueGuestToken(keys, A.id, 'guest-123', T0 + 30 * DAY);
    const header = decodeProtectedHeader(token);
    assert.equal(header.alg, 'ES256');
    assert.equal(header.kid, keys.signingKid);
    const claims = decodeJwt(token);
    assert.equal(claims.iss, ISSUER);
    assert.equal(claims.guest, true);
    assert.equal(claims.pid, A.id);
    assert.equal(claims.exp, sec(T0 + 30 * DAY));
    assert.equal(typeof claims.iat, 'number');
    const p = await verifier.verify(A, token);
    assert.deepEqual({ ...p }, { partnerId: A.id, userId: 'guest-123', guest: true, expires: sec(T0 + 30 * DAY) * 1000 });
  });

  it('expires', async () => {
    const token = await issueGuestToken(keys, A.id, 'g', T0 + DAY);
    const c = new Clock(T0 + DAY + 60_000);
    await expectRejected(createTokenVerifier({ serviceKeys: keys, cacheSize: 0, now: c.now }).verify(A, token), /expired/);
  });

  it('rejects a tampered payload', async () => {
    const token = await issueGuestToken(keys, A.id, 'guest-123', T0 + DAY);
    const [h, p, s] = token.split('.') as [string, string, string];
    const claims = decodeJwt(token);
    const forged = `${h}.${rawToken({}, { ...claims, sub: 'someone-else' }).split('.')[1]}.${s}`;
    assert.notEqual(forged.split('.')[1], p);
    await expectRejected(verifier.verify(A, forged), /bad signature/, undefined, forged);
  });

  it('rejects a token signed by a foreign ES256 key that reuses our kid', async () => {
    const foreign = await generateKeyPair('ES256');
    const token = await signToken(
      foreign.privateKey,
      { alg: 'ES256', kid: keys.signingKid, typ: 'JWT' },
      { iss: ISSUER, sub: 'g', guest: true, pid: A.id, exp: sec(T0) + 3600 },
    );
    await expectRejected(verifier.verify(A, token), /bad signature/);
  });

  it('rejects a token with an unknown kid or none', async () => {
    const foreign = await generateKeyPair('ES256');
    const claims = { iss: ISSUER, sub: 'g', guest: true, pid: A.id, exp: sec(T0) + 3600 };
    await expectRejected(verifier.verify(A, await signToken(foreign.privateKey, { alg: 'ES256', kid: 'other' }, claims)), /known service key/);
    await expectRejected(verifier.verify(A, await signToken(foreign.privateKey, { alg: 'ES256' }, claims)), /known service key/);
    await expectRejected(verifier.verify(A, rawToken({ alg: 'none' }, claims)), /algorithm not allowed/);
  });

  it('rejects partner A’s guest token presented with partner B', async () => {
    const token = await issueGuestToken(keys, A.id, 'guest-123', T0 + DAY);
    await expectRejected(verifier.verify(B, token), /another partner/);
  });

  it('never verifies a token claiming our issuer with partner material', async () => {
    // Partner A's secret signs a token that pretends to be one of our guest tokens.
    const token = await signToken(secretKey(A.jwt.secret!), { alg: 'HS256' }, { iss: ISSUER, sub: 'g', guest: true, pid: A.id, exp: sec(T0) + 3600 });
    await expectRejected(verifier.verify(A, token), /algorithm not allowed/);
    const withKid = await signToken(secretKey(A.jwt.secret!), { alg: 'HS256', kid: keys.signingKid }, decodeJwt(token));
    await expectRejected(verifier.verify(A, withKid), /algorithm not allowed/);
  });

  it('rejects service-signed tokens that are not guest tokens, or lack sub/pid', async () => {
    const exp = T0 + DAY;
    await expectRejected(verifier.verify(A, await keys.sign({ sub: 'u', pid: A.id }, exp)), /not a guest token/);
    await expectRejected(verifier.verify(A, await keys.sign({ sub: 'u', guest: 'true', pid: A.id }, exp)), /not a guest token/);
    await expectRejected(verifier.verify(A, await keys.sign({ sub: 'u', guest: true }, exp)), /another partner/);
    await expectRejected(verifier.verify(A, await keys.sign({ guest: true, pid: A.id }, exp)), /"sub"/);
  });

  it('sign() overrides a caller-supplied iss and exp', async () => {
    const token = await keys.sign({ iss: 'evil', exp: 1, sub: 'u', guest: true, pid: A.id }, T0 + DAY);
    const claims = decodeJwt(token);
    assert.equal(claims.iss, ISSUER);
    assert.equal(claims.exp, sec(T0 + DAY));
  });

  it('cached guest tokens stay bound to their partner', async () => {
    const v = createTokenVerifier({ serviceKeys: keys, cacheSize: 10, now: clock.now });
    const token = await issueGuestToken(keys, A.id, 'guest-123', T0 + DAY);
    assert.equal((await v.verify(A, token)).guest, true);
    await expectRejected(v.verify(B, token), /another partner/);
  });
});
