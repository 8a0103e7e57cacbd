/**
 * The live change stream across processes (issue 22): a write served by one server process reaches a stream open
 * on another, on PostgreSQL (LISTEN/NOTIFY) and Redis (pub/sub) with two separate processes, and on SQLite with
 * WORKERS=2 (node:cluster; the workers relay changes through the primary). Resumption with Last-Event-ID on
 * the other process too.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { OPEN_KEY, TEST_PARTNERS, userHeaders } from '../http/harness.js';
import { startServerProcess, stopProcesses } from '../helpers/server-process.js';
import { openSse, type SseStream } from '../helpers/sse.js';
import { deletePrefix, dropSchema, newPrefix, newSchema, pgUrlWithSchema, REDIS_URL } from '../store/helpers/services.js';

const secret = new TextEncoder().encode(TEST_PARTNERS[1]!.jwt.secret!);
const token = (user: string): Promise<string> =>
  new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(user).setIssuedAt().setExpirationTime('10m').sign(secret);

/** An assign on a connection of its own (node:cluster hands each new connection to the next worker). */
function assign(port: number, user: string, jwt: string, productId: string, count: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ count });
    const req = http.request(
      { host: '127.0.0.1', port, method: 'POST', path: `/v2/baskets/users/${user}/products/${productId}`, agent: false, headers: { ...userHeaders(OPEN_KEY, jwt), 'content-type': 'application/json' } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Waits until the stream's latest event has id `version`. */
async function reaches(s: SseStream, version: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Number(s.events.at(-1)?.id ?? -1) < version) {
    if (Date.now() > deadline) throw new Error(`stream stayed at ${s.events.at(-1)?.id ?? 'nothing'}, expected ${version}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(s.events.at(-1)!.id, String(version));
}

function suite(name: string, setup: () => Promise<{ ports: number[]; cleanup: () => Promise<void> }>): void {
  describe(`live stream across processes: ${name}`, { timeout: 120_000 }, () => {
    let ports: number[] = [];
    let cleanup: () => Promise<void> = async () => undefined;
    const streams: SseStream[] = [];
    before(async () => {
      ({ ports, cleanup } = await setup());
    });
    after(async () => {
      for (const s of streams) s.close();
      await cleanup();
    });

    it('a write served by one process reaches the streams open on the other; Last-Event-ID resumes there', async () => {
      const user = `live-mp-${randomUUID()}`;
      const jwt = await token(user);
      const open = async (port: number, headers: Record<string, string> = {}) => {
        const s = await openSse(`http://127.0.0.1:${port}/v2/baskets/users/${user}/events`, userHeaders(OPEN_KEY, jwt, headers));
        streams.push(s);
        assert.equal(s.status, 200);
        return s;
      };
      const a = await open(ports[0]!);
      const b = await open(ports[1]!);
      await Promise.all([a.event(0), b.event(0)]);
      // alternate between the processes (or, with one port, the workers): each write must reach both streams
      for (let v = 1; v <= 4; v++) {
        assert.equal(await assign(ports[v % ports.length]!, user, jwt, `p${v}`, v), 200);
        await Promise.all([reaches(a, v), reaches(b, v)]);
      }
      const last = JSON.parse(b.events.at(-1)!.data) as { cart: { productId: string; count: number }[] };
      assert.deepEqual(last.cart.map((l) => `${l.productId}:${l.count}`), ['p1:1', 'p2:2', 'p3:3', 'p4:4']);

      // a client that had version 4 and reconnects elsewhere gets nothing until the next change
      a.close();
      const resumed = await open(ports[1 % ports.length]!, { 'last-event-id': '4' });
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(resumed.events.length, 0);
      assert.equal(await assign(ports[0]!, user, jwt, 'p5', 5), 200);
      assert.equal((await resumed.event(0)).id, '5');
    });
  });
}

const PARTNERS_JSON = JSON.stringify(TEST_PARTNERS);

async function twoProcesses(url: string, dataDir: string, children: ChildProcess[]): Promise<number[]> {
  const first = await startServerProcess({ STORE_URL: url, DATA_DIR: dataDir, PARTNERS_JSON, PG_POOL_SIZE: '2' });
  children.push(first.child);
  const second = await startServerProcess({ STORE_URL: url, DATA_DIR: dataDir, PARTNERS_JSON, PG_POOL_SIZE: '2' });
  children.push(second.child);
  return [first.port, second.port];
}

suite('PostgreSQL, two processes', async () => {
  const schema = newSchema();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'basket-live-pg-'));
  const children: ChildProcess[] = [];
  const ports = await twoProcesses(pgUrlWithSchema(schema), dataDir, children);
  return {
    ports,
    cleanup: async () => {
      await stopProcesses(children);
      rmSync(dataDir, { recursive: true, force: true });
      await dropSchema(schema);
    },
  };
});

suite('Redis, two processes', async () => {
  const prefix = newPrefix();
  const url = new URL(REDIS_URL);
  url.searchParams.set('prefix', prefix);
  const dataDir = mkdtempSync(path.join(tmpdir(), 'basket-live-redis-'));
  const children: ChildProcess[] = [];
  const ports = await twoProcesses(url.toString(), dataDir, children);
  return {
    ports,
    cleanup: async () => {
      await stopProcesses(children);
      rmSync(dataDir, { recursive: true, force: true });
      await deletePrefix(REDIS_URL, prefix);
    },
  };
});

suite('SQLite, WORKERS=2 (node:cluster)', async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'basket-live-sqlite-'));
  const primary = await startServerProcess({ WORKERS: '2', DATA_DIR: dataDir, PARTNERS_JSON });
  // wait for both workers: the banner comes with the first one listening
  await new Promise((r) => setTimeout(r, 1500));
  return {
    // one port, two workers: new connections alternate between them
    ports: [primary.port, primary.port],
    cleanup: async () => {
      await stopProcesses([primary.child]);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
});
