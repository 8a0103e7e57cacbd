/**
 * The contract every rate-limit counter store passes (src/store/rate-limits.ts): a fixed-window counter that
 * grants up to `want`, never past `max`, atomically, shared by every instance on the same store.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import type { RateLimitStore } from '../../src/store/rate-limits.js';

const MINUTE = 60_000;
/** A window start well in the past of the test clocks, so each test's windows are its own. */
const T0 = Date.UTC(2026, 10, 24, 12, 0, 0);

/** `open` gives a fresh instance on the same backing store each time (the second one is "another process"). */
export function rateLimitContract(name: string, open: () => Promise<RateLimitStore>): void {
  describe(`rate-limit counter contract: ${name}`, { timeout: 60_000 }, () => {
    const opened: RateLimitStore[] = [];
    const store = async () => {
      const s = await open();
      opened.push(s);
      return s;
    };
    after(async () => {
      for (const s of opened) await s.close();
    });
    const key = () => `k:${randomUUID()}`;

    it('grants what is asked while there is room, and reports the count and the end of the window', async () => {
      const s = await store();
      const k = key();
      assert.deepEqual(await s.take(k, MINUTE, 3, 10, T0 + 5), { granted: 3, used: 3, resetAt: T0 + MINUTE });
      assert.deepEqual(await s.take(k, MINUTE, 1, 10, T0 + 59_999), { granted: 1, used: 4, resetAt: T0 + MINUTE });
    });

    it('never grants past max: the rest of the room, then nothing', async () => {
      const s = await store();
      const k = key();
      assert.deepEqual(await s.take(k, MINUTE, 7, 10, T0), { granted: 7, used: 7, resetAt: T0 + MINUTE });
      assert.deepEqual(await s.take(k, MINUTE, 7, 10, T0), { granted: 3, used: 10, resetAt: T0 + MINUTE });
      assert.deepEqual(await s.take(k, MINUTE, 1, 10, T0), { granted: 0, used: 10, resetAt: T0 + MINUTE });
      // a first take bigger than max gets max
      assert.deepEqual(await s.take(key(), MINUTE, 50, 20, T0), { granted: 20, used: 20, resetAt: T0 + MINUTE });
    });

    it('a lowered max grants nothing more and never lowers the count', async () => {
      const s = await store();
      const k = key();
      await s.take(k, MINUTE, 8, 10, T0);
      assert.deepEqual(await s.take(k, MINUTE, 1, 5, T0), { granted: 0, used: 8, resetAt: T0 + MINUTE });
    });

    it('each window counts from 0, aligned to the epoch; keys are counted apart', async () => {
      const s = await store();
      const k = key();
      const other = key();
      await s.take(k, MINUTE, 10, 10, T0 + 30_000);
      assert.equal((await s.take(k, MINUTE, 1, 10, T0 + 59_999)).granted, 0);
      assert.deepEqual(await s.take(k, MINUTE, 2, 10, T0 + MINUTE), { granted: 2, used: 2, resetAt: T0 + 2 * MINUTE });
      assert.deepEqual(await s.take(other, MINUTE, 1, 10, T0 + 30_000), { granted: 1, used: 1, resetAt: T0 + MINUTE });
      // a 10-second window
      assert.deepEqual(await s.take(key(), 10_000, 1, 10, T0 + 12_345), { granted: 1, used: 1, resetAt: T0 + 20_000 });
    });

    it('keys with any characters (a user id with braces, colons, spaces, non-ASCII) are counted apart', async () => {
      const s = await store();
      const base = `user:${randomUUID()}:`;
      const odd = [`${base}{x}`, `${base}{x`, `${base}x}`, `${base} x`, `${base}ü€`, `${base}`];
      for (const k of odd) assert.equal((await s.take(k, MINUTE, 1, 1, T0)).granted, 1, k);
      for (const k of odd) assert.equal((await s.take(k, MINUTE, 1, 1, T0)).granted, 0, k);
    });

    it('concurrent takes from two instances never grant more than max in total', async () => {
      const a = await store();
      const b = await store();
      const k = key();
      const max = 37;
      const takes = Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? a : b).take(k, MINUTE, 1 + (i % 3), max, T0 + i));
      const results = await Promise.all(takes);
      const granted = results.reduce((n, r) => n + r.granted, 0);
      assert.equal(granted, max);
      assert.equal(Math.max(...results.map((r) => r.used)), max);
      for (const r of results) assert.ok(r.granted >= 0 && r.used <= max, JSON.stringify(r));
      assert.deepEqual(await b.take(k, MINUTE, 1, max, T0), { granted: 0, used: max, resetAt: T0 + MINUTE });
    });

    it('close() can be called twice', async () => {
      const s = await open();
      await s.take(key(), MINUTE, 1, 1, T0);
      await s.close();
      await s.close();
    });
  });
}
