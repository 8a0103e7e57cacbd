import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import { pino } from 'pino';
import { DEV_PARTNER, loadConfig } from '../../src/config.js';
import { lazyChildLogger } from '../../src/http/request-logger.js';
import { createServer } from '../../src/server.js';
import { DEMO_KEY, demoSecret, sign, userHeaders } from './harness.js';

/** A pino destination that keeps every line, parsed. */
function lines(): { stream: Writable; logged: Record<string, unknown>[] } {
  const logged: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logged.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { stream, logged };
}

describe('lazyChildLogger', () => {
  it("makes pino's child only when the request logs, then logs with the request's bindings", () => {
    const { stream, logged } = lines();
    const parent = pino({ level: 'info' }, stream) as FastifyBaseLogger;
    let children = 0;
    // counts the children asked of the parent; they are pino's own (their `child` is not this one)
    const counted = Object.create(parent) as FastifyBaseLogger;
    counted.child = (bindings, options) => {
      children++;
      return parent.child(bindings, options);
    };
    const log = lazyChildLogger(counted, { reqId: 'r-1' }, {});
    assert.equal(log.level, 'info');
    log.debug('below the level');
    assert.deepEqual([logged.length, children], [0, 0], 'nothing logged, no child made');
    log.warn({ a: 1 }, 'first %s', 'line');
    log.error('second');
    assert.equal(children, 1, 'one child, made at the first log call');
    assert.deepEqual(
      logged.map((l) => [l.reqId, l.level, l.msg, l.a]),
      [
        ['r-1', 40, 'first line', 1],
        ['r-1', 50, 'second', undefined],
      ],
    );
    log.level = 'error';
    log.warn('now below the level');
    assert.equal(logged.length, 2);
    assert.equal(parent.level, 'info', "the request's level is its own");
    log.child({ sub: 's' }).error('from a grandchild');
    assert.deepEqual([logged[2]?.reqId, logged[2]?.sub], ['r-1', 's']);

    // a route's logLevel (Fastify passes it as the child's options) lets lower levels through
    const verbose = lazyChildLogger(counted, { reqId: 'r-2' }, { level: 'debug' });
    assert.equal(verbose.level, 'debug');
    verbose.debug('route debug');
    assert.deepEqual([logged[3]?.reqId, logged[3]?.msg], ['r-2', 'route debug']);
  });

  it('the service logs a failed request with the request id it answered with', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'basket-log-'));
    const { stream, logged } = lines();
    const config = loadConfig({ DATA_DIR: dataDir, STORE_URL: `sqlite:${path.join(dataDir, 'b.db')}`, DEV_PARTNER: 'true', RUN_WORKERS: 'false' }, dataDir);
    const server = await createServer(config, { logger: { level: 'info', stream } });
    try {
      const now = Math.floor(Date.now() / 1000);
      const token = await sign(demoSecret, 'HS256', {}, { sub: 'u1', iss: DEV_PARTNER.jwt.issuer!, aud: DEV_PARTNER.jwt.audience!, exp: now + 60 });
      const get = () => server.app.inject({ method: 'GET', url: '/v2/baskets/users/u1', headers: userHeaders(DEMO_KEY, token) });
      assert.equal((await get()).statusCode, 200);
      const before = logged.length;
      await server.store.close();
      const res = await get();
      assert.equal(res.statusCode, 503);
      const failed = logged.slice(before).filter((l) => l.msg === 'store unavailable');
      assert.equal(failed.length, 1);
      assert.equal(failed[0]!.reqId, res.headers['x-request-id']);
    } finally {
      await server.close().catch(() => {});
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('LOG_REQUESTS=true logs each request as it comes and as it is answered, with its id; by default neither', async () => {
    for (const logRequests of [true, false]) {
      const dataDir = mkdtempSync(path.join(tmpdir(), 'basket-log-'));
      const { stream, logged } = lines();
      const env = { DATA_DIR: dataDir, STORE_URL: `sqlite:${path.join(dataDir, 'b.db')}`, DEV_PARTNER: 'true', RUN_WORKERS: 'false', LOG_REQUESTS: String(logRequests) };
      const server = await createServer(loadConfig(env, dataDir), { logger: { level: 'info', stream } });
      try {
        const res = await server.app.inject({ method: 'GET', url: '/v2/baskets/users/u1', headers: { 'x-api-key': DEMO_KEY } });
        assert.equal(res.statusCode, 401);
        const mine = logged.filter((l) => l.reqId === res.headers['x-request-id']);
        const messages = mine.map((l) => l.msg);
        if (logRequests) {
          assert.deepEqual(messages, ['incoming request', 'request completed']);
          assert.equal((mine[1]!.res as { statusCode: number }).statusCode, 401);
        } else {
          assert.deepEqual(messages, []);
        }
      } finally {
        await server.close().catch(() => {});
        rmSync(dataDir, { recursive: true, force: true });
      }
    }
  });
});
