/** Shared fixtures for the auth tests: a controllable clock, token signing, rejection assertions. */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, base64url, calculateJwkThumbprint, exportJWK, generateKeyPair, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import type { PartnerConfig, PartnerJwtConfig } from '../../src/config.js';
import { BasketError, type ErrorKind } from '../../src/domain/errors.js';
import { loadServiceKeys, type ServiceKeys } from '../../src/auth/service-keys.js';

/** A fixed instant far from the real clock, so nothing depends on when the tests run. */
export const T0 = Date.UTC(2031, 0, 15, 12, 0, 0);
export const sec = (ms: number): number => Math.floor(ms / 1000);

export class Clock {
  constructor(public ms: number = T0) {}
  readonly now = (): number => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

export function partner(id: string, jwt: PartnerJwtConfig): PartnerConfig {
  return { id, apiKeys: [`${id}-api-key-0001`], jwt };
}

/** Signs `claims` as given (no defaults added), so tests can leave out exp or sub. */
export async function signToken(
  key: CryptoKey | Uint8Array,
  header: { alg: string; kid?: string; typ?: string },
  claims: JWTPayload,
): Promise<string> {
  return new SignJWT(claims).setProtectedHeader(header).sign(key);
}

/** Waits for `done()` (work running behind a call, e.g. a JWKS refresh a cache hit started), failing after a generous bound. */
export async function eventually(done: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !done(); waited += 10) {
    if (waited > 5_000) assert.fail(`timed out waiting: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export const secretKey = (secret: string): Uint8Array => new TextEncoder().encode(secret);

/** Builds a compact JWS from raw JSON parts with the given signature segment (for `alg: none` and tampering). */
export function rawToken(header: object, payload: object, signature = ''): string {
  return `${base64url.encode(JSON.stringify(header))}.${base64url.encode(JSON.stringify(payload))}.${signature}`;
}

export async function expectRejected(
  p: Promise<unknown>,
  message: RegExp,
  kind: ErrorKind = 'AUTHORIZATION_HEADER_INVALID',
  token?: string,
): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof BasketError, `expected BasketError, got ${String(err)}`);
    assert.equal(err.kind, kind);
    assert.match(err.message, message);
    if (token !== undefined) assert.ok(!err.message.includes(token), 'the message must not echo the token');
    return true;
  });
}

/** An in-memory SERVICE_KEYS config with fresh keys; `signingKid` picks the signer. */
export async function serviceKeyConfig(algs: readonly ('ES256' | 'EdDSA')[], signingIndex = 0): Promise<{ config: string; kids: string[] }> {
  const keys = [];
  for (const alg of algs) {
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
    const kid = await calculateJwkThumbprint(await exportJWK(publicKey));
    keys.push({ ...(await exportJWK(privateKey)), kid, alg });
  }
  const kids = keys.map((k) => k.kid);
  return { config: JSON.stringify({ signingKid: kids[signingIndex], keys }), kids };
}

export const ISSUER = 'basket-test';

export async function testServiceKeys(): Promise<ServiceKeys> {
  const { config } = await serviceKeyConfig(['ES256']);
  return loadServiceKeys({ config, dataDir: '/nonexistent-not-used', issuer: ISSUER });
}

/** A self-signed P-256 certificate (CN=basket-test-partner, valid to 2126) and its key: test material only. */
export const CERT_PEM = `-----BEGIN CERTIFICATE-----
MIIBkTCCATmgAwIBAgIUWc/VqwJeVwydmclfyYZYNmGVqhUwCgYIKoZIzj0EAwIw
HjEcMBoGA1UEAwwTYmFza2V0LXRlc3QtcGFydG5lcjAgFw0yNjExMjQxNDA1MDla
GA8yMTI2MTAzMTE0MDUwOVowHjEcMBoGA1UEAwwTYmFza2V0LXRlc3QtcGFydG5l
cjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABLtAkyw89JGsij+bT55u5f4qTQpE
I6ns/Q89Qg4c29LNVQwuUhNNcYYFBL8/eG2ewSrb/H5vlIy5+j7PgOexTbqjUzBR
MB0GA1UdDgQWBBQpOC/UqFb5KacvmXbiXQcCgtvKQTAfBgNVHSMEGDAWgBQpOC/U
qFb5KacvmXbiXQcCgtvKQTAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0YA
MEMCHwzjEg4HapJlcbrQd+RF6i3hRppuI+vOrP6WUiA2mQUCID8pW52OYB0XT9Dv
10FsALJ/cm5+K5ZmRAaqKzLRvZQH
-----END CERTIFICATE-----
`;
export const CERT_KEY_PEM = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg3HFoJxhdpkgDgaJe
xtLv4pAsP2H4pgddkwxjJd8irjahRANCAAS7QJMsPPSRrIo/m0+ebuX+Kk0KRCOp
7P0PPUIOHNvSzVUMLlITTXGGBQS/P3htnsEq2/x+b5SMufo+z4DnsU26
-----END PRIVATE KEY-----
`;

/** A partner's JWKS URL on a local HTTP server that counts fetches and can rotate or fail. */
export class JwksServer {
  fetches = 0;
  keys: JWK[] = [];
  failing = false;
  readonly #server: Server = createServer((req, res) => {
    this.fetches += 1;
    if (this.failing || req.url !== '/jwks.json') {
      res.writeHead(this.failing ? 500 : 404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: this.keys }));
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/jwks.json`;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
