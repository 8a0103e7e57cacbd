/**
 * The service's own signing keys (guest tokens). Several verification keys, one signing key, so keys can be
 * rotated without invalidating tokens already issued. Without SERVICE_KEYS an ES256 key is generated once and
 * kept in the data directory, shared by every process using that directory.
 */
import { createPrivateKey, createPublicKey, hkdfSync, randomBytes, sign as signBytes, verify as verifyBytes, type KeyObject } from 'node:crypto';
import { link, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair, importJWK, jwtVerify, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { ConfigError } from '../config.js';
import { invalidToken, tokenError } from './errors.js';
import { verifyJws, type SignatureCheck, type SignatureVerifier } from './jws-verify.js';
import { publicKeyThumbprint, verifyingKey, type VerifyingKey } from './verifying-key.js';

export interface ServiceKeys {
  readonly issuer: string;
  readonly signingKid: string;
  /** Signs `claims` with the current signing key; sets alg, kid, iss, iat and exp (= expiresAtMs, seconds). */
  sign(claims: JWTPayload, expiresAtMs: number): Promise<string>;
  /** Verifies a token signed by any of the service's keys (by kid); throws BasketError AUTHORIZATION_HEADER_INVALID. */
  verify(token: string, nowMs: number): Promise<JWTPayload>;
  /** As verify, with the key that verified the token (for the token cache). */
  verifyWithKey(token: string, nowMs: number): Promise<{ payload: JWTPayload; key: VerifyingKey }>;
  /**
   * The record of the signing key, for tokens this process issues. The keys are fixed at start (SERVICE_KEYS or
   * the key file), so no record is ever revoked within a process: rotation is a restart with a new key set.
   */
  readonly signingKey: VerifyingKey;
  /** The public keys (kid, alg, use: 'sig'), for /.well-known/jwks.json. */
  jwks(): { keys: JWK[] };
  /**
   * A 32-byte secret derived (HKDF-SHA256) from the signing key's private part for `purpose`: every process with
   * the same keys derives the same secret, and it changes when the signing key does.
   */
  deriveSecret(purpose: string): Buffer;
}

export const SERVICE_KEYS_FILE = 'service-keys.json';

type ServiceAlg = 'ES256' | 'EdDSA';
const SHAPE: Record<ServiceAlg, { kty: string; crv: string; pub: readonly string[] }> = {
  ES256: { kty: 'EC', crv: 'P-256', pub: ['x', 'y'] },
  EdDSA: { kty: 'OKP', crv: 'Ed25519', pub: ['x'] },
};
/** Small skew allowance between the processes that sign and verify. */
const CLOCK_TOLERANCE_SEC = 30;

interface LoadedKey {
  kid: string;
  alg: ServiceAlg;
  /** node:crypto's, for signing. */
  privateKey: KeyObject;
  /** node:crypto's, for verifying (verifyJws, on libuv's thread pool). */
  verifyKey: KeyObject;
  /** jose's, to prove once at load that the pair matches, through jose rather than our own verifier. */
  publicKey: CryptoKey;
  publicJwk: JWK;
  /** What the token cache ties a guest token's verification to. */
  record: VerifyingKey;
}

const base64urlJson = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * A JWS compact token signed with node:crypto, on libuv's thread pool (its callback form): ~34 µs of CPU per ES256
 * signature off the event loop. jose signs through WebCrypto, which costs ~2.3x the CPU per ES256 token on the
 * guest-creation path; verification is node:crypto's too (verifyJws). ES256 signatures are the raw r‖s pair JWS
 * requires (RFC 7518 §3.4), not DER.
 */
function signJws(key: LoadedKey, header: Record<string, unknown>, payload: JWTPayload): Promise<string> {
  const input = `${base64urlJson(header)}.${base64urlJson(payload)}`;
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, signature: Buffer) => (err ? reject(err) : resolve(`${input}.${signature.toString('base64url')}`));
    if (key.alg === 'ES256') signBytes('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' }, done);
    else signBytes(null, Buffer.from(input), key.privateKey, done);
  });
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks the JSON shape and imports every key; `source` names the variable or file in errors (never key material). */
async function parseKeySet(text: string, source: string): Promise<{ keys: LoadedKey[]; signingKid: string }> {
  const fail = (why: string): never => {
    throw new ConfigError(`${source} is invalid: ${why}`);
  };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    fail('not valid JSON');
  }
  if (!isRecord(doc) || !Array.isArray(doc.keys) || doc.keys.length === 0) {
    return fail('expected {"signingKid"?: string, "keys": [private JWK, ...]} with at least one key');
  }
  const keys: LoadedKey[] = [];
  for (const [i, raw] of doc.keys.entries()) {
    if (!isRecord(raw)) return fail(`keys[${i}] is not a JWK object`);
    const { kid, alg } = raw;
    if (typeof kid !== 'string' || kid === '') return fail(`keys[${i}] has no kid`);
    if (keys.some((k) => k.kid === kid)) return fail(`kid ${JSON.stringify(kid)} appears twice`);
    if (alg !== 'ES256' && alg !== 'EdDSA') return fail(`key ${JSON.stringify(kid)}: alg must be ES256 or EdDSA`);
    const shape = SHAPE[alg];
    if (raw.kty !== shape.kty || raw.crv !== shape.crv) return fail(`key ${JSON.stringify(kid)}: ${alg} needs kty ${shape.kty} and crv ${shape.crv}`);
    if (typeof raw.d !== 'string') return fail(`key ${JSON.stringify(kid)} is not a private key (no d)`);
    const publicJwk: Record<string, string> = { kty: shape.kty, crv: shape.crv };
    for (const member of shape.pub) {
      const value = raw[member];
      if (typeof value !== 'string') return fail(`key ${JSON.stringify(kid)} lacks ${member}`);
      publicJwk[member] = value;
    }
    try {
      const privateKey = createPrivateKey({ key: { ...publicJwk, d: raw.d }, format: 'jwk' });
      const publicKey = (await importJWK(publicJwk, alg)) as CryptoKey;
      const verifyKey = createPublicKey({ key: publicJwk, format: 'jwk' });
      const record = verifyingKey(kid, publicKeyThumbprint(verifyKey));
      const key: LoadedKey = { kid, alg, privateKey, verifyKey, publicKey, publicJwk: { ...publicJwk, kid, alg, use: 'sig' }, record };
      // A d that does not belong to x/y imports fine but would sign unverifiable tokens: prove the pair once,
      // through the signer the service uses and jose's verification.
      await jwtVerify(await signJws(key, { alg }, {}), publicKey, { algorithms: [alg] });
      keys.push(key);
    } catch {
      return fail(`key ${JSON.stringify(kid)} cannot be imported, or its private and public parts do not match`);
    }
  }
  const signingKid = doc.signingKid ?? keys[0]!.kid;
  if (typeof signingKid !== 'string' || !keys.some((k) => k.kid === signingKid)) {
    return fail('signingKid does not name one of the keys');
  }
  return { keys, signingKid };
}

