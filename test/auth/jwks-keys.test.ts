/**
 * A verified token does not outlive its key (issue 17, item 8): cached verifications of a partner's JWKS tokens
 * are tied to the key (kid and thumbprint) that verified them and dropped when a refresh no longer has it; an
 * unknown kid or a failed signature refetches the set, at most once per cooldown.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import type { PartnerConfig } from '../../src/config.js';
import type { ServiceKeys } from '../../src/auth/service-keys.js';
import { createTokenVerifier, type TokenVerifier } from '../../src/auth/tokens.js';
import { Clock, JwksServer, T0, eventually, expectRejected, partner, sec, signToken, testServiceKeys } from './helpers.js';

interface Signer {
  kid: string | undefined;
  privateKey: CryptoKey;
  jwk: JWK;
}

/** A fresh ES256 key; `kid` undefined makes a JWK (and tokens) without one. */
async function signer(kid: string | undefined): Promise<Signer> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk: JWK = { ...(await exportJWK(publicKey)), alg: 'ES256', use: 'sig' };
  if (kid !== undefined) jwk.kid = kid;
  return { kid, privateKey, jwk };
}

const COOLDOWN = 10_000;

describe('JWKS keys and the token cache', () => {
  const server = new JwksServer();
  let serviceKeys: ServiceKeys;
  let p: PartnerConfig;
  let k1: Signer;
  let k2: Signer;
  let k3: Signer;
  let n = 0;

  before(async () => {
    serviceKeys = await testServiceKeys();
    p = partner('jwks-keys', { jwksUrl: await server.start(), issuer: 'jwks-partner' });
    [k1, k2, k3] = await Promise.all([signer('k1'), signer('k2'), signer('k3')]);
  });
  after(() => server.stop());

  /** A distinct token each call (fresh sub). */
  const token = (s: Signer): Promise<string> => {
    const header = s.kid === undefined ? { alg: 'ES256' } : { alg: 'ES256', kid: s.kid };
    return signToken(s.privateKey, header, { sub: `user-${++n}`, iss: 'jwks-partner', exp: sec(T0) + 86_400 });
  };

  const setup = (keys: JWK[], jwksCacheMs?: number): { clock: Clock; v: TokenVerifier } => {
    server.fetches = 0;
    server.failing = false;
    server.keys = keys;
    const clock = new Clock();
    const v = createTokenVerifier({ serviceKeys, cacheSize: 100, now: clock.now, ...(jwksCacheMs === undefined ? {} : { jwksCacheMs }) });
    return { clock, v };
  };

  describe('removal', () => {
    it('a cached token of a removed key is rejected once an unknown kid refetches the set', async () => {
      const { clock, v } = setup([k1.jwk, k2.jwk]);
      const [t1, t2] = await Promise.all([token(k1), token(k2)]);
      await v.verify(p, t1);
      await v.verify(p, t2);
      assert.equal(server.fetches, 1);

      server.keys = [k2.jwk];
      clock.advance(COOLDOWN);
      // Nothing has fetched the set yet: the entry still answers.
      assert.ok(v.cached(p, t1));
      await expectRejected(v.verify(p, await token(k3)), /no key matches/);
      assert.equal(server.fetches, 2);

      assert.equal(v.cached(p, t1), undefined, 'dropped with its key');
      await expectRejected(v.verify(p, t1), /no key matches/);
      // The key still in the set keeps its entries.
      assert.ok(v.cached(p, t2));
      assert.equal(server.fetches, 2);
    });

    it('the periodic refresh drops them too: a hit on a stale set starts it without waiting for it', async () => {
      const { clock, v } = setup([k1.jwk, k2.jwk], 60_000);
      const [t1, t2] = await Promise.all([token(k1), token(k2)]);
      await v.verify(p, t1);
      await v.verify(p, t2);
      server.keys = [k2.jwk];

      clock.advance(59_000);
      assert.ok(v.cached(p, t1));
      await sleep(50);
      assert.equal(server.fetches, 1, 'no refresh before the interval');

      clock.advance(1_000);
      assert.ok(v.cached(p, t1), 'the hit answers at once');
      assert.ok(v.cached(p, t1), 'and the next, while the refresh runs');
      await eventually(() => v.cached(p, t1) === undefined, 'the refresh revokes k1');
      assert.equal(server.fetches, 1 + 1, 'one refresh for all the hits');
      assert.ok(v.cached(p, t2));
      await expectRejected(v.verify(p, t1), /no key matches/);
    });

    it('a failed periodic refresh keeps the keys and is retried after the cooldown', async () => {
      const { clock, v } = setup([k1.jwk], 60_000);
      const t1 = await token(k1);
      await v.verify(p, t1);
      server.failing = true;
      clock.advance(60_000);
      assert.ok(v.cached(p, t1));
      await eventually(() => server.fetches === 2, 'the refresh is tried');
      await sleep(50);
      clock.advance(COOLDOWN - 1);
      assert.ok(v.cached(p, t1), 'the keys fetched before stay in use');
      await sleep(50);
      assert.equal(server.fetches, 2, 'not retried within the cooldown');

      server.failing = false;
      server.keys = [k2.jwk];
      clock.advance(1);
      assert.ok(v.cached(p, t1));
      await eventually(() => v.cached(p, t1) === undefined, 'the retry revokes k1');
      assert.equal(server.fetches, 3);
    });
  });

  describe('replacement under the same kid', () => {
    it('is picked up by the first token of the new key after the cooldown, and the old key’s tokens are rejected', async () => {
      const { clock, v } = setup([k1.jwk]);
      const [old, oldUncached] = await Promise.all([token(k1), token(k1)]);
      await v.verify(p, old);
      const replaced = await signer('k1');
      server.keys = [replaced.jwk];

      // Within the cooldown of the last fetch, the new key's token fails its signature without a fetch ...
      clock.advance(1_000);
      const fresh = await token(replaced);
      await expectRejected(v.verify(p, fresh), /bad signature/);
      assert.equal(server.fetches, 1);
      // ... and once the cooldown has passed, that failed signature refetches the set and verifies.
      clock.advance(COOLDOWN - 1_000);
      assert.match((await v.verify(p, fresh)).userId, /^user-/);
      assert.equal(server.fetches, 2);

      assert.equal(v.cached(p, old), undefined, 'the old key’s thumbprint is gone: its cached token goes');
      await expectRejected(v.verify(p, old), /bad signature/);
      await expectRejected(v.verify(p, oldUncached), /bad signature/);
      assert.ok(v.cached(p, fresh));
      assert.equal(server.fetches, 2);
    });

    it('works for keys and tokens without a kid (tied to the thumbprint alone)', async () => {
      const [a, b] = await Promise.all([signer(undefined), signer(undefined)]);
      const { clock, v } = setup([a.jwk]);
      const old = await token(a);
      await v.verify(p, old);
      assert.ok(v.cached(p, old));
      server.keys = [b.jwk];
      clock.advance(COOLDOWN);
      const fresh = await token(b);
      assert.match((await v.verify(p, fresh)).userId, /^user-/);
      assert.equal(server.fetches, 2);
      assert.equal(v.cached(p, old), undefined);
      await expectRejected(v.verify(p, old), /bad signature/);
      assert.ok(v.cached(p, fresh));
    });
  });

  describe('rotation', () => {
    it('old and new keys are both valid while both are in the set; the old one’s tokens go with it', async () => {
      const { clock, v } = setup([k1.jwk]);
      const t1 = await token(k1);
      await v.verify(p, t1);

      // The partner publishes k2 next to k1 and starts signing with it.
      server.keys = [k1.jwk, k2.jwk];
      clock.advance(COOLDOWN);
      const t2 = await token(k2);
      assert.match((await v.verify(p, t2)).userId, /^user-/);
      assert.equal(server.fetches, 2);
      assert.ok(v.cached(p, t1), 'k1 is still in the set: its cached token stays');
      assert.match((await v.verify(p, await token(k1))).userId, /^user-/);
      assert.ok(v.cached(p, t2));

      // k1 is retired; the next fetch (here an unknown kid's) no longer has it.
      server.keys = [k2.jwk];
      clock.advance(COOLDOWN);
      await expectRejected(v.verify(p, await token(k3)), /no key matches/);
      assert.equal(server.fetches, 3);
      assert.equal(v.cached(p, t1), undefined);
      await expectRejected(v.verify(p, t1), /no key matches/);
      assert.ok(v.cached(p, t2), 'k2 kept its record across the refreshes');
      assert.match((await v.verify(p, await token(k2))).userId, /^user-/);
      assert.equal(server.fetches, 3);
    });
  });

  describe('refetch rate limit', () => {
    it('a flood of unknown kids or forged signatures fetches at most once per cooldown', async () => {
      const { clock, v } = setup([k1.jwk]);
      await v.verify(p, await token(k1));
      assert.equal(server.fetches, 1);
      const forger = await signer('k1');
      const flood = async (): Promise<void> => {
        const tokens = await Promise.all(Array.from({ length: 40 }, (_, i) => token(i % 2 === 0 ? k3 : forger)));
        const results = await Promise.allSettled(tokens.map((t) => v.verify(p, t)));
        assert.ok(results.every((r) => r.status === 'rejected'));
      };

      await flood();
      assert.equal(server.fetches, 1, 'within the cooldown of the first fetch: none');
      clock.advance(COOLDOWN);
      await flood();
      assert.equal(server.fetches, 2, 'one for the whole flood');
      for (let i = 0; i < 3; i++) {
        clock.advance(3_000);
        await flood();
      }
      assert.equal(server.fetches, 2, '9 s later still one');
      clock.advance(1_000);
      await flood();
      assert.equal(server.fetches, 3);
    });
  });
});
