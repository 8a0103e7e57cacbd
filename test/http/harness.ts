/**
 * A real server for HTTP tests: real SQLite file in a temp directory, real Fastify (inject or a port),
 * a controllable clock, and partners with every kind of key material.
 */
import type { BasketView } from '../../src/http/routes/baskets.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { DEV_PARTNER, loadConfig, type PartnerConfig } from '../../src/config.js';
import { createServer, type Server, type ServerOptions } from '../../src/server.js';
import { deletePrefix, dropSchema, newPrefix, newSchema, pgUrlWithSchema, REDIS_URL } from '../store/helpers/services.js';

/** The store HTTP tests run against: TEST_STORE=sqlite (default), postgres or redis. */
export const TEST_STORE = process.env.TEST_STORE ?? 'sqlite';
if (!['sqlite', 'postgres', 'redis'].includes(TEST_STORE)) throw new Error(`TEST_STORE=${TEST_STORE}: use sqlite, postgres or redis`);

export interface TestStore {
  url: string;
  /** Removes what the tests wrote (schema or key prefix); the SQLite file goes with the data directory. */
  drop(): Promise<void>;
}

/** A fresh, empty store of the selected kind for one test server. */
export function testStore(dataDir: string): TestStore {
  if (TEST_STORE === 'postgres') {
    const schema = newSchema();
    return { url: pgUrlWithSchema(schema), drop: () => dropSchema(schema) };
  }
  if (TEST_STORE === 'redis') {
    const prefix = newPrefix();
    const url = new URL(REDIS_URL);
    url.searchParams.set('prefix', prefix);
    return { url: url.toString(), drop: () => deletePrefix(REDIS_URL, prefix) };
  }
  return { url: `sqlite:${path.join(dataDir, 'basket.db')}`, drop: async () => {} };
}

export const DEMO_KEY = DEV_PARTNER.apiKeys[0]!;
export const ACME_KEY = 'acme-api-key-0001';
export const OPEN_KEY = 'open-api-key-0001';
export const ADMIN_KEY = 'test-admin-key-123';

const rsa = await generateKeyPair('RS256');
export const acmePrivateKey: CryptoKey = rsa.privateKey;
export const acmePublicPem = await exportSPKI(rsa.publicKey);

export const TEST_PARTNERS: PartnerConfig[] = [
  {
    id: 'acme',
    apiKeys: [ACME_KEY],
    jwt: { pem: acmePublicPem, algorithms: ['RS256'], issuer: 'https://id.acme.example', audience: 'basket-api' },
    source: 'acme-tv',
    allowedOrigins: ['https://app.acme.example'],
  },
  {
    // a partner without a catalogue: any product id is accepted
    id: 'open',
    apiKeys: [OPEN_KEY],
    jwt: { secret: 'open-partner-secret-0123456789' },
  },
];

/**
 * Rate limits for HTTP tests: on (so every test goes through the counting) but far above what any test sends.
 * Tests of the limits set their own, or '' for a default.
 */
export const TEST_RATE_LIMITS: Record<string, string> = {
  RATE_LIMIT_PARTNER: '1000000/1m',
  RATE_LIMIT_USER: '1000000/1m',
  RATE_LIMIT_GUEST_IP: '1000000/1m',
  RATE_LIMIT_REDEEM_IP: '1000000/1m',
  RATE_LIMIT_PUBLIC_IP: '1000000/1m',
  RATE_LIMIT_AUTH_FAILURES_IP: '1000000/1m',
};

export interface TestServerOptions {
  /** Another server on the store of this one (its data directory and store URL; the first one drops the store). */
  sameStoreAs?: TestServer;
  /** Passed to createServer. */
  rateLimitStore?: ServerOptions['rateLimitStore'];
  /** Passed to createServer: authenticated shop route plugins (tests of the shop scaffold). */
  shopRoutes?: ServerOptions['shopRoutes'];
  /** Passed to createServer: payment providers instead of the configured ones (e.g. a sandbox told to decline). */
  psps?: ServerOptions['psps'];
}

