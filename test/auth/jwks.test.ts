/** Partner JWKS URLs, served by a local HTTP server that counts fetches and can rotate or fail. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import type { PartnerConfig } from '../../src/config.js';
import type { ServiceKeys } from '../../src/auth/service-keys.js';
import { createTokenVerifier, type TokenVerifier } from '../../src/auth/tokens.js';
import { Clock, JwksServer, T0, eventually, expectRejected, partner, sec, signToken, testServiceKeys } from './helpers.js';

interface Signer {
  kid: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

async function signer(kid: string): Promise<Signer> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
}

describe('JWKS URL partners', () => {
  const server = new JwksServer();
  let serviceKeys: ServiceKeys;
  let p: PartnerConfig;
  let k1: Signer;
  let k2: Signer;
  let n = 0;

  before(async () => {
    serviceKeys = await testServiceKeys();
    p = partner('jwks', { jwksUrl: await server.start(), issuer: 'jwks-partner' });
    [k1, k2] = await Promise.all([signer('k1'), signer('k2')]);
  });
  after(() => server.stop());

  /** A distinct token each call (fresh sub), so the token cache never answers. */
  const token = (s: Signer, exp = sec(T0) + 3600): Promise<string> =>
    signToken(s.privateKey, { alg: 'ES256', kid: s.kid }, { sub: `user-${++n}`, iss: 'jwks-partner', exp });

  const setup = (opts: { cacheSize?: number; jwksCacheMs?: number } = {}): { clock: Clock; v: TokenVerifier } => {
    server.fetches = 0;
    server.failing = false;
    server.keys = [k1.jwk];
    const clock = new Clock();
    return { clock, v: createTokenVerifier({ serviceKeys, cacheSize: opts.cacheSize ?? 0, now: clock.now, ...opts }) };
  };

  it('verifies, and reuses the fetched key set for new tokens with the same kid', async () => {
    const { v } = setup();
    assert.match((await v.verify(p, await token(k1))).userId, /^user-/);
    assert.equal(server.fetches, 1);
    await v.verify(p, await token(k1));
    await v.verify(p, await token(k1));
    assert.equal(server.fetches, 1);
  });

  it('fetches once for concurrent first verifications', async () => {
    const { v } = setup();
    const tokens = await Promise.all([token(k1), token(k1), token(k1)]);
    await Promise.all(tokens.map((t) => v.verify(p, t)));
    assert.equal(server.fetches, 1);
  });

  it('follows key rotation: an unknown kid refetches (at most once per cooldown)', async () => {
    const { clock, v } = setup();
    await v.verify(p, await token(k1));
    server.keys = [k2.jwk];
    // Right after a fetch the unknown kid is refused without hammering the partner ...
    clock.advance(1_000);
    await expectRejected(v.verify(p, await token(k2)), /no key matches/);
    assert.equal(server.fetches, 1);
    // ... and once the cooldown (10 s) has passed, it triggers one refetch and verifies.
    clock.advance(10_000);
    await v.verify(p, await token(k2));
    assert.equal(server.fetches, 2);
    // The retired kid is gone from the set.
    clock.advance(1_000);
    await expectRejected(v.verify(p, await token(k1)), /no key matches/);
    assert.equal(server.fetches, 2);
  });

  it('refetches when the cached set is older than jwksCacheMs', async () => {
    const { clock, v } = setup({ jwksCacheMs: 60_000 });
    await v.verify(p, await token(k1));
    clock.advance(59_000);
    await v.verify(p, await token(k1));
    assert.equal(server.fetches, 1);
    clock.advance(1_000);
    await v.verify(p, await token(k1));
    assert.equal(server.fetches, 2);
  });

  it('keeps the previous keys while the endpoint fails', async () => {
    const { clock, v } = setup({ jwksCacheMs: 60_000 });
    await v.verify(p, await token(k1));
    server.failing = true;
    clock.advance(120_000);
    await v.verify(p, await token(k1));
    assert.equal(server.fetches, 2);
  });

  it('is unavailable (503), not a token error, when no key set was ever fetched', async () => {
    const { v } = setup();
    server.failing = true;
    await expectRejected(v.verify(p, await token(k1)), /cannot be fetched/, 'SERVICE_UNAVAILABLE');
    assert.equal(server.fetches, 1);
    // Within the cooldown no new attempt is made.
    await expectRejected(v.verify(p, await token(k1)), /cannot be fetched/, 'SERVICE_UNAVAILABLE');
    assert.equal(server.fetches, 1);
  });

  it('a token-cache hit does not fetch while the set is fresh; once it is due, the hit answers and a refresh runs behind it', async () => {
    const { clock, v } = setup({ cacheSize: 10, jwksCacheMs: 60_000 });
    const t = await token(k1);
    await v.verify(p, t);
    clock.advance(59_000);
    assert.match((await v.verify(p, t)).userId, /^user-/);
    await sleep(50);
    assert.equal(server.fetches, 1);
    // The key set is stale and the endpoint down: the hit answers, and the refresh it starts fails behind it,
    // keeping the keys.
    server.failing = true;
    clock.advance(61_000);
    assert.match((await v.verify(p, t)).userId, /^user-/);
    await eventually(() => server.fetches === 2, 'the refresh behind the hit');
    await sleep(50);
    assert.match((await v.verify(p, t)).userId, /^user-/);
    assert.equal(server.fetches, 2, 'not again within the cooldown');
    // Control: a verifier without a token cache does try, which shows the probe works.
    const uncached = setup({ cacheSize: 0, jwksCacheMs: 60_000 });
    await uncached.v.verify(p, t);
    server.failing = true;
    uncached.clock.advance(120_000);
    await uncached.v.verify(p, t);
    assert.equal(server.fetches, 2);
  });

  it('rejects a kid signed by another key, and other algorithms', async () => {
    const { v } = setup();
    const impostor = { ...(await signer('k1')) };
    await expectRejected(v.verify(p, await token(impostor)), /bad signature/);
    const rsOnly = { ...p, id: 'jwks-rs', jwt: { ...p.jwt, algorithms: ['RS256'] } };
    await expectRejected(v.verify(rsOnly, await token(k1)), /algorithm not allowed/);
  });
});
