/** The partner-token matrix: every accepted shape and every rejection reason (all BasketError 2002). */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { exportJWK, exportPKCS8, exportSPKI, generateKeyPair, importPKCS8, jwtVerify, type CryptoKey, type JWTPayload, type JWTVerifyOptions } from 'jose';
import type { PartnerConfig } from '../../src/config.js';
import { BasketError, ERRORS } from '../../src/domain/errors.js';
import { tokenError } from '../../src/auth/errors.js';
import { bearerToken, createTokenVerifier, type TokenVerifier } from '../../src/auth/tokens.js';
import type { ServiceKeys } from '../../src/auth/service-keys.js';
import {
  CERT_KEY_PEM,
  CERT_PEM,
  Clock,
  T0,
  expectRejected,
  partner,
  rawToken,
  sec,
  secretKey,
  signToken,
  testServiceKeys,
} from './helpers.js';

const SECRET = 'hs-partner-secret-0123456789abcdef';
const HS = partner('hs', { secret: SECRET, issuer: 'partner-hs', audience: 'basket' });
const good = (extra: JWTPayload = {}): JWTPayload => ({ sub: 'user-1', iss: 'partner-hs', aud: 'basket', exp: sec(T0) + 3600, ...extra });

describe('bearerToken', () => {
  it('extracts the token, scheme case-insensitive', () => {
    assert.equal(bearerToken('Bearer abc.def.ghi'), 'abc.def.ghi');
    assert.equal(bearerToken('bearer abc.def.ghi'), 'abc.def.ghi');
    assert.equal(bearerToken('  BEARER   abc.def-_~+/=  '), 'abc.def-_~+/=');
  });

  it('rejects a missing header', async () => {
    for (const h of [undefined, '', '   ']) await expectRejected(Promise.resolve().then(() => bearerToken(h)), /missing/);
  });

  it('rejects other schemes and garbled tokens', async () => {
    const cases: [string, RegExp][] = [
      ['Basic dXNlcjpwYXNz', /Bearer scheme/],
      ['abc.def.ghi', /Bearer scheme/],
      ['Bearer', /malformed/],
      ['Bearer ', /malformed/],
      ['Bearer abc def', /malformed/],
      ['Bearer abc,def', /malformed/],
      ['Bearer "abc"', /malformed/],
    ];
    for (const [h, reason] of cases) await expectRejected(Promise.resolve().then(() => bearerToken(h)), reason);
  });

  it('maps to error 2002 / 401', async () => {
    assert.equal(ERRORS.AUTHORIZATION_HEADER_INVALID.code, 2002);
    assert.equal(ERRORS.AUTHORIZATION_HEADER_INVALID.status, 401);
  });
});