export interface TestServer {
  server: Server;
  /** STORE_URL of the server. */
  storeUrl: string;
  clock: { now: number };
  dataDir: string;
  /** A valid token of the development partner (HS256, iss/aud as configured). */
  demoToken(userId: string, claims?: JWTPayload, ttlSec?: number): Promise<string>;
  acmeToken(userId: string, claims?: JWTPayload, ttlSec?: number): Promise<string>;
  openToken(userId: string): Promise<string>;
  close(): Promise<void>;
}

export async function sign(
  key: CryptoKey | Uint8Array,
  alg: string,
  payload: JWTPayload,
  opts: { iss?: string; aud?: string; sub?: string; exp?: number; iat?: number },
): Promise<string> {
  let jwt = new SignJWT(payload).setProtectedHeader({ alg, typ: 'JWT' }).setIssuedAt(opts.iat);
  if (opts.sub !== undefined) jwt = jwt.setSubject(opts.sub);
  if (opts.iss !== undefined) jwt = jwt.setIssuer(opts.iss);
  if (opts.aud !== undefined) jwt = jwt.setAudience(opts.aud);
  if (opts.exp !== undefined) jwt = jwt.setExpirationTime(opts.exp);
  return jwt.sign(key);
}

export const demoSecret = new TextEncoder().encode(DEV_PARTNER.jwt.secret);

export async function startTestServer(env: Record<string, string> = {}, options: TestServerOptions = {}): Promise<TestServer> {
  const shared = options.sameStoreAs;
  const dataDir = shared?.dataDir ?? mkdtempSync(path.join(tmpdir(), 'basket-http-'));
  const store: TestStore = shared ? { url: shared.storeUrl, drop: async () => {} } : testStore(dataDir);
  const config = loadConfig(
    {
      DATA_DIR: dataDir,
      STORE_URL: store.url,
      LOG_LEVEL: 'silent',
      PARTNERS_JSON: JSON.stringify(TEST_PARTNERS),
      DEV_PARTNER: 'true',
      ADMIN_KEY,
      RUN_WORKERS: 'false',
      ...TEST_RATE_LIMITS,
      ...env,
    },
    dataDir,
  );
  const clock = { now: Date.UTC(2026, 10, 24, 12, 0, 0) };
  const server = await createServer(config, {
    now: () => clock.now,
    logger: false,
    ...(options.rateLimitStore ? { rateLimitStore: options.rateLimitStore } : {}),
    ...(options.shopRoutes ? { shopRoutes: options.shopRoutes } : {}),
    ...(options.psps ? { psps: options.psps } : {}),
  });
  const nowSec = () => Math.floor(clock.now / 1000);
  return {
    server,
    storeUrl: store.url,
    clock,
    dataDir,
    demoToken: (userId, claims = {}, ttlSec = 3600) =>
      sign(demoSecret, 'HS256', claims, { sub: userId, iss: DEV_PARTNER.jwt.issuer!, aud: DEV_PARTNER.jwt.audience!, iat: nowSec(), exp: nowSec() + ttlSec }),
    acmeToken: (userId, claims = {}, ttlSec = 3600) =>
      sign(acmePrivateKey, 'RS256', claims, { sub: userId, iss: 'https://id.acme.example', aud: 'basket-api', iat: nowSec(), exp: nowSec() + ttlSec }),
    openToken: (userId) => sign(new TextEncoder().encode('open-partner-secret-0123456789'), 'HS256', {}, { sub: userId, iat: nowSec(), exp: nowSec() + 3600 }),
    async close() {
      await server.close();
      await store.drop();
      if (!shared) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Headers of an authenticated device request. */
export function userHeaders(apiKey: string, token: string, extra: Record<string, string> = {}): Record<string, string> {
  return { 'x-api-key': apiKey, authorization: `Bearer ${token}`, ...extra };
}

export interface EnvelopeBody<T = unknown> {
  data: T;
  nextToken: string | null;
  error: { code: number; message: string; details: unknown } | null;
}

/** A parsed answer of `server.app.inject`. */
export type Res<T> = { status: number; body: EnvelopeBody<T>; headers: Record<string, unknown> };

/** The data of POST /v2/baskets/guests. */
export interface GuestData {
  userId: string;
  token: string;
  expires: string;
  basket: BasketView;
}