async function generateKeySet(): Promise<string> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = await calculateJwkThumbprint(await exportJWK(publicKey));
  const jwk = { ...(await exportJWK(privateKey)), kid, alg: 'ES256', use: 'sig' };
  return `${JSON.stringify({ signingKid: kid, keys: [jwk] }, null, 2)}\n`;
}

const errno = (err: unknown): string | undefined => (err as NodeJS.ErrnoException).code;

/**
 * Reads the key file, creating it first when absent. The new key is written in full to a private temp file and
 * then published with link(), which fails if the file already exists: of several processes racing on an empty
 * directory exactly one publishes, and all of them then read that one file. (rename() would overwrite, leaving
 * processes signing with different keys.)
 */
async function readOrCreateKeyFile(dataDir: string): Promise<string> {
  const file = path.join(dataDir, SERVICE_KEYS_FILE);
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if (errno(err) !== 'ENOENT') throw new ConfigError(`${file} cannot be read: ${errno(err) ?? (err as Error).message}`);
  }
  try {
    await mkdir(dataDir, { recursive: true });
    const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    const handle = await open(tmp, 'wx', 0o600);
    try {
      await handle.writeFile(await generateKeySet(), 'utf8');
      await handle.chmod(0o600); // independent of the umask
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await link(tmp, file);
    } catch (err) {
      if (errno(err) !== 'EEXIST') {
        // Filesystem without hard links: fall back to rename, guarded by an existence check.
        const exists = await stat(file).then(() => true, () => false);
        if (!exists) await rename(tmp, file);
      }
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
    return await readFile(file, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`${file} cannot be created: ${errno(err) ?? (err as Error).message}`);
  }
}

