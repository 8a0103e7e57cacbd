/**
 * Fail fast (issue 17): a store that hangs — a SIGSTOPped private Redis, the local PostgreSQL behind a proxy that
 * stops forwarding — is answered with 503 `3005` (Retry-After) within about STORE_TIMEOUT, /readyz too; a burst
 * of failures logs a few lines, each with the count of those left out; the service recovers once the store
 * answers again. SQLite: a write waits for another connection's lock at most STORE_TIMEOUT.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { DEV_PARTNER, loadConfig } from '../../src/config.js';
import { createServer, type Server } from '../../src/server.js';
import { DEMO_KEY, demoSecret, sign, userHeaders } from '../http/harness.js';
import { dropSchema, newSchema, PG_URL, pgUrlWithSchema, startProxy } from './helpers/services.js';

/** Generous against a noisy VM: the point is "about a second", not the ~10 s a hung store cost before. */
const BOUND_MS = 3000;

interface LogLine {
  msg?: string;
  suppressed?: number;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** A redis-server of this test alone (no persistence), so that freezing it disturbs no other test. */
async function startPrivateRedis(): Promise<{ url: string; process: ChildProcess; stop(): void }> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const stop = (): void => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  };
  process.once('exit', stop);
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      await probe.ping();
      break;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(50);
    } finally {
      probe.disconnect();
    }
  }
  return { url, process: child, stop };
}

/** A server on `storeUrl` whose log lines are kept, and a demo user's request helpers. */
async function startServer(storeUrl: string, env: Record<string, string> = {}) {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'basket-outage-'));
  const logged: LogLine[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') logged.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  const config = loadConfig({ DATA_DIR: dataDir, STORE_URL: storeUrl, DEV_PARTNER: 'true', RUN_WORKERS: 'false', ...env }, dataDir);
  const server: Server = await createServer(config, { logger: { level: 'info', stream } });
  const now = Math.floor(Date.now() / 1000);
  const token = await sign(demoSecret, 'HS256', {}, { sub: 'u1', iss: DEV_PARTNER.jwt.issuer!, aud: DEV_PARTNER.jwt.audience!, exp: now + 600 });
  const headers = userHeaders(DEMO_KEY, token);
  /** Sends a request and measures how long its answer took. */
  const timed = async (method: 'GET' | 'POST', url: string, payload?: object) => {
    const started = performance.now();
    const res = await server.app.inject({ method, url, headers, ...(payload ? { payload } : {}) });
    return { res, ms: performance.now() - started, code: (res.json() as { error: { code: number } | null }).error?.code ?? null };
  };
  return {
    server,
    logged,
    dataDir,
    getBasket: () => timed('GET', '/v2/baskets/users/u1'),
    addProduct: () => timed('POST', '/v2/baskets/users/u1/products/prod-123', { count: 1 }),
    readyz: () => timed('GET', '/readyz'),
    async close() {
      await server.close().catch(() => undefined);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

type TestService = Awaited<ReturnType<typeof startServer>>;

/** Freezes the store, checks that requests fail fast and log little, thaws it and checks the service recovers. */
async function assertFailsFastAndRecovers(service: TestService, freeze: () => void, thaw: () => void): Promise<void> {
  assert.equal((await service.addProduct()).res.statusCode, 200);
  assert.equal((await service.getBasket()).res.statusCode, 200);
  assert.equal((await service.readyz()).res.statusCode, 200);
  const loggedBefore = service.logged.length;

  freeze();
  const burst = await Promise.all([...Array.from({ length: 20 }, () => service.getBasket()), service.addProduct(), service.readyz()]);
  for (const { res, ms, code } of burst) {
    assert.equal(res.statusCode, 503, `${res.statusCode} ${res.body}`);
    assert.equal(code, 3005);
    assert.equal(res.headers['retry-after'], '1');
    assert.ok(ms < BOUND_MS, `answered after ${Math.round(ms)} ms`);
  }
  // 21 requests failed on the store (the readiness probe answers by itself): a few lines, the rest counted
  await sleep(1100);
  const late = await service.getBasket();
  assert.equal(late.res.statusCode, 503);
  const outage = service.logged.slice(loggedBefore).filter((l) => l.msg === 'store unavailable');
  assert.ok(outage.length <= 7, `${outage.length} lines for 22 failures`);
  assert.equal(outage.length + outage.reduce((n, l) => n + (l.suppressed ?? 0), 0), 22);
  assert.ok(outage.some((l) => (l.suppressed ?? 0) > 0), 'a later line says how many were left out');

  thaw();
  const deadline = Date.now() + 15_000;
  let basket = await service.getBasket();
  while (basket.res.statusCode !== 200 && Date.now() < deadline) {
    await sleep(200);
    basket = await service.getBasket();
  }
  assert.equal(basket.res.statusCode, 200, 'the service answers again once the store does');
  assert.equal((await service.readyz()).res.statusCode, 200);
  assert.equal((await service.addProduct()).res.statusCode, 200);
}

describe('a store that hangs', { timeout: 120_000 }, () => {
  it('Redis (SIGSTOP): 503 3005 and /readyz within about a second, little logging, recovery on SIGCONT', async () => {
    const redis = await startPrivateRedis();
    after(() => redis.stop());
    const service = await startServer(redis.url);
    try {
      await assertFailsFastAndRecovers(
        service,
        () => redis.process.kill('SIGSTOP'),
        () => redis.process.kill('SIGCONT'),
      );
    } finally {
      await service.close();
      redis.stop();
    }
  });

  it('PostgreSQL (a proxy that stops answering): 503 3005 and /readyz within about a second, recovery', async () => {
    const target = new URL(PG_URL);
    const proxy = await startProxy(target.hostname, Number(target.port || 5432));
    const schema = newSchema();
    const url = new URL(pgUrlWithSchema(schema));
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    const service = await startServer(url.toString());
    try {
      await assertFailsFastAndRecovers(service, proxy.freeze, proxy.thaw);
    } finally {
      proxy.thaw();
      await service.close();
      await proxy.cut();
      await dropSchema(schema);
    }
  });

  it('SQLite: a write that finds another connection holding the lock fails with 503 3005 after STORE_TIMEOUT', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'basket-outage-sqlite-'));
    const file = path.join(dir, 'basket.db');
    const service = await startServer(`sqlite:${file}`, { STORE_TIMEOUT: '300ms' });
    const other = new Database(file, { timeout: 1000 });
    try {
      assert.equal((await service.getBasket()).res.statusCode, 200);
      other.exec('BEGIN IMMEDIATE');
      const { res, ms, code } = await service.addProduct();
      assert.equal(res.statusCode, 503);
      assert.equal(code, 3005);
      assert.ok(ms >= 250 && ms < BOUND_MS, `answered after ${Math.round(ms)} ms`);
      other.exec('ROLLBACK');
      assert.equal((await service.addProduct()).res.statusCode, 200);
    } finally {
      other.close();
      await service.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
