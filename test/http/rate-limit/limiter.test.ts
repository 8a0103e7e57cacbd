/**
 * The leasing limiter on a real counter store (a SQLite file): chunks, the local refusal once a window is spent,
 * the hot path's cost (no promise and no store call with a lease in hand), several limiters ("processes") on one
 * store, the eviction bound and failing open. Store calls are counted by a pass-through around the real store.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { addressKey } from '../../../src/http/rate-limit/client-address.js';
import { chunkOf, Counter, FAIL_OPEN_MS, Limiter, type Verdict } from '../../../src/http/rate-limit/limiter.js';
import { openRateLimitStore, type RateLimitStore } from '../../../src/store/rate-limits.js';

const MINUTE = 60_000;
const dir = mkdtempSync(path.join(tmpdir(), 'basket-limiter-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
/** A fresh real SQLite counter store whose takes are counted. */
async function countedStore(): Promise<{ store: RateLimitStore; calls: () => number }> {
  const real = await openRateLimitStore(`sqlite:${path.join(dir, `s${files++}.db`)}`);
  let calls = 0;
  return {
    store: {
      take: (...args) => {
        calls++;
        return real.take(...args);
      },
      close: () => real.close(),
    },
    calls: () => calls,
  };
}

const silent = pino({ level: 'silent' });

async function admitted(limiter: Limiter, key: string, max: number, n: number): Promise<number> {
  let ok = 0;
  for (let i = 0; i < n; i++) if ((await limiter.take(key, { max, windowMs: MINUTE })) === true) ok++;
  return ok;
}

describe('Limiter', () => {
  it('leases ≈ max/20 units per store call, and once the window is spent refuses locally until it ends', async () => {
    const { store, calls } = await countedStore();
    const clock = { now: Date.UTC(2026, 10, 24, 12, 0, 0) };
    const limiter = new Limiter('t:', new Counter(store, silent), () => clock.now);
    assert.equal(chunkOf(100), 5);
    assert.equal(chunkOf(10), 1);
    assert.equal(await admitted(limiter, 'k', 100, 100), 100);
    assert.equal(calls(), 20);
    // the 101st is refused synchronously, without a store call
    const refused = limiter.take('k', { max: 100, windowMs: MINUTE });
    assert.ok(!(refused instanceof Promise) && refused !== true);
    assert.deepEqual({ max: refused.max, resetAt: refused.resetAt }, { max: 100, resetAt: clock.now + MINUTE });
    assert.equal(calls(), 20, 'no store call for the refusal');
    clock.now += MINUTE;
    assert.equal(await limiter.take('k', { max: 100, windowMs: MINUTE }), true, 'the next window');
    await store.close();
  });

  it('with a lease in hand a take is synchronous: no promise, no store call', async () => {
    const { store, calls } = await countedStore();
    const limiter = new Limiter('t:', new Counter(store, silent), () => 1_000_000);
    const rate = { max: 1_000_000, windowMs: MINUTE };
    assert.ok(limiter.take('hot', rate) instanceof Promise, 'the first take leases');
    await limiter.take('hot', rate);
    const before = calls();
    for (let i = 0; i < 10_000; i++) assert.equal(limiter.take('hot', rate), true);
    assert.equal(calls(), before);
    await store.close();
  });

  it('requests waiting for a lease share one store call', async () => {
    const { store, calls } = await countedStore();
    const limiter = new Limiter('t:', new Counter(store, silent), () => 1_000_000);
    const verdicts = await Promise.all(Array.from({ length: 50 }, () => limiter.take('burst', { max: 1000, windowMs: MINUTE })));
    assert.deepEqual(verdicts, Array(50).fill(true));
    assert.equal(calls(), 1);
    await store.close();
  });

  it('limiters of several processes on one store admit at most max together (exactly max when all keep asking)', async () => {
    const { store } = await countedStore();
    const now = () => 5_000_000;
    const processes = [0, 1, 2].map(() => new Limiter('t:', new Counter(store, silent), now));
    for (const max of [10, 100, 1000]) {
      const key = `shared-${max}`;
      let total = 0;
      let refusedEverywhere = false;
      while (!refusedEverywhere) {
        const verdicts: Verdict[] = [];
        for (const p of processes) verdicts.push(await p.take(key, { max, windowMs: MINUTE }));
        total += verdicts.filter((v) => v === true).length;
        refusedEverywhere = verdicts.every((v) => v !== true);
      }
      assert.equal(total, max, `max ${max}`);
    }
    await store.close();
  });

  it('remembers at most maxKeys keys, forgetting the oldest first', async () => {
    const { store } = await countedStore();
    const limiter = new Limiter('t:', new Counter(store, silent), () => 7_000_000, 10);
    for (let i = 0; i < 25; i++) await limiter.take(`ip-${i}`, { max: 5, windowMs: MINUTE });
    assert.ok(limiter.size <= 10, `size ${limiter.size}`);
    await store.close();
  });

  it('fails open when the counter store fails: admits, asks the store again only after FAIL_OPEN_MS, and logs once', async () => {
    const { store, calls } = await countedStore();
    await store.close();
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const clock = { now: 9_000_000 };
    const limiter = new Limiter('t:', new Counter(store, log), () => clock.now);
    const rate = { max: 1, windowMs: MINUTE };
    for (let i = 0; i < 5; i++) assert.equal(await limiter.take(`k${i % 2}`, rate), true);
    assert.equal(calls(), 1);
    assert.equal(lines.filter((l) => l.includes('rate-limit store failed')).length, 1);
    clock.now += FAIL_OPEN_MS;
    assert.equal(await limiter.take('k0', rate), true);
    assert.equal(calls(), 2);
  });

  it('0 is no limit, and asks nothing of the store', async () => {
    const { store, calls } = await countedStore();
    const limiter = new Limiter('t:', new Counter(store, silent), () => 1);
    for (let i = 0; i < 100; i++) assert.equal(limiter.take('k', { max: 0, windowMs: MINUTE }), true);
    assert.equal(calls(), 0);
    await store.close();
  });
});

describe('addressKey', () => {
  it('IPv4 as it is, IPv4-mapped IPv6 as IPv4, IPv6 by its /64', () => {
    assert.equal(addressKey('203.0.113.9'), '203.0.113.9');
    assert.equal(addressKey('::ffff:203.0.113.9'), '203.0.113.9');
    assert.equal(addressKey('::FFFF:203.0.113.9'), '203.0.113.9');
    assert.equal(addressKey('2001:db8:1:2::1'), '2001:db8:1:2::/64');
    assert.equal(addressKey('2001:0db8:0001:0002:ffff:1:2:3'), '2001:db8:1:2::/64');
    assert.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(addressKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
    assert.equal(addressKey('::1'), '0:0:0:0::/64');
    assert.equal(addressKey(undefined), 'unknown');
  });
});