/** `config`: SERVICE_KEYS JSON, or null to use (or create) `<dataDir>/service-keys.json`. */
export async function loadServiceKeys(opts: { config: string | null; dataDir: string; issuer: string }): Promise<ServiceKeys> {
  const { keys, signingKid } =
    opts.config !== null
      ? await parseKeySet(opts.config, 'SERVICE_KEYS')
      : await parseKeySet(await readOrCreateKeyFile(opts.dataDir), path.join(opts.dataDir, SERVICE_KEYS_FILE));
  const byKid = new Map(keys.map((k) => [k.kid, k]));
  const signing = byKid.get(signingKid)!;
  const algorithms = [...new Set(keys.map((k) => k.alg))];
  const issuer = opts.issuer;

  // The key is found by kid once the header's alg is allowed, where jose called its key function. The check runs
  // on libuv's thread pool (node:crypto's callback form): ~65 µs of CPU per ES256 signature off the event loop.
  const find = (header: Record<string, unknown>, alg: string): LoadedKey => {
    const key = typeof header.kid === 'string' ? byKid.get(header.kid) : undefined;
    if (!key) throw invalidToken('token was not signed by a known service key');
    if (key.alg !== alg) throw invalidToken('token algorithm does not match the service key');
    return key;
  };
  const verifier =
    (key: LoadedKey): SignatureVerifier<Promise<boolean>> =>
    (input, signature) =>
      new Promise<boolean>((resolve) => {
        // an error is a signature node:crypto cannot even parse (WebCrypto answered false)
        const done = (err: Error | null, ok: boolean) => resolve(err === null && ok);
        const data = Buffer.from(input);
        try {
          if (key.alg === 'ES256') verifyBytes('sha256', data, { key: key.verifyKey, dsaEncoding: 'ieee-p1363' }, signature, done);
          else verifyBytes(null, data, key.verifyKey, signature, done);
        } catch {
          resolve(false);
        }
      });
  const verifyWithKey = async (token: string, nowMs: number): Promise<{ payload: JWTPayload; key: VerifyingKey }> => {
    // The key found for this token's header, kept for the token cache: a closure per check, off its hot path.
    let used: LoadedKey | undefined;
    const check: SignatureCheck<Promise<boolean>> = (header, alg) => verifier((used = find(header, alg)));
    try {
      const rules = { issuer, audience: undefined, required: ['exp'], clockTolerance: CLOCK_TOLERANCE_SEC, now: nowMs };
      const payload = await verifyJws(token, decodeJwt(token), algorithms, check, rules);
      return { payload, key: used!.record };
    } catch (err) {
      throw tokenError(err);
    }
  };

  return {
    issuer,
    signingKid,
    async sign(claims, expiresAtMs) {
      const payload = { ...claims, iss: issuer, iat: Math.floor(Date.now() / 1000), exp: Math.floor(expiresAtMs / 1000) };
      return signJws(signing, { alg: signing.alg, kid: signing.kid, typ: 'JWT' }, payload);
    },
    signingKey: signing.record,
    async verify(token, nowMs) {
      return (await verifyWithKey(token, nowMs)).payload;
    },
    verifyWithKey,
    jwks() {
      return { keys: keys.map((k) => ({ ...k.publicJwk })) };
    },
    deriveSecret(purpose) {
      const d = signing.privateKey.export({ format: 'jwk' }).d;
      if (typeof d !== 'string') throw new Error('the signing key has no private part');
      return Buffer.from(hkdfSync('sha256', Buffer.from(d, 'base64url'), `basket:${signing.kid}`, purpose, 32));
    },
  };
}
