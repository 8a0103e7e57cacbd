/** Service signing keys: generated once per data directory, or configured with rotation. */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify } from 'jose';
import { ConfigError } from '../../src/config.js';
import { SERVICE_KEYS_FILE, loadServiceKeys } from '../../src/auth/service-keys.js';
import { T0, expectRejected, serviceKeyConfig } from './helpers.js';

const ISSUER = 'basket-svc';
const EXP = T0 + 3_600_000;

describe('service keys', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'basket-auth-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  describe('generated in the data directory', () => {
    it('creates one ES256 key (dir created, mode 0600) and reuses it on reload', async () => {
      const dataDir = path.join(root, 'gen', 'nested');
      const first = await loadServiceKeys({ config: null, dataDir, issuer: ISSUER });
      const file = path.join(dataDir, SERVICE_KEYS_FILE);
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      const second = await loadServiceKeys({ config: null, dataDir, issuer: ISSUER });
      assert.equal(second.signingKid, first.signingKid);
      assert.deepEqual(second.jwks(), first.jwks());
      // A token from the first instance verifies with the reloaded one.
      const token = await first.sign({ sub: 'u' }, EXP);
      assert.equal((await second.verify(token, T0)).sub, 'u');
      assert.equal(decodeProtectedHeader(token).alg, 'ES256');
      assert.deepEqual(await readdir(dataDir), [SERVICE_KEYS_FILE]);
    });

    it('concurrent loads on an empty directory agree on one key', async () => {
      const dataDir = path.join(root, 'race');
      const loaded = await Promise.all(Array.from({ length: 6 }, () => loadServiceKeys({ config: null, dataDir, issuer: ISSUER })));
      const kids = new Set(loaded.map((k) => k.signingKid));
      assert.equal(kids.size, 1);
      const onDisk = JSON.parse(await readFile(path.join(dataDir, SERVICE_KEYS_FILE), 'utf8')) as { signingKid: string };
      assert.equal(onDisk.signingKid, loaded[0]!.signingKid);
      // No temp files left behind.
      assert.deepEqual(await readdir(dataDir), [SERVICE_KEYS_FILE]);
    });

    it('a corrupt key file is a ConfigError naming the file', async () => {
      const dataDir = path.join(root, 'corrupt');
      await loadServiceKeys({ config: null, dataDir, issuer: ISSUER });
      await writeFile(path.join(dataDir, SERVICE_KEYS_FILE), '{"keys": [');
      await assert.rejects(loadServiceKeys({ config: null, dataDir, issuer: ISSUER }), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /service-keys\.json is invalid/);
        return true;
      });
    });
  });

  describe('configured (SERVICE_KEYS)', () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(path.join(root, 'configured-'));
    });

    it('rotates: old tokens verify, new tokens use the new kid, jwks lists both public keys', async () => {
      const { config, kids } = await serviceKeyConfig(['ES256', 'EdDSA'], 0);
      const [oldKid, newKid] = kids as [string, string];
      const before = await loadServiceKeys({ config, dataDir: dir, issuer: ISSUER });
      assert.equal(before.signingKid, oldKid);
      const oldToken = await before.sign({ sub: 'old' }, EXP);

      const rotated = JSON.stringify({ ...JSON.parse(config), signingKid: newKid });
      const after = await loadServiceKeys({ config: rotated, dataDir: dir, issuer: ISSUER });
      assert.equal(after.signingKid, newKid);
      assert.equal((await after.verify(oldToken, T0)).sub, 'old');
      const newToken = await after.sign({ sub: 'new' }, EXP);
      assert.deepEqual(decodeProtectedHeader(newToken), { alg: 'EdDSA', kid: newKid, typ: 'JWT' });
      assert.equal((await after.verify(newToken, T0)).sub, 'new');

      const { keys } = after.jwks();
      assert.deepEqual(keys.map((k) => k.kid), [oldKid, newKid]);
      for (const k of keys) {
        assert.equal(k.d, undefined);
        assert.equal(k.use, 'sig');
        assert.ok(k.alg === 'ES256' || k.alg === 'EdDSA');
      }
      assert.deepEqual(Object.keys(keys[0]!).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
      // Nothing was written: configured keys never touch the data directory.
      assert.deepEqual(await readdir(dir), []);
    });

    it('signs tokens that jose verifies against the published JWKS alone, for each algorithm', async () => {
      for (const alg of ['ES256', 'EdDSA'] as const) {
        const { config, kids } = await serviceKeyConfig([alg], 0);
        const keys = await loadServiceKeys({ config, dataDir: dir, issuer: ISSUER });
        const before = Math.floor(Date.now() / 1000);
        const token = await keys.sign({ sub: 'u1', guest: true, pid: 'p' }, EXP);
        const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(keys.jwks()), {
          issuer: ISSUER,
          algorithms: [alg],
          currentDate: new Date(T0),
        });
        assert.deepEqual(protectedHeader, { alg, kid: kids[0], typ: 'JWT' });
        assert.deepEqual({ ...payload, iat: undefined }, { sub: 'u1', guest: true, pid: 'p', iss: ISSUER, iat: undefined, exp: Math.floor(EXP / 1000) });
        assert.ok(payload.iat! >= before && payload.iat! <= Math.floor(Date.now() / 1000), 'issued now');
        // JWS wants ES256's raw r‖s (64 bytes), Ed25519's signature is 64 bytes too; DER would be ~70
        assert.equal(Buffer.from(token.split('.')[2]!, 'base64url').length, 64);
      }
    });

    it('defaults the signing key to the first key', async () => {
      const { config, kids } = await serviceKeyConfig(['ES256', 'ES256']);
      const doc = JSON.parse(config) as { signingKid?: string };
      delete doc.signingKid;
      assert.equal((await loadServiceKeys({ config: JSON.stringify(doc), dataDir: dir, issuer: ISSUER })).signingKid, kids[0]);
    });

    it('verify() rejects other issuers and expired tokens with 2002', async () => {
      const { config } = await serviceKeyConfig(['ES256']);
      const keys = await loadServiceKeys({ config, dataDir: dir, issuer: ISSUER });
      const other = await loadServiceKeys({ config, dataDir: dir, issuer: 'someone-else' });
      await expectRejected(keys.verify(await other.sign({ sub: 'u' }, EXP), T0), /wrong issuer/);
      await expectRejected(keys.verify(await keys.sign({ sub: 'u' }, EXP), EXP + 60_000), /expired/);
    });

    it('bad configurations throw ConfigError naming SERVICE_KEYS, without key material', async () => {
      const { config } = await serviceKeyConfig(['ES256']);
      const good = JSON.parse(config) as { signingKid: string; keys: Record<string, unknown>[] };
      const key = good.keys[0]!;
      const foreign = await exportJWK((await generateKeyPair('ES256', { extractable: true })).privateKey);
      const cases: [string, RegExp][] = [
        ['not json', /not valid JSON/],
        ['[]', /expected/],
        [JSON.stringify({ keys: [] }), /expected/],
        [JSON.stringify({ keys: ['x'] }), /not a JWK/],
        [JSON.stringify({ keys: [{ ...key, kid: undefined }] }), /no kid/],
        [JSON.stringify({ keys: [key, key] }), /twice/],
        [JSON.stringify({ keys: [{ ...key, alg: 'RS256' }] }), /ES256 or EdDSA/],
        [JSON.stringify({ keys: [{ ...key, alg: 'EdDSA' }] }), /kty OKP/],
        [JSON.stringify({ keys: [{ ...key, d: undefined }] }), /not a private key/],
        [JSON.stringify({ keys: [{ ...key, y: undefined }] }), /lacks y/],
        [JSON.stringify({ keys: [{ ...key, d: foreign.d }] }), /do not match/],
        [JSON.stringify({ keys: [{ ...key, x: 'AAAA' }] }), /cannot be imported/],
        [JSON.stringify({ ...good, signingKid: 'nope' }), /signingKid/],
      ];
      for (const [text, reason] of cases) {
        await assert.rejects(loadServiceKeys({ config: text, dataDir: dir, issuer: ISSUER }), (err: unknown) => {
          assert.ok(err instanceof ConfigError, `${text}: ${String(err)}`);
          assert.match(err.message, /^SERVICE_KEYS is invalid/);
          assert.match(err.message, reason);
          assert.ok(!err.message.includes(String(key.d)) && !err.message.includes(String(foreign.d)));
          return true;
        });
      }
    });
  });
});