describe('partner tokens', () => {
  let serviceKeys: ServiceKeys;
  let clock: Clock;
  let verifier: TokenVerifier;
  let rsa: { privateKey: CryptoKey; publicKey: CryptoKey; pem: string };
  let es: { privateKey: CryptoKey; publicKey: CryptoKey };

  before(async () => {
    serviceKeys = await testServiceKeys();
    clock = new Clock();
    verifier = createTokenVerifier({ serviceKeys, cacheSize: 100, now: clock.now });
    const r = await generateKeyPair('RS256', { extractable: true });
    rsa = { ...r, pem: await exportSPKI(r.publicKey) };
    es = await generateKeyPair('ES256', { extractable: true });
  });

  const fresh = (cacheSize = 0): TokenVerifier => createTokenVerifier({ serviceKeys, cacheSize, now: clock.now });

  it('accepts HS256 with a shared secret', async () => {
    const token = await signToken(secretKey(SECRET), { alg: 'HS256' }, good());
    const p = await verifier.verify(HS, token);
    assert.deepEqual({ ...p }, { partnerId: 'hs', userId: 'user-1', guest: false, expires: (sec(T0) + 3600) * 1000 });
  });

  it('accepts RS256 with a PEM public key (alg derived from the key)', async () => {
    const p = partner('rs', { pem: rsa.pem, issuer: 'partner-rs' });
    const token = await signToken(rsa.privateKey, { alg: 'RS256' }, { sub: 'u-rs', iss: 'partner-rs', exp: sec(T0) + 60 });
    assert.equal((await verifier.verify(p, token)).userId, 'u-rs');
  });

  it('accepts PS256 for an RSA PEM when the partner lists it', async () => {
    const p = partner('rs-ps', { pem: rsa.pem, algorithms: ['RS256', 'PS256'] });
    // WebCrypto binds a key to one scheme: the same RSA key, imported for PSS.
    const pss = await importPKCS8(await exportPKCS8(rsa.privateKey), 'PS256');
    const tokenPss = await signToken(pss, { alg: 'PS256' }, { sub: 'u-pss', exp: sec(T0) + 60 });
    const tokenRs = await signToken(rsa.privateKey, { alg: 'RS256' }, { sub: 'u-rs', exp: sec(T0) + 60 });
    const v = fresh();
    assert.equal((await v.verify(p, tokenPss)).userId, 'u-pss');
    assert.equal((await v.verify(p, tokenRs)).userId, 'u-rs');
  });

  it('accepts ES256 with an X.509 certificate', async () => {
    const p = partner('cert', { pem: CERT_PEM });
    const key = await importPKCS8(CERT_KEY_PEM, 'ES256');
    const token = await signToken(key, { alg: 'ES256' }, { sub: 'u-cert', exp: sec(T0) + 60 });
    assert.equal((await verifier.verify(p, token)).userId, 'u-cert');
  });

  it('accepts ES256 with a public JWK', async () => {
    const p = partner('jwk', { jwk: { ...(await exportJWK(es.publicKey)) } as PartnerJwk, audience: 'basket' });
    const token = await signToken(es.privateKey, { alg: 'ES256', kid: 'any' }, { sub: 'u-es', aud: ['other', 'basket'], exp: sec(T0) + 60 });
    assert.equal((await verifier.verify(p, token)).userId, 'u-es');
  });

  it('accepts EdDSA with an Ed25519 JWK', async () => {
    const ed = await generateKeyPair('EdDSA', { extractable: true });
    const p = partner('ed', { jwk: { ...(await exportJWK(ed.publicKey)) } as PartnerJwk });
    const token = await signToken(ed.privateKey, { alg: 'EdDSA' }, { sub: 'u-ed', exp: sec(T0) + 60 });
    assert.equal((await verifier.verify(p, token)).userId, 'u-ed');
  });

  it('rejects a bad signature', async () => {
    const token = await signToken(secretKey('another-secret-0123456789abcdef'), { alg: 'HS256' }, good());
    await expectRejected(fresh().verify(HS, token), /bad signature/, undefined, token);
  });

  it('rejects a tampered payload', async () => {
    const token = await signToken(secretKey(SECRET), { alg: 'HS256' }, good());
    const [h, , s] = token.split('.');
    const forged = `${h}.${rawToken({}, good({ sub: 'admin' })).split('.')[1]}.${s}`;
    await expectRejected(fresh().verify(HS, forged), /bad signature/);
  });

  it('rejects the wrong issuer and the wrong audience', async () => {
    const wrongIss = await signToken(secretKey(SECRET), { alg: 'HS256' }, good({ iss: 'someone-else' }));
    await expectRejected(fresh().verify(HS, wrongIss), /wrong issuer/);
    const noIss = await signToken(secretKey(SECRET), { alg: 'HS256' }, good({ iss: undefined }));
    await expectRejected(fresh().verify(HS, noIss), /"iss"/);
    const wrongAud = await signToken(secretKey(SECRET), { alg: 'HS256' }, good({ aud: 'shop' }));
    await expectRejected(fresh().verify(HS, wrongAud), /wrong audience/);
  });

  it('rejects an expired token, honouring the clock tolerance', async () => {
    const token = await signToken(secretKey(SECRET), { alg: 'HS256' }, good({ exp: sec(T0) - 10 }));
    // 10 s late is within the default 30 s skew ...
    assert.equal((await fresh().verify(HS, token)).userId, 'user-1');
    // ... but not for a partner that allows no skew, nor 60 s late.
    await expectRejected(fresh().verify({ ...HS, jwt: { ...HS.jwt, clockToleranceSec: 0 } }, token), /expired/);
    const old = await signToken(secretKey(SECRET), { alg: 'HS256' }, good({ exp: sec(T0) - 60 }));
    await expectRejected(fresh().verify(HS, old), /expired/, undefined, old);
  });

  it('requires exp and sub', async () => {
    const noExp = await signToken(secretKey(SECRET), { alg: 'HS256' }, good({ exp: undefined }));
    await expectRejected(fresh().verify(HS, noExp), /"exp"/);
    const noSub = await signToken(secretKey(SECRET), { alg: 'HS256' }, good({ sub: undefined }));
    await expectRejected(fresh().verify(HS, noSub), /"sub"/);
    const emptySub = await signToken(secretKey(SECRET), { alg: 'HS256' }, good({ sub: '' }));
    await expectRejected(fresh().verify(HS, emptySub), /"sub"/);
    const textExp = await signToken(secretKey(SECRET), { alg: 'HS256' }, { ...good(), exp: 'tomorrow' } as unknown as JWTPayload);
    await expectRejected(fresh().verify(HS, textExp), /invalid "exp" claim/);
  });

  it('honours nbf', async () => {
    const future = await signToken(secretKey(SECRET), { alg: 'HS256' }, good({ nbf: sec(T0) + 120 }));
    await expectRejected(fresh().verify(HS, future), /not valid yet/);
    const past = await signToken(secretKey(SECRET), { alg: 'HS256' }, good({ nbf: sec(T0) - 120 }));
    assert.equal((await fresh().verify(HS, past)).userId, 'user-1');
  });

  it('rejects alg none', async () => {
    const token = rawToken({ alg: 'none', typ: 'JWT' }, good());
    await expectRejected(fresh().verify(HS, token), /algorithm not allowed/);
    const withSig = rawToken({ alg: 'none' }, good(), 'c2ln');
    await expectRejected(fresh().verify(HS, withSig), /algorithm not allowed/);
    const rsPartner = partner('rs-none', { pem: rsa.pem });
    await expectRejected(fresh().verify(rsPartner, token), /algorithm not allowed/);
  });

  it('rejects HS/RS confusion: HS256 signed with the RSA public PEM as the secret', async () => {
    const p = partner('rs-conf', { pem: rsa.pem });
    const token = await signToken(secretKey(rsa.pem), { alg: 'HS256' }, { sub: 'attacker', exp: sec(T0) + 60 });
    await expectRejected(fresh().verify(p, token), /algorithm not allowed/);
    // Even an explicit (invalid) HS entry cannot turn the PEM into an HMAC key: the registry refuses it, and
    // the verifier refuses to build such material.
    const bad = partner('rs-conf2', { pem: rsa.pem, algorithms: ['HS256'] });
    await assert.rejects(fresh().verify(bad, token), /does not fit/);
  });

  it('rejects an ES256 token for a partner that allows only RS256', async () => {
    const p = partner('rs-only', { pem: rsa.pem, algorithms: ['RS256'] });
    const token = await signToken(es.privateKey, { alg: 'ES256' }, { sub: 'u', exp: sec(T0) + 60 });
    await expectRejected(fresh().verify(p, token), /algorithm not allowed/);
  });

  it('rejects an RS256 token signed by another RSA key', async () => {
    const other = await generateKeyPair('RS256');
    const p = partner('rs-other', { pem: rsa.pem });
    const token = await signToken(other.privateKey, { alg: 'RS256' }, { sub: 'u', exp: sec(T0) + 60 });
    await expectRejected(fresh().verify(p, token), /bad signature/);
  });

  it('rejects garbage', async () => {
    for (const token of ['', 'abc', 'a.b.c', 'a.b', 'e30.e30.e30.e30.e30', rawToken({ alg: 'HS256' }, good()).slice(0, 20)]) {
      await expectRejected(fresh().verify(HS, token), /malformed/);
    }
  });

  describe('HS fast path (node:crypto HMAC instead of jose/WebCrypto)', () => {
    const HS_ALL = partner('hs-all', { secret: SECRET, issuer: 'partner-hs', audience: 'basket', algorithms: ['HS256', 'HS384', 'HS512'] });
    const HASH: Record<string, string> = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };
    /** Signs raw header/claims JSON with node:crypto, so headers jose would refuse to produce can be tested. */
    const hmacToken = (header: object | string, claims: object | string, opts: { secret?: string; hashAlg?: string } = {}): string => {
      const enc = (x: object | string): string => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');
      const input = `${enc(header)}.${enc(claims)}`;
      const alg = opts.hashAlg ?? (typeof header === 'object' && 'alg' in header && typeof header.alg === 'string' ? header.alg : 'HS256');
      return `${input}.${createHmac(HASH[alg] ?? 'sha256', opts.secret ?? SECRET).update(input).digest('base64url')}`;
    };

    it('accepts HS384 and HS512 when the partner allows them, and refuses them otherwise', async () => {
      for (const alg of ['HS384', 'HS512']) {
        const token = await signToken(secretKey(SECRET), { alg }, good({ sub: alg }));
        assert.equal((await fresh().verify(HS_ALL, token)).userId, alg);
        await expectRejected(fresh().verify(HS, token), /algorithm not allowed/);
      }
      const only512 = partner('hs-512', { secret: SECRET, algorithms: ['HS512'] });
      await expectRejected(fresh().verify(only512, await signToken(secretKey(SECRET), { alg: 'HS256' }, good())), /algorithm not allowed/);
    });

    it('refuses asymmetric and unknown algorithms for a secret partner, before any signature check', async () => {
      for (const alg of ['RS256', 'ES256', 'PS256', 'EdDSA', 'none', 'hs256', 'HS256 ']) {
        await expectRejected(fresh().verify(HS_ALL, hmacToken({ alg }, good(), { hashAlg: 'HS256' })), /algorithm not allowed/);
      }
      // a real ES256 token, too
      await expectRejected(fresh().verify(HS_ALL, await signToken(es.privateKey, { alg: 'ES256' }, good())), /algorithm not allowed/);
      for (const header of [{}, { alg: '' }, { alg: 256 }, { alg: ['HS256'] }]) {
        await expectRejected(fresh().verify(HS, hmacToken(header, good())), /malformed token: JWS "alg"/);
      }
    });

    it('checks the signature under the header alg: an HS256 MAC labelled HS384 is bad', async () => {
      await expectRejected(fresh().verify(HS_ALL, hmacToken({ alg: 'HS384' }, good(), { hashAlg: 'HS256' })), /bad signature/);
      await expectRejected(fresh().verify(HS_ALL, hmacToken({ alg: 'HS512' }, good(), { hashAlg: 'HS384' })), /bad signature/);
    });

    it('rejects signatures of the wrong length or encoding', async () => {
      const token = await signToken(secretKey(SECRET), { alg: 'HS256' }, good());
      const [h, p, s] = token.split('.') as [string, string, string];
      const mac = Buffer.from(s, 'base64url');
      const bad = [
        '',
        Buffer.from(mac.subarray(0, 31)).toString('base64url'),
        Buffer.concat([mac, Buffer.from([0])]).toString('base64url'),
        // right length, one bit off
        Buffer.from(mac.map((b, i) => (i === 0 ? b ^ 1 : b))).toString('base64url'),
        // an HS512-sized MAC for an HS256 token
        createHmac('sha512', SECRET).update(`${h}.${p}`).digest('base64url'),
      ];
      for (const sig of bad) await expectRejected(fresh().verify(HS, `${h}.${p}.${sig}`), /bad signature/);
      for (const sig of [`${s.slice(0, 10)}!${s.slice(10)}`, s.replace(/^./, '+'), `${s}AA`]) {
        await expectRejected(fresh().verify(HS, `${h}.${p}.${sig}`), /malformed token: Failed to base64url decode the signature/);
      }
      assert.equal((await fresh().verify(HS, `${h}.${p}.${s}`)).userId, 'user-1');
    });

    it('rejects a header or payload changed after signing', async () => {
      const token = hmacToken({ alg: 'HS256' }, good());
      const [h, p, s] = token.split('.') as [string, string, string];
      const otherHeader = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
      await expectRejected(fresh().verify(HS, `${otherHeader}.${p}.${s}`), /bad signature/);
      const otherPayload = Buffer.from(JSON.stringify(good({ exp: sec(T0) + 99_999 }))).toString('base64url');
      await expectRejected(fresh().verify(HS, `${h}.${otherPayload}.${s}`), /bad signature/);
    });

    it('rejects an unparseable header and a payload that is not a JSON object', async () => {
      for (const header of ['{"alg":"HS256"', '[]', 'null', '"HS256"']) {
        await expectRejected(fresh().verify(HS, hmacToken(header, good())), /malformed token: JWS Protected Header is invalid/);
      }
      for (const claims of ['[]', 'null', '5', '"user-1"', '{"sub":"user-1"']) {
        await expectRejected(fresh().verify(HS, hmacToken({ alg: 'HS256' }, claims)), /^malformed token$/);
      }
    });

    it('refuses critical header extensions except b64, and b64:false payloads', async () => {
      await expectRejected(fresh().verify(HS, hmacToken({ alg: 'HS256', crit: ['exp'], exp: 1 }, good())), /unsupported token algorithm or key/);
      await expectRejected(fresh().verify(HS, hmacToken({ alg: 'HS256', crit: ['b64', 'x'], b64: true }, good())), /unsupported token algorithm or key/);
      for (const crit of [[], '', 'b64', [''], [1], null]) {
        await expectRejected(fresh().verify(HS, hmacToken({ alg: 'HS256', crit, b64: true }, good())), /malformed token: "crit"/);
      }
      await expectRejected(fresh().verify(HS, hmacToken({ alg: 'HS256', crit: ['b64'] }, good())), /malformed token: Extension Header Parameter "b64" is missing/);
      await expectRejected(fresh().verify(HS, hmacToken({ alg: 'HS256', crit: ['b64'], b64: 'no' }, good())), /malformed token: The "b64"/);
      // jose refuses unencoded payloads only once the signature holds
      await expectRejected(fresh().verify(HS, hmacToken({ alg: 'HS256', crit: ['b64'], b64: false }, good())), /malformed token: JWTs MUST NOT use unencoded payload/);
      await expectRejected(fresh().verify(HS, hmacToken({ alg: 'HS256', crit: ['b64'], b64: false }, good(), { secret: 'x'.repeat(32) })), /bad signature/);
      // as with jose: an understood b64:true is the ordinary encoding, and b64 without crit is ignored
      assert.equal((await fresh().verify(HS, hmacToken({ alg: 'HS256', crit: ['b64'], b64: true }, good()))).userId, 'user-1');
      assert.equal((await fresh().verify(HS, hmacToken({ alg: 'HS256', b64: false }, good()))).userId, 'user-1');
    });

    it('applies the clock tolerance to exp and nbf at the exact boundaries', async () => {
      const now = sec(T0);
      const ok = async (claims: JWTPayload): Promise<void> => assert.equal((await fresh().verify(HS, hmacToken({ alg: 'HS256' }, good(claims)))).userId, 'user-1');
      // default 30 s: exp must be after now - 30, nbf at most now + 30
      await ok({ exp: now - 29 });
      await expectRejected(fresh().verify(HS, hmacToken({ alg: 'HS256' }, good({ exp: now - 30 }))), /token expired/);
      await ok({ nbf: now + 30 });
      await expectRejected(fresh().verify(HS, hmacToken({ alg: 'HS256' }, good({ nbf: now + 31 }))), /not valid yet/);
      // no tolerance: exp == now is expired, nbf == now is valid
      const strict = { ...HS, jwt: { ...HS.jwt, clockToleranceSec: 0 } };
      await expectRejected(fresh().verify(strict, hmacToken({ alg: 'HS256' }, good({ exp: now }))), /token expired/);
      assert.equal((await fresh().verify(strict, hmacToken({ alg: 'HS256' }, good({ exp: now + 1, nbf: now })))).userId, 'user-1');
      await expectRejected(fresh().verify(strict, hmacToken({ alg: 'HS256' }, good({ nbf: now + 1 }))), /not valid yet/);
      // whole seconds of the clock, as jose: 999 ms into the second is still that second
      const late = createTokenVerifier({ serviceKeys, cacheSize: 0, now: () => T0 + 999 });
      assert.equal((await late.verify(strict, hmacToken({ alg: 'HS256' }, good({ exp: now + 1 })))).userId, 'user-1');
    });

    it('type-checks iat, nbf and exp', async () => {
      await expectRejected(fresh().verify(HS, hmacToken({ alg: 'HS256' }, good({ iat: 'now' as unknown as number }))), /invalid "iat" claim/);
      await expectRejected(fresh().verify(HS, hmacToken({ alg: 'HS256' }, good({ iat: null as unknown as number }))), /invalid "iat" claim/);
      await expectRejected(fresh().verify(HS, hmacToken({ alg: 'HS256' }, good({ exp: null as unknown as number }))), /invalid "exp" claim/);
      // tokenError reads any nbf failure as "not valid yet"; unchanged from the jose path
      await expectRejected(fresh().verify(HS, hmacToken({ alg: 'HS256' }, good({ nbf: 'soon' as unknown as number }))), /not valid yet/);
      assert.equal((await fresh().verify(HS, hmacToken({ alg: 'HS256' }, good({ iat: sec(T0) + 9999 })))).userId, 'user-1');
    });

    it('checks iss and aud, with aud as a string or an array', async () => {
      const ok = async (claims: JWTPayload): Promise<void> => assert.equal((await fresh().verify(HS, hmacToken({ alg: 'HS256' }, good(claims)))).userId, 'user-1');
      const no = (claims: JWTPayload, reason: RegExp): Promise<void> => expectRejected(fresh().verify(HS, hmacToken({ alg: 'HS256' }, good(claims))), reason);
      await ok({ aud: ['other', 'basket'] });
      await ok({ aud: ['basket'] });
      await no({ aud: ['other', 'shop'] }, /wrong audience/);
      await no({ aud: [] }, /wrong audience/);
      await no({ aud: 'Basket' }, /wrong audience/);
      await no({ aud: { basket: true } as unknown as string }, /wrong audience/);
      await no({ aud: undefined }, /token lacks the required "aud" claim/);
      await no({ iss: 'partner-hs ' }, /wrong issuer/);
      await no({ iss: ['partner-hs'] as unknown as string }, /wrong issuer/);
      // missing claims are reported in jose's order: iss, aud, sub, exp
      await no({ iss: undefined, aud: undefined, sub: undefined, exp: undefined }, /"iss"/);
      await no({ aud: undefined, sub: undefined, exp: undefined }, /"aud"/);
      await no({ sub: undefined, exp: undefined }, /"sub"/);
      // without issuer/audience in the config, iss and aud are not required
      const bare = partner('hs-bare', { secret: SECRET });
      assert.equal((await fresh().verify(bare, hmacToken({ alg: 'HS256' }, { sub: 'u', exp: sec(T0) + 60, aud: 'anything' }))).userId, 'u');
    });

    it('gives the same outcome as jose jwtVerify across a matrix of headers, claims and configs', async () => {
      const now = sec(T0);
      const configs: PartnerConfig[] = [
        HS,
        HS_ALL,
        partner('m-bare', { secret: SECRET, clockToleranceSec: 0 }),
        partner('m-aud', { secret: SECRET, audience: 'basket', algorithms: ['HS512', 'HS256'], clockToleranceSec: 300 }),
      ];
      const headers: object[] = [
        { alg: 'HS256' }, { alg: 'HS384' }, { alg: 'HS512' }, { alg: 'HS256', typ: 'JWT', kid: 'k' }, { alg: 'none' }, { alg: 'RS256' }, {},
        { alg: 'HS256', crit: ['b64'], b64: true }, { alg: 'HS256', crit: ['b64'], b64: false }, { alg: 'HS256', crit: ['x'] }, { alg: 'HS256', crit: [] },
        { alg: 'HS256', crit: ['b64'] }, { alg: 'HS256', b64: false }, { alg: 'HS512', crit: ['b64', 'b64'], b64: true },
      ];
      const claims: JWTPayload[] = [
        good(), good({ iss: 'x' }), good({ iss: undefined }), good({ aud: undefined }), good({ aud: ['a', 'basket'] }), good({ aud: ['a'] }),
        good({ sub: undefined }), good({ exp: undefined }), good({ exp: now - 29 }), good({ exp: now - 30 }), good({ exp: now - 301 }), good({ exp: now }),
        good({ nbf: now + 30 }), good({ nbf: now + 31 }), good({ nbf: now + 300.5 }), good({ iat: 'x' as unknown as number }), good({ nbf: 'x' as unknown as number, exp: 'y' as unknown as number }),
        { exp: now + 60, sub: 'only' },
      ];
      const reference = async (p: PartnerConfig, token: string): Promise<string> => {
        const options: JWTVerifyOptions = {
          algorithms: p.jwt.algorithms ?? ['HS256'],
          requiredClaims: ['exp', 'sub'],
          clockTolerance: p.jwt.clockToleranceSec ?? 30,
          currentDate: new Date(T0),
        };
        if (p.jwt.issuer !== undefined) options.issuer = p.jwt.issuer;
        if (p.jwt.audience !== undefined) options.audience = p.jwt.audience;
        return jwtVerify(token, secretKey(p.jwt.secret!), options).then(
          ({ payload }) => `ok ${String(payload.sub)}`,
          (err: unknown) => tokenError(err).message,
        );
      };
      const v = fresh();
      let compared = 0;
      for (const p of configs) {
        for (const header of headers) {
          for (const c of claims) {
            for (const secret of [SECRET, 'another-secret-0123456789abcdef']) {
              const token = hmacToken(header, c, { secret, hashAlg: 'alg' in header && typeof header.alg === 'string' && header.alg.startsWith('HS') ? header.alg : 'HS256' });
              const got = await v.verify(p, token).then(
                (r) => `ok ${r.userId}`,
                (err: unknown) => (err as Error).message,
              );
              assert.equal(got, await reference(p, token), `${p.id} ${JSON.stringify(header)} ${JSON.stringify(c)} ${secret}`);
              compared++;
            }
          }
        }
      }
      assert.equal(compared, configs.length * headers.length * claims.length * 2);
    });

    it('uses a new secret as soon as the partner config changes', async () => {
      const v = fresh();
      const token = await signToken(secretKey(SECRET), { alg: 'HS256' }, good());
      assert.equal((await v.verify(HS, token)).userId, 'user-1');
      const rotated = { ...HS, jwt: { ...HS.jwt, secret: 'rotated-secret-0123456789abcdef' } };
      await expectRejected(v.verify(rotated, token), /bad signature/);
      // node:crypto would take an empty key (WebCrypto refused it): a plain Error, a misconfiguration, not a 401
      await assert.rejects(v.verify({ ...HS, jwt: { ...HS.jwt, secret: '' } }, token), (err: unknown) => {
        assert.ok(err instanceof Error && !(err instanceof BasketError));
        assert.match(err.message, /secret must not be empty/);
        return true;
      });
    });
  });

  describe('cache', () => {
    const wrongSecret = { ...HS, jwt: { ...HS.jwt, secret: 'wrong-secret-0123456789abcdefgh' } };

    it('a hit does not verify again; without a cache the same call fails', async () => {
      const c = new Clock();
      const v = createTokenVerifier({ serviceKeys, cacheSize: 10, now: c.now });
      const token = await signToken(secretKey(SECRET), { alg: 'HS256' }, good());
      await v.verify(HS, token);
      // Same partner id, unusable material: only a cache hit can succeed.
      assert.equal((await v.verify(wrongSecret, token)).userId, 'user-1');
      const uncached = createTokenVerifier({ serviceKeys, cacheSize: 0, now: c.now });
      await uncached.verify(HS, token);
      await expectRejected(uncached.verify(wrongSecret, token), /bad signature/);
    });

    it('an expired entry is rejected once the clock passes exp', async () => {
      const strict = { ...HS, jwt: { ...HS.jwt, clockToleranceSec: 0 } };
      const c = new Clock();
      const v = createTokenVerifier({ serviceKeys, cacheSize: 10, now: c.now });
      const token = await signToken(secretKey(SECRET), { alg: 'HS256' }, good({ exp: sec(T0) + 60 }));
      await v.verify(strict, token);
      c.advance(59_000);
      await v.verify(strict, token);
      c.advance(1_000);
      await expectRejected(v.verify(strict, token), /expired/);
    });

    it('is bounded (a hit spares an entry once, as LRU would) and keyed by partner', async () => {
      const c = new Clock();
      const v = createTokenVerifier({ serviceKeys, cacheSize: 2, now: c.now });
      const [a, b, d, e] = await Promise.all(['a', 'b', 'd', 'e'].map((s) => signToken(secretKey(SECRET), { alg: 'HS256' }, good({ sub: s }))));
      await v.verify(HS, a!);
      await v.verify(HS, b!);
      await v.verify(wrongSecret, a!); // hit: a is spared by the next eviction
      await v.verify(HS, d!); // evicts b
      assert.equal((await v.verify(wrongSecret, a!)).userId, 'a');
      await expectRejected(v.verify(wrongSecret, b!), /bad signature/);
      await v.verify(HS, e!); // evicts d, not a: a was hit again since
      assert.equal((await v.verify(wrongSecret, a!)).userId, 'a');
      await expectRejected(v.verify(wrongSecret, d!), /bad signature/);
      await v.verify(HS, b!); // a, hit just above, is spared again: e goes
      await expectRejected(v.verify(wrongSecret, e!), /bad signature/);
      await v.verify(HS, d!); // a not hit since it was last spared: now it goes
      await expectRejected(v.verify(wrongSecret, a!), /bad signature/);
      assert.equal((await v.verify(wrongSecret, b!)).userId, 'b');
      // Another partner id never sees partner hs's entries.
      await expectRejected(v.verify({ ...wrongSecret, id: 'hs2' }, a!), /bad signature/);
    });

    it('does not cache a token before its nbf', async () => {
      const c = new Clock();
      const v = createTokenVerifier({ serviceKeys, cacheSize: 10, now: c.now });
      // nbf 10 s ahead: accepted within the 30 s skew, but not cached.
      const token = await signToken(secretKey(SECRET), { alg: 'HS256' }, good({ nbf: sec(T0) + 10 }));
      await v.verify(HS, token);
      await expectRejected(v.verify(wrongSecret, token), /bad signature/);
    });

    it('cached() answers only tokens verified before, for the same partner, until exp', async () => {
      const strict = { ...HS, jwt: { ...HS.jwt, clockToleranceSec: 0 } };
      const c = new Clock();
      const v = createTokenVerifier({ serviceKeys, cacheSize: 10, now: c.now });
      const token = await signToken(secretKey(SECRET), { alg: 'HS256' }, good({ exp: sec(T0) + 60 }));
      assert.equal(v.cached(strict, token), undefined);
      const verified = await v.verify(strict, token);
      assert.equal(v.cached(strict, token), verified);
      assert.equal(v.cached({ ...strict, id: 'hs2' }, token), undefined);
      c.advance(60_000);
      assert.equal(v.cached(strict, token), undefined);
      const none = createTokenVerifier({ serviceKeys, cacheSize: 0, now: c.now });
      const later = await signToken(secretKey(SECRET), { alg: 'HS256' }, good({ exp: sec(T0) + 600 }));
      await none.verify(strict, later);
      assert.equal(none.cached(strict, later), undefined);
    });

    it('counts each token presented once: a hit when the cache answers, a miss when verified in full', async () => {
      const c = new Clock();
      const v = createTokenVerifier({ serviceKeys, cacheSize: 10, now: c.now });
      const token = await signToken(secretKey(SECRET), { alg: 'HS256' }, good());
      assert.deepEqual({ ...v.cacheCounts }, { hits: 0, misses: 0 });
      // the request path: cached() first, verify() only when it has no answer
      assert.equal(v.cached(HS, token), undefined);
      await v.verify(HS, token);
      assert.deepEqual({ ...v.cacheCounts }, { hits: 0, misses: 1 });
      assert.ok(v.cached(HS, token));
      await v.verify(HS, token);
      assert.deepEqual({ ...v.cacheCounts }, { hits: 2, misses: 1 });
      // a rejected token was verified in full too
      await expectRejected(v.verify(HS, await signToken(secretKey('another-secret-0123456789abcdef'), { alg: 'HS256' }, good())), /bad signature/);
      assert.deepEqual({ ...v.cacheCounts }, { hits: 2, misses: 2 });
      const none = createTokenVerifier({ serviceKeys, cacheSize: 0, now: c.now });
      await none.verify(HS, token);
      await none.verify(HS, token);
      assert.deepEqual({ ...none.cacheCounts }, { hits: 0, misses: 2 });
    });

    it('does not cache rejections', async () => {
      const c = new Clock();
      const v = createTokenVerifier({ serviceKeys, cacheSize: 10, now: c.now });
      const token = await signToken(secretKey(SECRET), { alg: 'HS256' }, good());
      await expectRejected(v.verify(wrongSecret, token), /bad signature/);
      assert.equal((await v.verify(HS, token)).userId, 'user-1');
    });
  });
});

type PartnerJwk = { kty: string } & Record<string, unknown>;
